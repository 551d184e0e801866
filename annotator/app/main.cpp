// excap-studio DIR --user NAME [--workspace clips|label|adjudicate|results]
//              [--frame ID|RUN] [--screenshot out.png [--browse N]] [--bench]
//              | excap-studio DIR --make-bench-project N
// The GLFW/GL main loop over the studio's workspaces; argument parsing only.
#include <imgui.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <thread>

#include "annotator/app/bench.h"
#include "annotator/app/window.h"
#include "annotator/ui/studio.h"
#include "common/error.h"
#include "common/fsutil.h"
#include "common/ids.h"
#include "common/text.h"
#include "media/imageio.h"

using namespace excap;
using namespace excap::studio;
using Clock = std::chrono::steady_clock;

namespace {

struct AppOptions {
  StudioOptions studio;
  std::string screenshot, settings_path, trace_path, size_text = "1280x800";
  int width = 1280, height = 800;
  int shot_frames = 8, bench_frames = 200, browse = 0, make_bench = 0;
  bool bench = false, version = false;
  float opacity = -1.f, scale = 0.f;
  // Screenshot and bench runs leave no trace: no vsync, no imgui.ini, no settings saved.
  bool headless() const { return !screenshot.empty() || bench; }
};

int make_bench(const std::string& dir, int frames) {
  try {
    make_bench_project(dir, frames);
    std::cout << "bench project " << dir << ": " << frames << " frames\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "excap-studio: " << printable(e.what()) << "\n";
    return 1;
  }
}

// Parses and checks the command line; an exit status when the program should
// stop here (--help, --version, a bad argument), nothing to go on.
std::optional<int> parse_options(int argc, char** argv, AppOptions& o) {
  CLI::App app{"ExCap Studio: clip selection, double-blind labeling and adjudication"};
  std::string project;
  app.add_option("DIR", project, "Project folder");
  app.add_option("--user", o.studio.user, "Your user id (from project.json)")
      ->check(CLI::Validator([](std::string& s) { return safe_id_problem(s); }, "NAME"));
  app.add_option("--workspace", o.studio.workspace, "clips | label | adjudicate | results")
      ->check(CLI::IsMember({"clips", "label", "adjudicate", "results"}));
  app.add_option("--frame", o.studio.frame, "Open this frame first");
  app.add_flag("--show-suggestion", o.studio.show_suggestion,
               "Label: show the model's suggestion when a frame opens (pre-labels on), "
               "instead of the annotator's own mask");
  app.add_option("--screenshot", o.screenshot, "Render a few frames, save the window as PNG, exit");
  app.add_option("--screenshot-frames", o.shot_frames, "Frames to render before the screenshot")
      ->check(CLI::Range(1, 1000));
  app.add_option("--browse", o.browse,
                 "With --screenshot: open the next frame of the list N times first, as the "
                 "Next frame key does")
      ->check(CLI::Range(0, 10000));
  app.add_flag("--bench", o.bench,
               "Print the frame time and the per-stroke mask update time, exit");
  app.add_option("--bench-frames", o.bench_frames, "Frames to time")->check(CLI::Range(10, 100000));
  app.add_option("--make-bench-project", o.make_bench,
                 "Create DIR as a generated project of N frames for --bench, exit")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--settings", o.settings_path,
                 "Settings file (default: ~/.config/excap/studio.json)");
  app.add_option("--overlay-opacity", o.opacity,
                 "Mask overlay opacity 0..1 (overrides the setting)")
      ->check(CLI::Range(0.f, 1.f));
  app.add_option("--scale", o.scale, "UI scale (default: the monitor's)")
      ->check(CLI::Range(0.5f, 4.f));
  app.add_option("--size", o.size_text, "Window size WxH");
  app.add_option("--trace", o.trace_path,
                 "Append workspace switches, opened frames and the places of clickable "
                 "Results items to this file (for scripted GUI tests)");
  app.add_flag("--version", o.version, "Print the version");
  CLI11_PARSE(app, argc, argv);
  if (o.version) {
    std::cout << "excap-studio 0.1.0 (Dear ImGui " << IMGUI_VERSION << ")\n";
    return 0;
  }
  if (o.make_bench > 0 && !project.empty()) return make_bench(project, o.make_bench);
  if (project.empty() || o.studio.user.empty()) {
    std::cerr << "excap-studio: DIR and --user are required (see --help)\n";
    return 2;
  }
  o.studio.project = project;
  if (std::sscanf(o.size_text.c_str(), "%dx%d", &o.width, &o.height) != 2 || o.width < 320 ||
      o.height < 240) {
    std::cerr << "excap-studio: --size " << o.size_text << ": expected WxH, at least 320x240\n";
    return 2;
  }
  return std::nullopt;
}

