// GUI smoke tests: excap-studio renders a few frames under Xvfb (Mesa
// llvmpipe), saves the framebuffer and exits 0; the picture is not blank and
// shows the mask overlay colours of the project's schema. Skipped with a
// message when xvfb-run is missing.
#include <doctest/doctest.h>

#include <iostream>
#include <map>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "annotator/core/fov.h"
#include "annotator/core/session.h"
#include "annotator/core/tools.h"
#include "common/process.h"
#include "media/imageio.h"
#include "stage1/stage1.h"
#include "support/project_builder.h"
#include "test_support.h"

using namespace excap;
using namespace excap::annotator;

namespace {

bool have_xvfb() {
  if (excap::program_available("xvfb-run")) return true;
  std::cout << "[skip] xvfb-run is missing: the GUI smoke test needs it (apt-get install xvfb)\n";
  return false;
}

int run_studio(const std::vector<std::string>& args, std::string* out) {
  std::vector<std::string> argv = {"xvfb-run", "-a", "-s", "-screen 0 1280x800x24",
                                   test::built_binary("excap-studio")};
  argv.insert(argv.end(), args.begin(), args.end());
  const int rc = test::run_command(argv, out);
  if (rc != 0) {
    for (const auto& a : argv) std::cout << a << " ";
    std::cout << "\n" << *out << "\n";
  }
  return rc;
}

// Pixels within +-tol of the colour (RGB as in the schema; the image is BGR).
int count_colour(const cv::Mat& bgr, const std::array<std::uint8_t, 3>& rgb, int tol = 3) {
  cv::Mat in;
  cv::inRange(bgr, cv::Scalar(rgb[2] - tol, rgb[1] - tol, rgb[0] - tol),
              cv::Scalar(rgb[2] + tol, rgb[1] + tol, rgb[0] + tol), in);
  return cv::countNonZero(in);
}

void check_not_blank(const cv::Mat& shot) {
  REQUIRE(!shot.empty());
  CHECK(shot.cols == 1280);
  CHECK(shot.rows == 800);
  cv::Scalar mean, stddev;
  cv::meanStdDev(shot, mean, stddev);
  CHECK(stddev[0] + stddev[1] + stddev[2] > 20.0);
}

// Annotator a labels frame 0 with three classes; b labels it differently.
void label_frame(const fs::path& dir) {
  for (const std::string user : {"a", "b"}) {
    Session s = Session::open(dir, user);
    auto doc = s.open_frame("v1_00000");
    doc->apply("fill", [](cv::Mat& m) { return fill_unlabeled(m, 1); });
    doc->apply("lesion", [&](cv::Mat& m) {
      return paint_segment(m, {60, 70}, {110, 80}, user == "a" ? 14 : 9, 3);
    });
    doc->apply("hole", [](cv::Mat& m) { return paint_segment(m, {120, 120}, {120, 120}, 20, 4); });
    doc->set_cd(user == "a" ? 0 : 1);
    s.save(*doc, 5.0);
  }
}

}  // namespace

TEST_CASE(
    "studio smoke: Label workspace screenshot shows the frame and the schema's mask colours") {
  if (!have_xvfb()) return;
  test::ScratchDir dir("studio-smoke-label");
  Project p = test::make_studio_project(dir / "proj", 3, 192);
  label_frame(dir / "proj");
  const fs::path shot = dir / "label.png";
  std::string out;
  REQUIRE(run_studio(
              {(dir / "proj").string(), "--user", "a", "--frame", "v1_00000", "--overlay-opacity",
               "1", "--settings", (dir / "settings.json").string(), "--screenshot", shot.string()},
              &out) == 0);
  const cv::Mat img = cv::imread(shot.string());
  check_not_blank(img);
  const auto& schema = p.meta().schema;
  CHECK(count_colour(img, schema.tissue[3].color) > 200);  // lesion
  CHECK(count_colour(img, schema.tissue[4].color) > 200);  // hole
  CHECK(count_colour(img, schema.tissue[1].color) > 200);  // clear tissue
}

