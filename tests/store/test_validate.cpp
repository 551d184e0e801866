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
  p.save_clips(
      {{"c1", "v1", 0, 50, "a", ""}, {"c2", "v7", 5, 6, "a", ""}, {"c3", "v1", 5, 5, "a", ""}});
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

namespace {

// Replaces field `field` of record `index` in a list file with raw JSON text.
void damage(const fs::path& file, const char* key, std::size_t index, const std::string& field,
            const std::string& value) {
  auto j = read_json_file(file);
  j[key][index][field] = nlohmann::json::parse(value);
  write_json_atomic(file, j);
}

}  // namespace

TEST_CASE("validate names frame images no record names, but not a write in progress") {
  ScratchDir tmp("validate-orphans");
  Project p = make_clean(tmp / "p");
  write_png_atomic(p.frame_path("v1_000042"), cv::Mat(24, 32, CV_8UC3, cv::Scalar(1, 2, 3)));
  atomic_write(tmp / "p" / "frames" / "v1_000001.png.tmp-77", "partial");
  auto ps = validate_project(p.root());
  INFO(dump(ps));
  CHECK(has_problem(ps, "frames/v1_000042.png", "orphan: no record in frames.json"));
  CHECK_FALSE(has_problem(ps, ".tmp-77", ""));
  CHECK(ps.size() == 1);
}

TEST_CASE("validate names a clip chosen by someone who is no user") {
  ScratchDir tmp("validate-clip-by");
  Project p = make_clean(tmp / "p");
  p.save_clips({{"c1", "v1", 0, 50, "a", ""},
                {"c2", "v1", 50, 60, "zed", ""},
                {"c3", "v1", 60, 70, "system", ""},  // the command line's default actor
                {"c4", "v1", 70, 80, "", ""}});
  auto ps = validate_project(p.root());
  INFO(dump(ps));
  CHECK(has_problem(ps, "clips.json", "clip 'c2' was chosen by 'zed', who is no user"));
  CHECK(has_problem(ps, "clips.json", "clip 'c4' does not say who chose it"));
  CHECK(ps.size() == 2);
}

TEST_CASE("validate reports every impossible video number, each naming its video") {
  ScratchDir tmp("validate-video-numbers");
  Project p = make_clean(tmp / "p");
  Video v = p.load_videos().at(0);
  std::vector<Video> videos;
  for (const char* id : {"v2", "v3", "v4", "v5", "v6", "v7"}) {
    Video w = v;
    w.id = id;
    videos.push_back(w);
  }
  videos.push_back(v);
  p.save_videos(videos);
  const fs::path file = tmp / "p" / "videos.json";
  damage(file, "videos", 0, "frames", "-1");
  damage(file, "videos", 1, "fps", "0");
  damage(file, "videos", 2, "fps", "null");  // what a NaN is written as
  damage(file, "videos", 3, "width", "1e9");
  damage(file, "videos", 4, "height", "0");
  damage(file, "videos", 5, "fps", "1e300");
  auto ps = validate_project(p.root());
  INFO(dump(ps));
  CHECK(has_problem(ps, "videos.json", "video 'v2': field 'frames' is -1"));
  CHECK(has_problem(ps, "videos.json", "video 'v3': field 'fps' is 0"));
  CHECK(has_problem(ps, "videos.json", "video 'v4': field 'fps' is not a number"));
  CHECK(has_problem(ps, "videos.json", "video 'v5': field 'width' is 1000000000"));
  CHECK(has_problem(ps, "videos.json", "video 'v6': field 'height' is 0"));
  CHECK(has_problem(ps, "videos.json", "video 'v7': field 'fps'"));
  // The sound video still loaded: its clip and frames raise nothing.
  CHECK(ps.size() == 6);
}

TEST_CASE("validate reports clip ranges the video cannot hold and frames outside their clip") {
  ScratchDir tmp("validate-clip-ranges");
  Project p = make_clean(tmp / "p");
  p.save_clips({{"c1", "v1", 0, 50, "a", ""},
                {"c2", "v1", 90, 150, "a", ""},
                {"c3", "v1", 60, 70, "a", ""},
                {"c4", "v1", 70, 80, "a", ""},
                {"c5", "v1", 80, 85, "a", ""},
                {"c6", "v1", 85, 90, "a", ""}});
  const fs::path clips = tmp / "p" / "clips.json";
  damage(clips, "clips", 2, "start", "-5");
  damage(clips, "clips", 3, "end", "70");
  damage(clips, "clips", 4, "end", "9223372036854775807");
  damage(clips, "clips", 5, "start", "1e30");
  damage(tmp / "p" / "frames.json", "frames", 1, "source_index", "60");
  auto ps = validate_project(p.root());
  INFO(dump(ps));
  CHECK(has_problem(ps, "clips.json", "clip 'c2' ends at frame 150, past the end of video 'v1'"));
  CHECK(has_problem(ps, "clips.json", "clip 'c3': field 'start' is -5"));
  CHECK(has_problem(ps, "clips.json", "clip 'c4': empty or negative frame range"));
  CHECK(has_problem(ps, "clips.json", "clip 'c5': field 'end' is 9223372036854775807"));
  CHECK(has_problem(ps, "clips.json", "clip 'c6': field 'start' is 1e+30"));
  CHECK(has_problem(ps, "frames.json",
                    "frame 'v1_000001' has source index 60, outside its clip 'c1' [0, 50)"));
  CHECK(ps.size() == 6);
}

TEST_CASE("validate checks final masks for classes outside the schema and for size") {
  ScratchDir tmp("validate-final-masks");
  Project p = make_clean(tmp / "p");
  for (const char* id : {"v1_000000", "v1_000001"}) {
    p.save_final({id, 0, "agreed", "x", "", {"a", "b"}, -1});
    write_png_atomic(p.final_mask_path(id), cv::Mat(24, 32, CV_8U, cv::Scalar(1)));
  }
  cv::Mat bad(24, 32, CV_8U, cv::Scalar(1));
  bad(cv::Rect(0, 0, 4, 2)).setTo(200);
  bad.at<std::uint8_t>(5, 5) = 255;  // the ignore index is no error
  write_png_atomic(p.final_mask_path("v1_000000"), bad);
  write_png_atomic(p.final_mask_path("v1_000001"), cv::Mat(32, 32, CV_8U, cv::Scalar(1)));
  cv::Mat unlabeled(24, 32, CV_8U, cv::Scalar(255));
  write_png_atomic(p.label_mask_path("a", "v1_000001"), unlabeled);
  auto ps = validate_project(p.root());
  INFO(dump(ps));
  CHECK(has_problem(ps, "final/v1_000000.png", "8 pixels hold class id 200"));
  CHECK(has_problem(ps, "final/v1_000001.png", "mask is 32x32 but its frame is 32x24"));
  CHECK(ps.size() == 2);
}

TEST_CASE("validate reports a change a crash left half-landed, not one landing now") {
  ScratchDir tmp("validate-journal");
  make_clean(tmp / "p");
  atomic_write(tmp / "p" / "project.journal", std::string("{}"));
  auto ps = validate_project(tmp / "p");
  CHECK_MESSAGE(has_problem(ps, "project.journal", "interrupted"), dump(ps));
  atomic_write(tmp / "p" / "project.lock", std::string("{}"));  // a holder is landing it
  ps = validate_project(tmp / "p");
  CHECK_MESSAGE(ps.empty(), dump(ps));
}
