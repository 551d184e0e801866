#include "store/validate.h"

#include "store/change.h"

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "common/error.h"
#include "common/ids.h"
#include "media/imageio.h"
#include "store/change.h"
#include "store/project.h"

namespace excap {

using nlohmann::json;

namespace {

// The actor command-line tools record when no user is named: not a person.
constexpr const char* kSystemActor = "system";

class Checker {
 public:
  explicit Checker(const fs::path& dir) : dir_(dir) {}

  std::vector<Problem> run() {
    std::optional<Project> project = open_project();
    if (!project) return problems_;
    const Project& p = *project;
    schema_ = p.meta().schema;
    for (const auto& u : p.meta().users) users_.insert(u.id);
    check_videos();
    check_clips();
    check_frames(p);
    check_assignments(p);
    check_labels(p);
    check_finals(p);
    check_splits(p);
    check_pending_change();
    return problems_;
  }

 private:
  // A journal with no lock beside it is a change a crash interrupted (with
  // the lock held, a change is landing right now and that is no problem).
  void check_pending_change() {
    std::error_code ec;
    if (fs::exists(journal_path(dir_), ec) && !fs::exists(lock_path(dir_), ec))
      add(journal_path(dir_),
          "a change was interrupted before it fully landed; the next command "
          "that changes the project (import, clips, extract, assign, "
          "adjudicate...) finishes it");
  }

  void add(const fs::path& f, const std::string& why) { problems_.push_back({f.string(), why}); }

  template <typename F>
  void guard(const fs::path& file, F&& f) {
    try {
      f();
    } catch (const Error& e) {
      add(e.where().empty() ? file : fs::path(e.where()), e.reason());
    } catch (const std::exception& e) {
      add(file, e.what());
    }
  }

  // Each record of a list file on its own, so one bad record does not hide
  // the others; `ids` gets every id named, parsed or not, so references to a
  // bad record are not reported twice. nullopt when the file itself is bad.
  template <typename T>
  std::optional<std::vector<T>> records(const char* name, const char* format, const char* key,
                                        const std::string& noun, std::set<std::string>& ids) {
    const fs::path file = dir_ / name;
    std::error_code ec;
    if (!fs::exists(file, ec)) return std::vector<T>{};
    json j;
    try {
      j = read_versioned_json(file, format);
    } catch (const Error& e) {
      add(file, e.reason());
      return std::nullopt;
    }
    if (!j.contains(key) || !j[key].is_array()) {
      add(file, std::string("no \"") + key + "\" list");
      return std::nullopt;
    }
    std::vector<T> out;
    for (std::size_t i = 0; i < j[key].size(); ++i) {
      const json& r = j[key][i];
      if (r.is_object() && r.contains("id") && r["id"].is_string() &&
          !ids.insert(r["id"].get<std::string>()).second)
        add(file, noun + " id '" + r["id"].get<std::string>() + "' twice");
      try {
        out.push_back(r.get<T>());
      } catch (const Error& e) {
        add(file, e.where().empty() ? e.reason() : e.where() + ": " + e.reason());
      } catch (const json::exception& e) {
        add(file, "entry " + std::to_string(i + 1) + ": " + e.what());
      }
    }
    return out;
  }

  void check_videos() {
    const fs::path file = dir_ / "videos.json";
    auto videos = records<Video>("videos.json", "excap-videos", "videos", "video", video_ids_);
    if (!videos) return;
    for (const auto& v : *videos) {
      videos_[v.id] = v;
      const std::string why = v.fov ? stored_fov_problem(*v.fov, v.width, v.height) : "";
      if (!why.empty()) add(file, "video '" + v.id + "': " + why);
    }
  }

  void check_clips() {
    const fs::path file = dir_ / "clips.json";
    auto clips = records<Clip>("clips.json", "excap-clips", "clips", "clip", clip_ids_);
    if (!clips) return;
    for (const auto& c : *clips) {
      clips_[c.id] = c;
      const std::string what = "clip '" + c.id + "'";
      if (!video_ids_.count(c.video))
        add(file, what + " refers to unknown video '" + c.video + "'");
      auto v = videos_.find(c.video);
      if (v != videos_.end() && c.end > v->second.frames)
        add(file, what + " ends at frame " + std::to_string(c.end) + ", past the end of video '" +
                      c.video + "' (" + std::to_string(v->second.frames) + " frames)");
      if (c.by.empty())
        add(file, what + " does not say who chose it (no \"by\")");
      else if (!users_.count(c.by) && c.by != kSystemActor)
        add(file, what + " was chosen by '" + c.by + "', who is no user of project.json");
    }
  }