TEST_CASE("studio smoke: Adjudicate workspace for the expert, refused for an annotator") {
  if (!have_xvfb()) return;
  test::ScratchDir dir("studio-smoke-adj");
  Project p = test::make_studio_project(dir / "proj", 2, 192);
  label_frame(dir / "proj");
  std::string out;
  const fs::path shot = dir / "adj.png";
  REQUIRE(run_studio({(dir / "proj").string(), "--user", "expert", "--workspace", "adjudicate",
                      "--overlay-opacity", "1", "--settings", (dir / "s.json").string(),
                      "--screenshot", shot.string()},
                     &out) == 0);
  const cv::Mat img = cv::imread(shot.string());
  check_not_blank(img);
  CHECK(count_colour(img, p.meta().schema.tissue[3].color) > 100);  // both annotators' lesions
  // An annotator gets the workspace's refusal, not the other's labels.
  const fs::path shot2 = dir / "adj-a.png";
  REQUIRE(run_studio({(dir / "proj").string(), "--user", "a", "--workspace", "adjudicate",
                      "--settings", (dir / "s.json").string(), "--screenshot", shot2.string()},
                     &out) == 0);
  const cv::Mat img2 = cv::imread(shot2.string());
  REQUIRE(!img2.empty());
  CHECK(count_colour(img2, p.meta().schema.tissue[3].color) == 0);
}

TEST_CASE("studio smoke: Clips workspace plays an imported video with its clip on the timeline") {
  if (!have_xvfb()) return;
  test::ScratchDir dir("studio-smoke-clips");
  Project p = test::make_studio_project(dir / "proj", 1, 96);
  const fs::path video = dir / "capsule.avi";
  {
    cv::VideoWriter w(video.string(), cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 10.0,
                      cv::Size(160, 160));
    REQUIRE(w.isOpened());
    for (int i = 0; i < 40; ++i) w.write(test::capsule_frame(160, i));
  }
  const Video v = import_video(p, video, "Test Patient", "a");
  add_clip(p, v.id, 5, 20, "a", "lesion here");
  std::string out;
  const fs::path shot = dir / "clips.png";
  REQUIRE(run_studio({(dir / "proj").string(), "--user", "expert", "--workspace", "clips",
                      "--settings", (dir / "s.json").string(), "--screenshot", shot.string()},
                     &out) == 0);
  const cv::Mat img = cv::imread(shot.string());
  check_not_blank(img);
  // The clip bar on the timeline (drawn in its blue).
  CHECK(count_colour(img, {70, 130, 200}, 30) + count_colour(img, {90, 170, 255}, 30) > 50);
}

TEST_CASE("studio: an annotator may not open the Clips workspace (raw video)") {
  if (!have_xvfb()) return;
  test::ScratchDir dir("studio-smoke-clips-role");
  test::make_studio_project(dir / "proj", 1, 96);
  std::string out;
  const fs::path shot = dir / "clips.png";
  CHECK(run_studio({(dir / "proj").string(), "--user", "a", "--workspace", "clips", "--settings",
                    (dir / "s.json").string(), "--screenshot", shot.string()},
                   &out) != 0);
  CHECK(out.find("user 'a' is an annotator: only experts, engineers and admins choose clips") !=
        std::string::npos);
  CHECK_FALSE(fs::exists(shot));
}

TEST_CASE("studio: opening, browsing and closing writes nothing to the project") {
  if (!have_xvfb()) return;
  test::ScratchDir dir("studio-smoke-readonly");
  Project p = test::make_studio_project(dir / "proj", 4, 96);
  label_frame(dir / "proj");  // a and b labeled v1_00000: a queue for the expert
  // An imported mask of a reaching past the field of view, with a CD.
  const cv::Mat image = read_frame(p.frame_path("v1_00001"));
  REQUIRE(cv::countNonZero(frame_fov_mask(image) == 0) > 0);
  write_png_atomic(p.label_mask_path("a", "v1_00001"), cv::Mat(image.size(), CV_8UC1, 1));
  LabelRecord rec;
  rec.frame = "v1_00001";
  rec.user = "a";
  rec.cd = 1;
  p.save_label(rec);
  atomic_write(p.label_mask_path("a", "x").parent_path() / "v1_00002.png.tmp-1-abc", "partial");
  const auto before = test::tree_snapshot(dir / "proj");
  const std::string proj = (dir / "proj").string(), settings = (dir / "s.json").string();
  std::string out;
  CHECK(run_studio({proj, "--user", "a", "--frame", "v1_00001", "--browse", "6", "--settings",
                    settings, "--screenshot", (dir / "a.png").string()},
                   &out) == 0);
  CHECK(run_studio({proj, "--user", "expert", "--workspace", "adjudicate", "--browse", "2",
                    "--settings", settings, "--screenshot", (dir / "e.png").string()},
                   &out) == 0);
  CHECK(run_studio({proj, "--user", "expert", "--workspace", "clips", "--settings", settings,
                    "--screenshot", (dir / "c.png").string()},
                   &out) == 0);
  CHECK(test::tree_snapshot(dir / "proj") == before);
}

