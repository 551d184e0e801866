// A small project for the curation tests: users a, b, c (annotators) and
// "expert", frames with patient and clip, planted labels.
#pragma once
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <optional>
#include <string>
#include <vector>

#include "media/imageio.h"
#include "store/project.h"
#include "test_support.h"

namespace excap::test {

inline std::vector<User> curation_users() {
  return {{"a", Role::Annotator},
          {"b", Role::Annotator},
          {"c", Role::Annotator},
          {"expert", Role::Expert},
          {"eng", Role::Engineer}};
}

// A plausible CECD mask: background outside a circle, clear tissue inside,
// a lesion disc and a hole disc whose places depend on `variant`.
inline cv::Mat planted_mask(int size, int variant = 0) {
  cv::Mat m(size, size, CV_8UC1, cv::Scalar(cecd::kBackground));
  cv::circle(m, {size / 2, size / 2}, size / 2 - 1, cv::Scalar(cecd::kClearTissue), cv::FILLED);
  cv::circle(m, {size / 3 + variant % 3, size / 3}, size / 8, cv::Scalar(cecd::kLesion),
             cv::FILLED);
  cv::circle(m, {2 * size / 3, 2 * size / 3 - variant % 2}, size / 10, cv::Scalar(cecd::kHole),
             cv::FILLED);
  return m;
}

class CurationProject {
 public:
  explicit CurationProject(const std::string& name)
      : dir_(name), project_(Project::create(dir_.path() / "p", cecd_schema(), curation_users())) {}

  Project& project() { return project_; }
  const fs::path& root() const { return project_.root(); }

  // Frames f000.. with patient P<i % patients> and clip C<i % clips>, each a
  // size x size noise image.
  void add_frames(int n, int patients = 2, int clips = 4, int size = 32) {
    std::vector<Frame> frames = project_.load_frames();
    cv::RNG rng(12345);
    for (int i = 0; i < n; ++i) {
      Frame f;
      char id[32];
      std::snprintf(id, sizeof id, "f%03d", static_cast<int>(frames.size()));
      f.id = id;
      f.patient = "P" + std::to_string(i % patients);
      f.clip = "C" + std::to_string(i % clips);
      f.video = "V" + std::to_string(i % patients);
      f.file = "frames/" + f.id + ".png";
      cv::Mat img(size, size, CV_8UC3);
      rng.fill(img, cv::RNG::UNIFORM, 0, 255);
      write_png_atomic(project_.frame_path(f.id), img);
      frames.push_back(f);
    }
    project_.save_frames(frames);
  }

  void label(const std::string& user, const std::string& frame, std::optional<int> cd,
             const cv::Mat& mask) {
    LabelRecord r;
    r.frame = frame;
    r.user = user;
    r.cd = cd;
    r.created = r.updated = now_iso8601();
    ensure_dir(project_.label_mask_path(user, frame).parent_path());
    if (!mask.empty()) write_png_atomic(project_.label_mask_path(user, frame), mask);
    project_.save_label(r);
  }

  void assign_all(const std::vector<std::string>& users) {
    auto a = project_.load_assignments();
    for (const auto& f : project_.load_frames()) a[f.id] = users;
    project_.save_assignments(a);
  }

 private:
  ScratchDir dir_;
  Project project_;
};

// /usr/bin/python3 (or the one CMake found) when it imports sklearn; else "".
inline std::string sklearn_python() {
  std::string py = EXCAP_REFERENCE_PYTHON;
  if (py.empty()) py = "/usr/bin/python3";
  std::string out;
  if (run_command({py, "-c", "import sklearn"}, &out) != 0) {
    std::printf("[skip] %s cannot import sklearn (python3-sklearn): %s\n", py.c_str(), out.c_str());
    return "";
  }
  return py;
}

}  // namespace excap::test
