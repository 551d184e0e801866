#include "store/prelabel.h"

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/ids.h"
#include "store/change.h"
#include "store/project.h"

namespace excap {

using nlohmann::json;

const char* const kPrelabelsWarning =
    "Pre-labels weaken the independence that double-blind labeling exists for: annotators "
    "who start from the same model suggestion agree with each other partly because of the "
    "model, so their agreement no longer measures how reproducible the labels are. The "
    "agreement report therefore gives pre-labeled and from-scratch frames separately.";

bool set_prelabels(const fs::path& project_root, bool enable, const std::string& user) {
  require_safe_id(user, "user");
  const ProjectLock lock = ProjectLock::acquire(project_root, "prelabels");
  const Project p = Project::open(project_root);  // re-read under the lock
  const User* u = p.meta().find_user(user);
  if (!u) throw Error("prelabels", "no user '" + user + "' in this project");
  if (u->role != Role::Expert && u->role != Role::Admin)
    throw Error("prelabels", "user '" + user + "' is " + role_name(u->role) +
                                 "; only an expert or an admin may change this setting");
  if (p.meta().prelabels == enable) return false;
  ProjectMeta meta = p.meta();
  meta.prelabels = enable;
  Change change(lock, p, user, "prelabels");
  change.write_json(project_root / "project.json", document_of(meta));
  change.commit(json{{"enabled", enable}});
  return true;
}

double uncertainty_score(const Suggestion& s) { return 0.5 * (s.cd_entropy + s.pixel_entropy); }

json suggestion_json(const Suggestion& s) {
  return json{{"format", "excap-suggestion"},
              {"version", kFormatVersion},
              {"frame", s.frame},
              {"run", s.run},
              {"checkpoint", s.checkpoint},
              {"weights_sha256", s.weights_sha256},
              {"checkpoint_iter", s.checkpoint_iter},
              {"time", s.time},
              {"user", s.user},
              {"width", s.width},
              {"height", s.height},
              {"cd_probs", s.cd_probs},
              {"cd", s.cd},
              {"cd_entropy", s.cd_entropy},
              {"pixel_entropy", s.pixel_entropy},
              {"fov_pixels", s.fov_pixels},
              {"uncertainty", uncertainty_score(s)}};
}

Suggestion parse_suggestion(const json& j, const std::string& where) {
  Suggestion s;
  try {
    s.frame = j.at("frame").get<std::string>();
    s.run = j.at("run").get<std::string>();
    s.checkpoint = j.value("checkpoint", "");
    s.weights_sha256 = j.at("weights_sha256").get<std::string>();
    s.checkpoint_iter = j.value("checkpoint_iter", -1);
    s.time = j.value("time", "");
    s.user = j.value("user", "");
    s.width = j.at("width").get<int>();
    s.height = j.at("height").get<int>();
    s.cd_probs = j.at("cd_probs").get<std::vector<double>>();
    s.cd = j.at("cd").get<int>();
    s.cd_entropy = j.at("cd_entropy").get<double>();
    s.pixel_entropy = j.at("pixel_entropy").get<double>();
    s.fov_pixels = j.value("fov_pixels", 0LL);
  } catch (const json::exception& e) {
    throw Error(where, std::string("bad suggestion: ") + e.what());
  }
  require_safe_id(s.frame, "frame");
  if (s.width < 1 || s.height < 1 || s.width > kMaxFrameSide || s.height > kMaxFrameSide)
    throw Error(where, "suggestion size is out of range");
  if (!(s.cd_entropy >= 0 && s.cd_entropy <= 1 && s.pixel_entropy >= 0 && s.pixel_entropy <= 1))
    throw Error(where, "normalised entropies must lie in [0, 1]");
  return s;
}

fs::path suggestions_dir(const Project& p, const std::string& run) {
  return safe_child(p.root() / "suggestions", run, "", "run");
}
fs::path suggestion_json_path(const Project& p, const std::string& run, const std::string& frame) {
  return safe_child(suggestions_dir(p, run), frame, ".json", "frame");
}
fs::path suggestion_mask_path(const Project& p, const std::string& run, const std::string& frame) {
  return safe_child(suggestions_dir(p, run), frame, ".mask.png", "frame");
}
fs::path suggestion_confidence_path(const Project& p, const std::string& run,
                                    const std::string& frame) {
  return safe_child(suggestions_dir(p, run), frame, ".conf.png", "frame");
}

std::optional<Suggestion> load_suggestion(const Project& p, const std::string& run,
                                          const std::string& frame) {
  const fs::path path = suggestion_json_path(p, run, frame);
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  return parse_suggestion(read_versioned_json(path, "excap-suggestion"), path.string());
}

}  // namespace excap
