// The Results workspace used as people use it (gui_harness.h): real pointer
// input under Xvfb, the studio's --trace file to see where the click led.
// Skipped with a message when xvfb-run or xdotool is missing.
#include <doctest/doctest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>

#include "common/process.h"
#include "gui_harness.h"
#include "media/imageio.h"
#include "results_fixture.h"
#include "stage1/stage1.h"
#include "test_support.h"

using namespace excap;

namespace gui = excap::test::gui;

namespace {

bool have_gui_tools() { return gui::have_gui_tools("the Results GUI test"); }

std::vector<std::string> studio_args(const test::ScratchDir& dir, const std::string& user) {
  return gui::studio_args(dir, user, "results");
}

using gui::has_line;
using gui::trace_lines;

}  // namespace

TEST_CASE("studio Results: clicking a worst frame opens it in Label") {
  if (!have_gui_tools()) return;
  test::ScratchDir dir("results-gui-worst");
  test::make_results_project(dir / "p", 4, {"a", "b", "expert"});
  std::string out;
  REQUIRE(gui::run_scenario(dir, studio_args(dir, "expert"),
                            {gui::click("worst v1_00002", "open ")}, &out) == 0);
  const auto lines = trace_lines(dir / "trace.txt");
  REQUIRE(!lines.empty());
  CHECK(lines.front() == "workspace results");
  CHECK(has_line(lines, "open label v1_00002"));
  CHECK(has_line(lines, "workspace label"));
}

TEST_CASE("studio Results: a decided worst frame opens in Adjudicate for review and is revised") {
  if (!have_gui_tools()) return;
  test::ScratchDir dir("results-gui-review");
  Project p = test::make_results_project(dir / "p");  // every frame decided
  const cv::Mat a = test::planted_mask(96, 3), b = test::planted_mask(96, 4);
  test::add_label(p, "a", "v1_00002", 0, a);
  test::add_label(p, "b", "v1_00002", 1, b);
  const cv::Mat before = read_mask(p.final_mask_path("v1_00002"));
  std::string out;
  // The worst frame, then annotator 2's whole label (Ctrl+2) and Accept (Ctrl+Enter).
  REQUIRE(gui::run_scenario(dir, studio_args(dir, "expert"),
                            {gui::click("worst v1_00002", "open adjudicate v1_00002"),
                             gui::key("ctrl+2", "saved draft v1_00002"),
                             gui::key("ctrl+Return", "saved final v1_00002 B")},
                            &out) == 0);
  const auto lines = trace_lines(dir / "trace.txt");
  CHECK(has_line(lines, "workspace adjudicate"));
  // The review opened with the decided label, which the revision replaced on disk.
  CHECK(cv::countNonZero(before != b) > 0);
  const cv::Mat revised = read_mask(p.final_mask_path("v1_00002"));
  CHECK(cv::countNonZero(revised != b) == 0);
  std::ifstream in(dir / "p" / "final" / "v1_00002.json");
  const nlohmann::json final = nlohmann::json::parse(in);
  CHECK(final.at("source") == "B");
  CHECK(final.at("expert") == "expert");
  CHECK(final.at("cd") == 1);
}

TEST_CASE("studio Results: clicking the triage strip opens that moment in Clips") {
  if (!have_gui_tools()) return;
  test::ScratchDir dir("results-gui-triage");
  Project p = test::make_results_project(dir / "p");
  const fs::path video = dir / "capsule.avi";
  {
    cv::VideoWriter w(video.string(), cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 10.0,
                      cv::Size(96, 96));
    REQUIRE(w.isOpened());
    for (int i = 0; i < 60; ++i) w.write(test::capsule_frame(96, i));
  }
  const Video v = import_video(p, video, "Test Patient", "expert");
  test::write_triage_files(
      dir / "p" / "triage", video,
      (p.run_dir("tiny") / "checkpoints" / "iter_000040" / "weights.safetensors").string());
  std::string out;
  // The video's entry in the list selects the Triage tab, then the strip's middle.
  REQUIRE(gui::run_scenario(dir, studio_args(dir, "expert"),
                            {gui::click("triage triage", "target strip triage"),
                             gui::click("strip triage", "seek clips ")},
                            &out) == 0);
  const auto lines = trace_lines(dir / "trace.txt");
  CHECK(has_line(lines, "seek clips " + v.id + " "));
  CHECK(has_line(lines, "workspace clips"));
}

TEST_CASE("studio Results: a run added on disk appears without a click") {
  if (!have_gui_tools()) return;
  test::ScratchDir dir("results-gui-reload");
  test::make_results_project(dir / "p");
  const fs::path runs = dir / "p" / "runs";
  std::string out;
  // The first run listed, then another run copied in while the studio runs.
  REQUIRE(gui::run_scenario(dir, studio_args(dir, "expert"),
                            {gui::wait("target run tiny "),
                             gui::shell("cp -r '" + (runs / "tiny").string() + "' '" +
                                            (runs / "tiny2").string() + "'",
                                        "target run tiny2 ")},
                            &out) == 0);
  const auto lines = trace_lines(dir / "trace.txt");
  CHECK(has_line(lines, "target run tiny2 "));
}

TEST_CASE("studio Results: refused for an annotator, drawn for the expert") {
  if (!excap::program_available("xvfb-run")) return;
  test::ScratchDir dir("results-gui-roles");
  test::make_results_project(dir / "p");
  std::string out;
  const std::vector<std::string> base = {"xvfb-run",
                                         "-a",
                                         "-s",
                                         "-screen 0 1280x800x24",
                                         test::built_binary("excap-studio"),
                                         (dir / "p").string(),
                                         "--workspace",
                                         "results",
                                         "--settings",
                                         (dir / "s.json").string(),
                                         "--user"};
  auto args = base;
  args.insert(args.end(), {"a", "--screenshot", (dir / "a.png").string()});
  CHECK(test::run_command(args, &out) != 0);
  CHECK(out.find("user 'a' is an annotator: results show the final labels") != std::string::npos);
  args = base;
  args.insert(args.end(), {"expert", "--screenshot", (dir / "e.png").string()});
  REQUIRE(test::run_command(args, &out) == 0);
  const cv::Mat shot = cv::imread((dir / "e.png").string());
  REQUIRE(!shot.empty());
  CHECK(shot.cols == 1280);
}

TEST_CASE("studio Results: --frame NAME opens a triaged video's tab once read") {
  if (!excap::program_available("xvfb-run")) return;
  test::ScratchDir dir("results-gui-named");
  Project p = test::make_results_project(dir / "p");
  test::write_triage_files(
      dir / "p" / "triage", dir / "v.avi",
      (p.run_dir("tiny") / "checkpoints" / "iter_000040" / "weights.safetensors").string());
  std::string out;
  auto args = studio_args(dir, "expert");
  args.insert(args.begin(), {"xvfb-run", "-a", "-s", "-screen 0 1280x800x24",
                             test::built_binary("excap-studio")});
  args.insert(args.end(), {"--frame", "triage", "--screenshot", (dir / "t.png").string()});
  REQUIRE(test::run_command(args, &out) == 0);
  const auto lines = trace_lines(dir / "trace.txt");
  CHECK(has_line(lines, "target strip triage "));  // drawn only on the Triage tab
}
