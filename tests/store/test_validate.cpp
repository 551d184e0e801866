// `validate_project` finds every planted defect and passes a clean project.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include "media/imageio.h"
#include "store/project.h"
#include "store/validate.h"
#include "test_support.h"

using namespace excap;
using excap::test::ScratchDir;

namespace {

// A small clean project: one video, one clip, two 32x24 frames, labels by a.
Project make_clean(const fs::path& dir) {
  Project p = Project::create(
      dir, cecd_schema(), {{"a", Role::Annotator}, {"b", Role::Annotator}, {"x", Role::Expert}});
  p.save_videos(
      {{"v1", "p-1", "", 10, 100, 32, 24, "mp4v", 10, "", StoredFov{"circle", 16, 12, 11, {}}}});
  p.save_clips({{"c1", "v1", 0, 50, "a", ""}});
  std::vector<Frame> frames;
  for (int i = 0; i < 2; ++i) {
    const std::string id = "v1_00000" + std::to_string(i);
    frames.push_back({id, "c1", "v1", "p-1", i, i * 0.1, "frames/" + id + ".png", ""});
    cv::Mat img(24, 32, CV_8UC3, cv::Scalar(40, 80, 160 + i));
    write_png_atomic(p.frame_path(id), img);
    cv::Mat mask(24, 32, CV_8U, cv::Scalar(1));
    write_png_atomic(p.label_mask_path("a", id), mask);
    p.save_label({id, "a", 0, 3.0, "", ""});
  }
  p.save_frames(frames);
  p.save_assignments({{"v1_000000", {"a", "b"}}, {"v1_000001", {"a", "b"}}});
  return p;
}

bool has_problem(const std::vector<Problem>& ps, const std::string& file_part,
                 const std::string& reason_part) {
  for (const auto& p : ps)
    if (p.file.find(file_part) != std::string::npos &&
        p.reason.find(reason_part) != std::string::npos)
      return true;
  return false;
}

std::string dump(const std::vector<Problem>& ps) {
  std::string s;
  for (const auto& p : ps) s += p.file + ": " + p.reason + "\n";
  return s;
}

}  // namespace

TEST_CASE("a clean project validates with no problems") {
  ScratchDir tmp("validate-clean");
  make_clean(tmp / "p");
  auto ps = validate_project(tmp / "p");
  CHECK_MESSAGE(ps.empty(), dump(ps));
}

TEST_CASE("validate lists every planted defect") {
  ScratchDir tmp("validate-defects");
  Project p = make_clean(tmp / "p");
  // 1. a mask whose size differs from its frame
  write_png_atomic(p.label_mask_path("a", "v1_000000"), cv::Mat(10, 10, CV_8U, cv::Scalar(1)));
  // 2. a class id outside the schema
  cv::Mat bad(24, 32, CV_8U, cv::Scalar(1));
  bad.at<std::uint8_t>(3, 3) = 9;
  write_png_atomic(p.label_mask_path("a", "v1_000001"), bad);
  // 3. labels for an unknown frame
  p.save_label({"v9_000000", "a", 0, 0, "", ""});
  // 4. a missing frame image and an unreadable one
  std::vector<Frame> frames = p.load_frames();
  frames.push_back({"v1_000002", "c1", "v1", "p-1", 2, 0.2, "frames/v1_000002.png", ""});
  frames.push_back({"v1_000003", "c1", "v1", "p-1", 3, 0.3, "frames/v1_000003.png", ""});
  p.save_frames(frames);
  atomic_write(p.frame_path("v1_000003"), "this is not a png");
  // 5. a user without a role
  auto j = nlohmann::json::parse(read_file(p.root() / "project.json"));
  j["users"].push_back({{"id", "ghost"}});
  atomic_write(p.root() / "project.json", j.dump());
  // 6. a clearness degree outside the schema
  write_png_atomic(p.label_mask_path("b", "v1_000000"), cv::Mat(24, 32, CV_8U, cv::Scalar(2)));
  atomic_write(p.label_json_path("b", "v1_000000"),
               R"({"format":"excap-label","version":1,"frame":"v1_000000","user":"b","cd":7})");
  // 7. malformed JSON
  atomic_write(p.label_json_path("b", "v1_000001"), "{oops");

  auto ps = validate_project(p.root());
  INFO(dump(ps));
  CHECK(has_problem(ps, "labels/a/v1_000000.png", "but its frame is 32x24"));
  CHECK(has_problem(ps, "labels/a/v1_000001.png", "class id 9"));
  CHECK(has_problem(ps, "v9_000000.json", "unknown frame"));
  CHECK(has_problem(ps, "frames/v1_000002.png", "missing"));
  CHECK(has_problem(ps, "frames/v1_000003.png", "cannot decode"));
  CHECK(has_problem(ps, "project.json", "user 'ghost' has no role"));
  CHECK(has_problem(ps, "labels/b/v1_000000.json", "clearness degree 7"));
  CHECK(has_problem(ps, "labels/b/v1_000001.json", "malformed JSON"));
  CHECK(ps.size() == 8);
}