// The settings file (tolerant: a bad file falls back with a warning), then
// the command line's overrides.
StudioSettings load_settings(AppOptions& o) {
  if (o.settings_path.empty() && !config_dir().empty())
    o.settings_path = (config_dir() / "studio.json").string();
  std::string warning;
  StudioSettings settings = StudioSettings::load(o.settings_path, &warning);
  if (!warning.empty()) std::cerr << "warning: " << warning << "\n";
  if (o.opacity >= 0.f) settings.overlay_opacity = o.opacity;
  if (o.scale > 0.f) settings.ui_scale = o.scale;
  return settings;
}

WindowOptions window_options(const AppOptions& o, const StudioSettings& settings) {
  WindowOptions wo;
  wo.width = o.width;
  wo.height = o.height;
  wo.vsync = !o.headless();
  wo.ui_scale = settings.ui_scale;
  wo.font_px = settings.font_size;
  if (!o.headless() && !config_dir().empty()) {
    ensure_dir(config_dir());
    wo.ini_path = (config_dir() / "imgui.ini").string();
  }
  return wo;
}

// Event-driven when nothing moves: a few frames after the last input
// (ImGui settles hover/animations), then sleep until the next event.
double idle_wait(const Studio& studio, bool headless, int& quiet_frames) {
  const ImGuiIO& io = ImGui::GetIO();
  bool input = io.MouseDelta.x != 0 || io.MouseDelta.y != 0 || io.MouseWheel != 0 ||
               ImGui::IsAnyMouseDown() || io.InputQueueCharacters.Size > 0;
  for (bool down : io.KeysDown) input = input || down;
  quiet_frames = input || studio.animating() ? 0 : quiet_frames + 1;
  return headless || quiet_frames < 6 ? 0.0 : 0.5;
}

// With --screenshot: once enough frames are drawn and the view has settled,
// saves the back buffer and returns true (the loop ends).
bool take_screenshot(StudioWindow& win, const Studio& studio, const AppOptions& o, int rendered) {
  // Wait (bounded) for the video decoder so the picture shows a frame.
  const bool settled = studio.idle() || rendered > o.shot_frames + 300;
  if (rendered >= o.shot_frames && settled) {
    win.end_frame(false);
    write_png_atomic(o.screenshot, win.read_pixels(), 6);
    std::cout << "screenshot " << o.screenshot << "\n";
    return true;
  }
  if (!studio.idle()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  return false;
}

void run_loop(StudioWindow& win, Studio& studio, const AppOptions& o) {
  auto last = Clock::now();
  int rendered = 0, quiet_frames = 0, browsed = 0;
  while (!win.should_close() && !studio.quit_requested()) {
    const auto now = Clock::now();
    const double dt = std::max(1e-4, std::chrono::duration<double>(now - last).count());
    last = now;
    win.begin_frame(idle_wait(studio, o.headless(), quiet_frames));
    const bool browsing = !o.screenshot.empty() && browsed < o.browse;
    if (browsing && rendered % 2 == 1) {  // every other frame, so each opened one is drawn
      studio.browse_next();
      ++browsed;
    }
    studio.frame(dt);
    ++rendered;
    if (!browsing && !o.screenshot.empty() && take_screenshot(win, studio, o, rendered)) break;
    win.end_frame();
  }
}

void save_settings(const AppOptions& o, const StudioSettings& settings) {
  if (o.headless() || o.settings_path.empty()) return;
  try {
    settings.save(o.settings_path);
  } catch (const std::exception& e) {
    std::cerr << "warning: settings not saved: " << e.what() << "\n";
  }
}

// Opens the window and the project for the user, then benches or runs.
int run_studio(AppOptions& o) {
  StudioSettings settings = load_settings(o);
  StudioWindow win(window_options(o, settings));
  Studio studio(o.studio, settings);
  std::ofstream trace;
  if (!o.trace_path.empty()) {
    trace.open(o.trace_path, std::ios::app);
    if (!trace) throw Error(o.trace_path, "cannot be opened for --trace");
    studio.set_trace([&trace](const std::string& line) { trace << line << std::endl; });
  }
  if (o.bench) return run_bench(win, studio, o.bench_frames, o.studio.project);
  run_loop(win, studio, o);
  studio.shutdown();
  save_settings(o, settings);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  AppOptions o;
  if (const auto rc = parse_options(argc, argv, o)) return *rc;
  try {
    return run_studio(o);
  } catch (const std::exception& e) {
    std::cerr << "excap-studio: " << printable(e.what()) << "\n";
    return 1;
  }
}