TEST_CASE("studio: --help, --version and a bad argument") {
  std::string out;
  CHECK(test::run_command({test::built_binary("excap-studio"), "--version"}, &out) == 0);
  CHECK(out.find("excap-studio") != std::string::npos);
  CHECK(test::run_command({test::built_binary("excap-studio"), "--help"}, &out) == 0);
  CHECK(out.find("--screenshot") != std::string::npos);
  CHECK(test::run_command({test::built_binary("excap-studio"), "/nonexistent", "--user", "a",
                           "--workspace", "nope"},
                          &out) != 0);
}

TEST_CASE("studio --bench: times frames, strokes and autosave without touching the project") {
  if (!have_xvfb()) return;
  test::ScratchDir dir("studio-smoke-bench");
  test::make_studio_project(dir / "proj", 2, 96);
  std::string out;
  REQUIRE(run_studio({(dir / "proj").string(), "--user", "a", "--bench", "--bench-frames", "10",
                      "--settings", (dir / "s.json").string()},
                     &out) == 0);
  CHECK(out.find("frame time, idle       (10 frames)") != std::string::npos);
  CHECK(out.find("frame time, after stroke (60 frames)") != std::string::npos);
  CHECK(out.find("mask update per stroke (12 moves, 60 strokes)") != std::string::npos);
  CHECK(out.find("autosave per stroke end") != std::string::npos);
  // The strokes and saves went to a scratch copy: no label was written.
  CHECK_FALSE(fs::exists(dir / "proj" / "labels" / "a" / "v1_00000.json"));
  // Without a frame to label, the bench says so and fails.
  test::make_studio_project(dir / "empty", 0, 96);
  CHECK(run_studio({(dir / "empty").string(), "--user", "a", "--bench", "--settings",
                    (dir / "s.json").string()},
                   &out) != 0);
  CHECK(out.find("no frame open") != std::string::npos);
}

TEST_CASE("studio --make-bench-project: a project of any size for --bench, in every workspace") {
  test::ScratchDir dir("studio-smoke-bench-project");
  const fs::path proj = dir / "proj";
  std::string out;
  REQUIRE(test::run_command(
              {test::built_binary("excap-studio"), proj.string(), "--make-bench-project", "30"},
              &out) == 0);
  const Project p = Project::open(proj);
  CHECK(p.load_frames().size() == 30);
  CHECK(p.load_assignments().size() == 30);
  // Every 10th frame done by a and b, every 10th + 1 in progress for a.
  const Session a = Session::open(proj, "a");
  CHECK(a.progress().total == 30);
  CHECK(a.progress().done == 3);
  CHECK(a.progress().in_progress == 3);
  CHECK(Session::open(proj, "b").progress().done == 3);
  CHECK(read_frame(p.frame_path("v1_000029")).cols == 320);
  // Refused on a folder in use.
  CHECK(test::run_command(
            {test::built_binary("excap-studio"), proj.string(), "--make-bench-project", "5"},
            &out) != 0);
  CHECK(out.find("not empty") != std::string::npos);

  if (!have_xvfb()) return;
  REQUIRE(run_studio({proj.string(), "--user", "a", "--bench", "--bench-frames", "10", "--settings",
                      (dir / "s.json").string()},
                     &out) == 0);
  CHECK(out.find("UI-thread CPU: mean") != std::string::npos);
  // The expert's queue holds the frames both annotators finished.
  REQUIRE(run_studio({proj.string(), "--user", "expert", "--workspace", "adjudicate", "--bench",
                      "--bench-frames", "10", "--settings", (dir / "s.json").string()},
                     &out) == 0);
  CHECK(out.find("workspace adjudicate") != std::string::npos);
  CHECK(out.find("frame time, idle       (10 frames)") != std::string::npos);
  CHECK(out.find("mask update") == std::string::npos);  // strokes: Label only
}
