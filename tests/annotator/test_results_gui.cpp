// The Results workspace used as people use it: excap-studio under Xvfb,
// real pointer input through xdotool (XTEST), and the studio's --trace file
// on disk to see where the click led. Skipped with a message when xvfb-run
// or xdotool is missing.
#include <doctest/doctest.h>

#include <fstream>
#include <iostream>
#include <sstream>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>

#include "common/process.h"
#include "results_fixture.h"
#include "stage1/stage1.h"
#include "test_support.h"

using namespace excap;

namespace {

bool have_gui_tools() {
  for (const char* tool : {"xvfb-run", "xdotool"})
    if (!excap::program_available(tool)) {
      std::cout << "[skip] " << tool
                << " is missing: the Results GUI test needs xvfb and xdotool\n";
      return false;
    }
  return true;
}

// Starts the studio in the background, then for each step "TARGET=EXPECT"
// (steps joined by ';'; a TARGET "!command" runs the command instead of a
// click): waits for the trace line of the target, clicks its
// centre (press, pause, release: one ImGui frame sees each) and waits for a
// trace line starting with EXPECT. Then quits with Ctrl+Q, held long enough
// for a frame to see it (killed if it does not quit). Waits are bounded polls, not timed
// assertions.
const char* kScript = R"SH(
set -u
trace="$1"; steps="$2"; shift 2
"$@" &
pid=$!
wait_for() {
  for _ in $(seq 1 600); do
    grep -q "$1" "$trace" 2>/dev/null && return 0
    kill -0 $pid 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
click() {
  set -- $(grep "^target $1 " "$trace" | tail -1 | awk '{print $(NF-3), $(NF-2), $(NF-1), $NF}')
  xdotool mousemove --sync $(( $1 + $3 / 2 )) $(( $2 + $4 / 2 ))
  sleep 0.3; xdotool mousedown 1; sleep 0.3; xdotool mouseup 1
}
IFS=';' read -ra list <<< "$steps"
for step in "${list[@]}"; do
  target="${step%%=*}"; expect="${step#*=}"
  if [ "${target#!}" != "$target" ]; then
    eval "${target#!}"
  else
    wait_for "^target $target " || { echo "no target $target"; cat "$trace"; kill $pid; exit 3; }
    sleep 0.5
    click "$target"
  fi
  wait_for "^$expect" || { echo "no line $expect"; cat "$trace"; kill $pid; exit 4; }
done
wid=$(xdotool search --name "ExCap Studio" | head -1)
[ -n "$wid" ] && xdotool windowfocus --sync "$wid"
xdotool keydown ctrl; xdotool keydown q; sleep 0.3; xdotool keyup q; xdotool keyup ctrl
for _ in $(seq 1 100); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
kill -0 $pid 2>/dev/null && { echo "studio did not quit on Ctrl+Q"; kill $pid; }
wait $pid
)SH";

int run_scenario(const test::ScratchDir& dir, const std::vector<std::string>& studio_args,
                 const std::string& steps, std::string* out) {
  const fs::path script = dir / "scenario.sh";
  std::ofstream(script) << kScript;
  std::vector<std::string> argv = {"xvfb-run",
                                   "-a",
                                   "-s",
                                   "-screen 0 1280x800x24",
                                   "bash",
                                   script.string(),
                                   (dir / "trace.txt").string(),
                                   steps,
                                   test::built_binary("excap-studio")};
  argv.insert(argv.end(), studio_args.begin(), studio_args.end());
  const int rc = test::run_command(argv, out);
  if (rc != 0) std::cout << *out << "\n";
  return rc;
}

std::vector<std::string> studio_args(const test::ScratchDir& dir, const std::string& user) {
  return {(dir / "p").string(),
          "--user",
          user,
          "--workspace",
          "results",
          "--settings",
          (dir / "s.json").string(),
          "--trace",
          (dir / "trace.txt").string()};
}

std::vector<std::string> trace_lines(const fs::path& file) {
  std::ifstream in(file);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool has_line(const std::vector<std::string>& lines, const std::string& prefix) {
  for (const auto& l : lines)
    if (l.rfind(prefix, 0) == 0) return true;
  return false;
}

}  // namespace

TEST_CASE("studio Results: clicking a worst frame opens it in Label") {
  if (!have_gui_tools()) return;
  test::ScratchDir dir("results-gui-worst");
  test::make_results_project(dir / "p", 4, {"a", "b", "expert"});
  std::string out;
  REQUIRE(run_scenario(dir, studio_args(dir, "expert"), "worst v1_00002=open ", &out) == 0);
  const auto lines = trace_lines(dir / "trace.txt");
  REQUIRE(!lines.empty());
  CHECK(lines.front() == "workspace results");
  CHECK(has_line(lines, "open label v1_00002"));
  CHECK(has_line(lines, "workspace label"));
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
  REQUIRE(run_scenario(dir, studio_args(dir, "expert"),
                       "triage triage=target strip triage;strip triage=seek clips ", &out) == 0);
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
  REQUIRE(run_scenario(dir, studio_args(dir, "expert"),
                       "!sleep 0=target run tiny ;!cp -r '" + (runs / "tiny").string() + "' '" +
                           (runs / "tiny2").string() + "'=target run tiny2 ",
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