  // Where a frame's source index must lie: its clip's range, else its video's.
  void check_source_index(const Frame& f) {
    const fs::path file = dir_ / "frames.json";
    const std::string idx = std::to_string(f.source_index);
    auto c = clips_.find(f.clip);
    if (c != clips_.end()) {
      if (f.source_index < c->second.start || f.source_index >= c->second.end)
        add(file, "frame '" + f.id + "' has source index " + idx + ", outside its clip '" + f.clip +
                      "' [" + std::to_string(c->second.start) + ", " +
                      std::to_string(c->second.end) + ")");
      return;
    }
    auto v = videos_.find(f.video);
    if (v != videos_.end() && f.source_index >= v->second.frames)
      add(file, "frame '" + f.id + "' has source index " + idx + ", past the end of video '" +
                    f.video + "' (" + std::to_string(v->second.frames) + " frames)");
  }

  void check_frames(const Project& p) {
    const fs::path file = dir_ / "frames.json";
    std::set<std::string> ids;
    auto frames = records<Frame>("frames.json", "excap-frames", "frames", "frame", ids);
    for (const auto& id : ids) frame_sizes_[id] = cv::Size();  // known, size unknown yet
    if (!frames) return;
    std::set<std::string> named;
    for (const auto& f : *frames) {
      named.insert(f.file);
      if (!f.clip.empty() && !clip_ids_.count(f.clip))
        add(file, "frame '" + f.id + "' refers to unknown clip '" + f.clip + "'");
      if (!f.video.empty() && !video_ids_.count(f.video))
        add(file, "frame '" + f.id + "' refers to unknown video '" + f.video + "'");
      check_source_index(f);
      if (f.file != "frames/" + f.id + ".png")
        add(file,
            "frame '" + f.id + "' has file '" + f.file + "', expected 'frames/" + f.id + ".png'");
      read_frame_size(p.frame_path(f.id), f.id);
    }
    check_orphans(named);
  }

  void read_frame_size(const fs::path& img, const std::string& id) {
    std::error_code ec;
    if (!fs::exists(img, ec)) {
      add(img, "frame image missing");
      return;
    }
    try {
      frame_sizes_[id] = read_frame(img).size();
    } catch (const Error& e) {
      add(img, e.reason());
    }
  }

  // Files in frames/ that no record names: left by a lost write, or planted.
  void check_orphans(const std::set<std::string>& named) {
    const fs::path dir = dir_ / "frames";
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      const std::string name = e.path().filename().string();
      if (name.find(".tmp-") != std::string::npos) continue;  // a write in progress or a crash
      if (!named.count("frames/" + name))
        add(e.path(), "orphan: no record in frames.json names this file");
    }
  }

  void check_assignments(const Project& p) {
    guard(dir_ / "assignments.json", [&] {
      for (const auto& [frame, who] : p.load_assignments()) {
        if (!frame_sizes_.count(frame))
          add(dir_ / "assignments.json", "assignment for unknown frame '" + frame + "'");
        for (const auto& u : who)
          if (!users_.count(u))
            add(dir_ / "assignments.json",
                "frame '" + frame + "' assigned to unknown user '" + u + "'");
      }
    });
  }

  std::optional<Project> open_project() {
    const fs::path pj = dir_ / "project.json";
    std::error_code ec;
    if (!fs::is_directory(dir_, ec)) {
      add(dir_, "not a folder");
      return std::nullopt;
    }
    json j;
    try {
      j = read_versioned_json(pj, "excap-project");
    } catch (const Error& e) {
      add(pj, e.reason());
      return std::nullopt;
    }
    // Users without a role are listed here, then left out so the rest can be checked.
    if (j.contains("users") && j["users"].is_array()) {
      json kept = json::array();
      for (const auto& u : j["users"]) {
        const std::string id = u.value("id", std::string("?"));
        if (!u.contains("role") || !u["role"].is_string() || u["role"].get<std::string>().empty()) {
          add(pj, "user '" + id + "' has no role");
          continue;
        }
        kept.push_back(u);
      }
      j["users"] = kept;
    }
    try {
      return Project::with_meta(dir_, parse_project_meta(j, pj));
    } catch (const Error& e) {
      add(pj, e.reason());
      return std::nullopt;
    }
  }

