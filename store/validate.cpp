#include "store/validate.h"

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "common/error.h"
#include "common/ids.h"
#include "media/imageio.h"
#include "store/project.h"

namespace excap {

using nlohmann::json;

namespace {

class Checker {
 public:
  explicit Checker(const fs::path& dir) : dir_(dir) {}

  std::vector<Problem> run() {
    std::optional<Project> project = open_project();
    if (!project) return problems_;
    const Project& p = *project;
    schema_ = p.meta().schema;
    for (const auto& u : p.meta().users) users_.insert(u.id);

    std::set<std::string> videos, clips;
    guard(dir_ / "videos.json", [&] {
      for (const auto& v : p.load_videos()) {
        if (!videos.insert(v.id).second) add(dir_ / "videos.json", "video id '" + v.id + "' twice");
        const std::string why = v.fov ? stored_fov_problem(*v.fov, v.width, v.height) : "";
        if (!why.empty()) add(dir_ / "videos.json", "video '" + v.id + "': " + why);
      }
    });
    guard(dir_ / "clips.json", [&] {
      for (const auto& c : p.load_clips()) {
        if (!clips.insert(c.id).second) add(dir_ / "clips.json", "clip id '" + c.id + "' twice");
        if (!videos.count(c.video))
          add(dir_ / "clips.json", "clip '" + c.id + "' refers to unknown video '" + c.video + "'");
        if (c.end <= c.start || c.start < 0)
          add(dir_ / "clips.json", "clip '" + c.id + "' has an empty or negative frame range");
      }
    });
    guard(dir_ / "frames.json", [&] {
      for (const auto& f : p.load_frames()) {
        if (frame_sizes_.count(f.id)) {
          add(dir_ / "frames.json", "frame id '" + f.id + "' twice");
          continue;
        }
        if (!f.clip.empty() && !clips.count(f.clip))
          add(dir_ / "frames.json", "frame '" + f.id + "' refers to unknown clip '" + f.clip + "'");
        if (!f.video.empty() && !videos.count(f.video))
          add(dir_ / "frames.json",
              "frame '" + f.id + "' refers to unknown video '" + f.video + "'");
        const fs::path img = p.frame_path(f.id);
        if (f.file != "frames/" + f.id + ".png")
          add(dir_ / "frames.json",
              "frame '" + f.id + "' has file '" + f.file + "', expected 'frames/" + f.id + ".png'");
        std::error_code ec;
        if (!fs::exists(img, ec)) {
          add(img, "frame image missing");
          frame_sizes_[f.id] = cv::Size();
          continue;
        }
        try {
          frame_sizes_[f.id] = read_frame(img).size();
        } catch (const Error& e) {
          add(img, e.reason());
          frame_sizes_[f.id] = cv::Size();
        }
      }
    });
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
    check_labels(p);
    check_finals(p);
    check_splits(p);
    return problems_;
  }

 private:
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
  std::map<std::string, cv::Size> frame_sizes_;
  std::vector<Problem> problems_;
};

}  // namespace

std::vector<Problem> validate_project(const fs::path& dir) { return Checker(dir).run(); }

}  // namespace excap