TEST_CASE("validate reports a broken project.json and stops there") {
  ScratchDir tmp("validate-broken");
  make_clean(tmp / "p");
  atomic_write(tmp / "p" / "project.json", "[]");
  auto ps = validate_project(tmp / "p");
  REQUIRE(ps.size() == 1);
  CHECK(ps[0].file.find("project.json") != std::string::npos);
}

TEST_CASE("assignments and clips that point nowhere are reported") {
  ScratchDir tmp("validate-refs");
  Project p = make_clean(tmp / "p");
  p.save_assignments({{"v1_000000", {"a", "zed"}}, {"nope", {"a"}}});
  p.save_clips({{"c1", "v1", 0, 50, "a", ""}, {"c2", "v7", 5, 5, "a", ""}});
  auto ps = validate_project(p.root());
  INFO(dump(ps));
  CHECK(has_problem(ps, "assignments.json", "unknown user 'zed'"));
  CHECK(has_problem(ps, "assignments.json", "unknown frame 'nope'"));
  CHECK(has_problem(ps, "clips.json", "unknown video 'v7'"));
  CHECK(has_problem(ps, "clips.json", "empty or negative"));
}

TEST_CASE("validate flags a stored field of view that cannot be used, naming the video") {
  ScratchDir tmp("validate-fov");
  Project p = make_clean(tmp / "p");
  Video v = p.load_videos().at(0);
  REQUIRE(v.fov);
  Video w = v;
  w.id = "v2";
  v.fov->r = 0;                                                       // radius <= 0
  w.fov = StoredFov{"polygon", 0, 0, 0, {{0, 0}, {40, 0}, {0, 24}}};  // past the 32-pixel width
  p.save_videos({v, w});
  auto ps = validate_project(tmp / "p");
  CHECK_MESSAGE(has_problem(ps, "videos.json", "video 'v1': field-of-view circle has radius"),
                dump(ps));
  CHECK_MESSAGE(
      has_problem(ps, "videos.json", "video 'v2': field-of-view polygon has a point outside"),
      dump(ps));

  // JSON has no NaN: a number written as null must be reported, not crash the load.
  auto j = read_json_file(tmp / "p" / "videos.json");
  j["videos"][1]["fov"] = {{"kind", "circle"}, {"cx", nullptr}, {"cy", 12}, {"r", 5}};
  j["videos"][0]["fov"] = {{"kind", "polygon"}, {"points", {{0, 0}, {1, 1}}}};
  write_json_atomic(tmp / "p" / "videos.json", j);
  ps = validate_project(tmp / "p");
  CHECK_MESSAGE(has_problem(ps, "videos.json",
                            "video 'v2': field-of-view circle has a number that is not finite"),
                dump(ps));
  CHECK_MESSAGE(
      has_problem(ps, "videos.json", "video 'v1': field-of-view polygon has fewer than 3"),
      dump(ps));
  // The clips of v1 are still checked: the file loaded.
  CHECK_FALSE(has_problem(ps, "clips.json", "unknown video"));
}