  void check_mask(const fs::path& mask_path, const std::string& frame) {
    cv::Mat mask;
    try {
      mask = read_mask(mask_path);
    } catch (const Error& e) {
      add(mask_path, e.reason());
      return;
    }
    auto it = frame_sizes_.find(frame);
    if (it != frame_sizes_.end() && !it->second.empty() && mask.size() != it->second)
      add(mask_path, "mask is " + std::to_string(mask.cols) + "x" + std::to_string(mask.rows) +
                         " but its frame is " + std::to_string(it->second.width) + "x" +
                         std::to_string(it->second.height));
    MaskCheck mc = check_mask_values(mask, schema_.num_tissue(), schema_.ignore_index);
    if (mc.bad_pixels > 0)
      add(mask_path, std::to_string(mc.bad_pixels) + " pixels hold class id " +
                         std::to_string(mc.first_bad_value) +
                         (mc.bad_pixels > 1 ? " (first)" : "") + ", outside the schema (0-" +
                         std::to_string(schema_.num_tissue() - 1) + ", " +
                         std::to_string(schema_.ignore_index) + " = unlabeled)");
  }

  void check_labels(const Project& p) {
    const fs::path labels = dir_ / "labels";
    std::error_code ec;
    if (!fs::is_directory(labels, ec)) return;
    for (const auto& ud : fs::directory_iterator(labels, ec)) {
      if (!ud.is_directory()) continue;
      const std::string user = ud.path().filename().string();
      if (!is_safe_id(user)) {
        add(ud.path(), "folder name is not a valid user id");
        continue;
      }
      if (!users_.count(user))
        add(ud.path(), "labels of user '" + user + "', who is not in project.json");
      for (const auto& e : fs::directory_iterator(ud.path(), ec)) {
        const fs::path f = e.path();
        const std::string stem = f.stem().string();
        const std::string ext = f.extension().string();
        if (f.filename().string().find(".tmp-") != std::string::npos) continue;  // crash leftover
        if (ext != ".json" && ext != ".png") {
          add(f, "unexpected file in a label folder");
          continue;
        }
        if (!frame_sizes_.count(stem)) {
          add(f, "label for unknown frame '" + stem + "'");
          continue;
        }
        if (ext == ".png") {
          check_mask(f, stem);
        } else {
          guard(f, [&] {
            auto r = p.load_label(user, stem);
            if (r && r->cd && !schema_.valid_cd(*r->cd))
              add(f, "clearness degree " + std::to_string(*r->cd) + " outside the schema (0-" +
                         std::to_string(schema_.num_cd() - 1) + ")");
            if (r && (r->frame != stem || r->user != user))
              add(f, "record says frame '" + r->frame + "' of user '" + r->user +
                         "' but sits at this path");
          });
        }
      }
    }
  }

  void check_finals(const Project& p) {
    const fs::path dir = dir_ / "final";
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      const fs::path f = e.path();
      const std::string stem = f.stem().string();
      const std::string ext = f.extension().string();
      if (f.filename().string().find(".tmp-") != std::string::npos) continue;
      if (ext != ".json" && ext != ".png") {
        add(f, "unexpected file in final/");
        continue;
      }
      if (!frame_sizes_.count(stem)) {
        add(f, "final label for unknown frame '" + stem + "'");
        continue;
      }
      if (ext == ".png") {
        check_mask(f, stem);
      } else {
        guard(f, [&] {
          auto r = p.load_final(stem);
          if (r && !schema_.valid_cd(r->cd))
            add(f, "clearness degree " + std::to_string(r->cd) + " outside the schema");
          std::error_code ec2;
          if (!fs::exists(p.final_mask_path(stem), ec2)) add(f, "final label has no mask PNG");
        });
      }
    }
  }

  void check_splits(const Project& p) {
    for (const auto& name : p.split_names()) {
      const fs::path f = p.split_path(name);
      guard(f, [&] {
        json j = read_versioned_json(f, "excap-split");
        if (!j.contains("subsets") || !j["subsets"].is_object()) {
          add(f, "no \"subsets\" object");
          return;
        }
        for (auto it = j["subsets"].begin(); it != j["subsets"].end(); ++it)
          for (const auto& id : it.value())
            if (!id.is_string() || !frame_sizes_.count(id.get<std::string>()))
              add(f, "subset '" + it.key() + "' lists unknown frame " + id.dump());
      });
    }
  }

  fs::path dir_;
  LabelSchema schema_;
  std::set<std::string> users_;
  std::set<std::string> video_ids_, clip_ids_;  // every id named, parsed or not
  std::map<std::string, Video> videos_;         // the records that parsed
  std::map<std::string, Clip> clips_;
  std::map<std::string, cv::Size> frame_sizes_;
  std::vector<Problem> problems_;
};

}  // namespace

std::vector<Problem> validate_project(const fs::path& dir) { return Checker(dir).run(); }

}  // namespace excap
