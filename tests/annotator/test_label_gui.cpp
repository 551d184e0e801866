// The Label and Adjudicate workspaces used as people use them (gui_harness.h):
// keys and pointer drags under Xvfb, then the files the studio saved are
// read back. Skipped with a message when xvfb-run or xdotool is missing.
#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "annotator/core/fov.h"
#include "common/process.h"
#include "gui_harness.h"
#include "media/imageio.h"
#include "store/prelabel.h"
#include "support/project_builder.h"

using namespace excap;
namespace gui = excap::test::gui;

namespace {

constexpr int kSize = 96;

nlohmann::json read_json(const fs::path& file) {
  std::ifstream in(file);
  INFO(file.string(), " is missing");
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}

cv::Mat read_saved(const fs::path& file) {
  INFO(file.string(), " is missing");
  REQUIRE(fs::exists(file));
  return read_mask(file);
}

// Pixels of the row `y` from x0 to x1 (inclusive) that hold `cls`.
int count_on_row(const cv::Mat& m, int y, int x0, int x1, int cls) {
  int n = 0;
  for (int x = x0; x <= x1; ++x) n += m.at<std::uint8_t>(y, x) == cls;
  return n;
}

bool same(const cv::Mat& a, const cv::Mat& b) {
  return a.size() == b.size() && cv::countNonZero(a != b) == 0;
}

// A suggestion of run r1 as `excap prelabel` writes it (docs/prelabels.md),
// without training a run; CD invisible.
Suggestion write_suggestion(const Project& p, const std::string& frame, const cv::Mat& mask) {
  Suggestion s;
  s.frame = frame, s.run = "r1", s.checkpoint = "best", s.weights_sha256 = std::string(64, 'a');
  s.time = "2026-01-01T00:00:00Z", s.user = "a";
  s.width = s.height = kSize;
  s.cd_probs = {0.2, 0.1, 0.7};
  s.cd = 2;
  s.cd_entropy = s.pixel_entropy = 0.4;
  ensure_dir(suggestions_dir(p, "r1"));
  write_json_atomic(suggestion_json_path(p, "r1", frame), suggestion_json(s));
  write_png_atomic(suggestion_mask_path(p, "r1", frame), mask);
  write_png_atomic(suggestion_confidence_path(p, "r1", frame),
                   cv::Mat(kSize, kSize, CV_8UC1, cv::Scalar(200)));
  return s;
}

}  // namespace

TEST_CASE("studio Label: a stroke painted with a class, undone with Ctrl+Z, then CD by its key") {
  if (!gui::have_gui_tools("the Label GUI test")) return;
  test::ScratchDir dir("label-gui-stroke");
  test::make_studio_project(dir / "p", 2, kSize);
  auto args = gui::studio_args(dir, "a", "label");
  args.insert(args.end(), {"--frame", "v1_00000"});
  const std::string saved = "saved label v1_00000";
  // Lesion (key 4), a stroke across the middle row from a quarter to three
  // quarters of the width, a copy of the saved mask, undo, another copy, CD blur (W).
  std::string out;
  REQUIRE(gui::run_scenario(
              dir, args,
              {gui::wait("target canvas v1_00000 "), gui::key("4", "command class.3"),
               gui::drag("canvas v1_00000", 0.25, 0.5, 0.75, 0.5, saved),
               gui::shell("cp p/labels/a/v1_00000.png stroke.png"), gui::key("ctrl+z", saved),
               gui::shell("cp p/labels/a/v1_00000.png undone.png"), gui::key("w", saved)},
              &out) == 0);
  const int row = kSize / 2, x0 = kSize / 4 + 2, x1 = kSize * 3 / 4 - 2;
  const cv::Mat stroke = read_saved(dir / "stroke.png");
  CHECK(count_on_row(stroke, row, x0, x1, 3) == x1 - x0 + 1);  // lesion along the stroke
  CHECK(stroke.at<std::uint8_t>(4, kSize / 2) != 3);           // and not far from it
  const cv::Mat undone = read_saved(dir / "undone.png");
  CHECK(cv::countNonZero(undone == 3) == 0);
  CHECK(count_on_row(undone, row, x0, x1, 255) == x1 - x0 + 1);  // unlabeled again
  const nlohmann::json label = read_json(dir / "p" / "labels" / "a" / "v1_00000.json");
  CHECK(label.at("cd") == 1);  // blur
  CHECK_FALSE(label.contains("from_suggestion"));
  CHECK(same(read_saved(dir / "p" / "labels" / "a" / "v1_00000.png"), undone));
}

