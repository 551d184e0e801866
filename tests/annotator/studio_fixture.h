// A tiny project for the studio tests: capsule-like frames (a lit disc on
// black), two annotators and an expert, every frame assigned to a and b.
#pragma once
#include <string>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "media/imageio.h"
#include "store/project.h"

namespace excap::test {

inline cv::Mat capsule_frame(int size, int seed) {
  cv::Mat img(size, size, CV_8UC3, cv::Scalar(0, 0, 0));
  cv::circle(img, {size / 2, size / 2}, size / 2 - 4, cv::Scalar(70, 90 + seed % 40, 170),
             cv::FILLED);
  cv::circle(img, {size / 2 + 10, size / 2 - 8}, size / 8, cv::Scalar(20, 25, 60), cv::FILLED);
  return img;
}

inline Project make_studio_project(const fs::path& dir, int frames, int size = 96,
                                   const std::vector<std::string>& annotators = {"a", "b"}) {
  std::vector<User> users;
  for (const auto& a : annotators)
    if (a != "expert") users.push_back({a, Role::Annotator});
  users.push_back({"expert", Role::Expert});
  Project p = Project::create(dir, cecd_schema(), users);
  std::vector<Frame> list;
  std::map<std::string, std::vector<std::string>> assign;
  for (int i = 0; i < frames; ++i) {
    Frame f;
    f.id = "v1_" + std::to_string(100000 + i).substr(1);
    f.clip = "c1";
    f.video = "v1";
    f.patient = "p-test";
    f.source_index = i;
    f.file = "frames/" + f.id + ".png";
    write_png_atomic(p.frame_path(f.id), capsule_frame(size, i));
    list.push_back(f);
    assign[f.id] = annotators;
  }
  p.save_frames(list);
  p.save_assignments(assign);
  return p;
}

}  // namespace excap::test