TEST_CASE("studio Label: Accept whole saves the suggestion as the mask and records its origin") {
  if (!gui::have_gui_tools("the Label GUI test")) return;
  test::ScratchDir dir("label-gui-suggestion");
  Project p = test::make_studio_project(dir / "p", 2, kSize);
  set_prelabels(p.root(), true, "expert");
  p = Project::open(p.root());
  const std::string frame = "v1_00001";
  const cv::Mat suggested = test::planted_mask(kSize, 3);
  const Suggestion s = write_suggestion(p, frame, suggested);

  auto args = gui::studio_args(dir, "a", "label");
  args.insert(args.end(), {"--frame", frame});
  std::string out;
  REQUIRE(gui::run_scenario(dir, args,
                            {gui::wait("target canvas " + frame + " "),
                             gui::click("suggestion-whole", "saved label " + frame)},
                            &out) == 0);
  // Inside the field of view the suggestion; outside it the background the studio starts with.
  const cv::Mat fov = annotator::frame_fov_mask(read_frame(p.frame_path(frame)));
  cv::Mat expected(kSize, kSize, CV_8UC1, cv::Scalar(0));
  suggested.copyTo(expected, fov);
  CHECK(same(read_saved(dir / "p" / "labels" / "a" / (frame + ".png")), expected));
  const nlohmann::json label = read_json(dir / "p" / "labels" / "a" / (frame + ".json"));
  CHECK(label.at("cd") == 2);  // the suggested CD comes with the whole suggestion
  REQUIRE(label.contains("from_suggestion"));
  CHECK(label["from_suggestion"].at("run") == "r1");
  CHECK(label["from_suggestion"].at("checkpoint") == s.weights_sha256);
}

TEST_CASE("studio Adjudicate: regions picked by left and right click become the final label") {
  if (!gui::have_gui_tools("the Adjudicate GUI test")) return;
  test::ScratchDir dir("adjudicate-gui-regions");
  Project p = test::make_studio_project(dir / "p", 2, kSize);
  // The annotators agree (background outside the field of view, clear tissue
  // inside) but on two squares: 2 says clear bubble on the left one, hole on the right one.
  const cv::Rect left(20, 40, 14, 14), right(60, 40, 14, 14);
  cv::Mat a(kSize, kSize, CV_8UC1, cv::Scalar(0));
  a.setTo(1, annotator::frame_fov_mask(read_frame(p.frame_path("v1_00000"))));
  a(left).setTo(1);
  a(right).setTo(1);
  cv::Mat b = a.clone();
  b(left).setTo(7);
  b(right).setTo(4);
  test::add_label(p, "a", "v1_00000", 0, a);
  test::add_label(p, "b", "v1_00000", 0, b);
  const auto centre = [](const cv::Rect& r, int axis) {
    return (axis == 0 ? r.x + r.width / 2.0 : r.y + r.height / 2.0) / kSize;
  };
  const std::string draft = "saved draft v1_00000";
  std::string out;
  REQUIRE(
      gui::run_scenario(dir, gui::studio_args(dir, "expert", "adjudicate"),
                        {gui::click("final v1_00000", draft, centre(left, 0), centre(left, 1), 1),
                         gui::click("final v1_00000", draft, centre(right, 0), centre(right, 1), 3),
                         gui::key("ctrl+Return", "saved final v1_00000 merged")},
                        &out) == 0);
  cv::Mat expected = a.clone();
  b(right).copyTo(expected(right));
  CHECK(same(read_saved(dir / "p" / "final" / "v1_00000.png"), expected));
  const nlohmann::json final = read_json(dir / "p" / "final" / "v1_00000.json");
  CHECK(final.at("source") == "merged");
  CHECK(final.at("expert") == "expert");
  CHECK(final.at("cd") == 0);
}

TEST_CASE("studio Label: --show-suggestion opens the frame with the suggestion drawn over it") {
  if (!excap::program_available("xvfb-run")) return;
  test::ScratchDir dir("label-gui-show-suggestion");
  Project p = test::make_studio_project(dir / "p", 2, kSize);
  set_prelabels(p.root(), true, "expert");
  write_suggestion(p, "v1_00001", cv::Mat(kSize, kSize, CV_8UC1, cv::Scalar(3)));  // all lesion
  // The pixel a fifth below the canvas centre (clear of the frame's dark spot), with and without.
  auto shot = [&](bool show) {
    auto args = gui::studio_args(dir, "a", "label");
    const std::string png = (dir / (show ? "shown.png" : "own.png")).string();
    args.insert(args.begin(), {"xvfb-run", "-a", "-s", "-screen 0 1280x800x24",
                               test::built_binary("excap-studio")});
    args.insert(args.end(), {"--frame", "v1_00001", "--screenshot", png});
    if (show) args.push_back("--show-suggestion");
    std::string out;
    REQUIRE(test::run_command(args, &out) == 0);
    int x = 0, y = 0, w = 0, h = 0;
    for (const auto& l : gui::trace_lines(dir / "trace.txt"))
      if (std::sscanf(l.c_str(), "target canvas v1_00001 %d %d %d %d", &x, &y, &w, &h) == 4) break;
    REQUIRE(w > 0);
    const cv::Mat img = cv::imread(png);
    REQUIRE(!img.empty());
    return img.at<cv::Vec3b>(y + h * 7 / 10, x + w / 2);  // BGR
  };
  const cv::Vec3b own = shot(false), shown = shot(true);
  INFO("own ", int(own[2]), ",", int(own[1]), ",", int(own[0]), " shown ", int(shown[2]), ",",
       int(shown[1]), ",", int(shown[0]));
  CHECK(shown[2] > own[2] + 20);  // redder: the lesion colour (255, 40, 40) over the tissue
  CHECK(shown[1] + 20 < own[1]);
}
