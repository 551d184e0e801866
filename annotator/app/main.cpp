// excap-studio DIR --user NAME [--workspace clips|label|adjudicate]
//              [--frame ID] [--screenshot out.png] [--bench]
// The GLFW/GL main loop over the studio's workspaces; argument parsing only.
#include <GL/gl.h>
#include <imgui.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <numeric>
#include <random>
#include <thread>

#include <sys/resource.h>
#include <unistd.h>

#include "annotator/app/window.h"
#include "annotator/core/tools.h"
#include "annotator/ui/label_workspace.h"
#include "annotator/ui/studio.h"
#include "common/error.h"
#include "media/imageio.h"

using namespace excap;
using namespace excap::studio;
using Clock = std::chrono::steady_clock;

namespace {

// CPU time of the whole process (all threads, llvmpipe's included), in ms:
// on a shared machine the wall time also counts other people's work.
double process_cpu_ms() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e3 +
         (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e3;
}

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

struct Stats {
  double mean = 0, p50 = 0, p95 = 0, max = 0;
};
Stats stats(std::vector<double> v) {
  Stats s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  s.mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  s.p50 = v[v.size() / 2];
  s.p95 = v[std::min(v.size() - 1, v.size() * 95 / 100)];
  s.max = v.back();
  return s;
}

void frame(StudioWindow& win, Studio& studio, double dt) {
  win.begin_frame();
  studio.frame(dt);
}

// Frame time and per-stroke texture update time in the Label workspace.
int run_bench(StudioWindow& win, Studio& studio, int frames, const fs::path& save_dir) {
  LabelWorkspace* ws = studio.label();
  if (!ws || !ws->doc()) {
    std::cerr
        << "bench: no frame open in the Label workspace (is a frame assigned to this user?)\n";
    return 1;
  }
  for (int i = 0; i < 5; ++i) {  // warm up: textures, font atlas
    frame(win, studio, 1.0 / 60);
    win.end_frame();
  }
  win.finish();
  std::vector<double> idle, ui_only;
  const double cpu0 = process_cpu_ms();
  for (int i = 0; i < frames; ++i) {
    const auto t0 = Clock::now();
    frame(win, studio, 1.0 / 60);
    win.build_draw_data();  // the UI's whole CPU side
    ui_only.push_back(ms_since(t0));
    win.end_frame(false);
    win.finish();  // llvmpipe renders on glFinish: count it
    idle.push_back(ms_since(t0));
    win.swap();
  }
  const double cpu_per_frame = (process_cpu_ms() - cpu0) / frames;

  // Strokes: a drag of 12 pointer moves per stroke, each move painted, the
  // changed rectangle re-coloured and uploaded with glTexSubImage2D.
  annotator::LabelDocument& doc = *ws->doc();
  MaskEditor& ed = ws->editor();
  const cv::Size size = doc.size();
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> ux(0, size.width - 1), uy(0, size.height - 1), step(-12, 12);
  const auto palette = ws->palette();
  const auto mode = annotator::OverlayMode::Fill;
  std::vector<double> move_update, stroke_update, stroke_frame;
  long long bytes0 = ed.overlay().bytes_uploaded();
  const int strokes = 60;
  for (int s = 0; s < strokes; ++s) {
    cv::Point p(ux(rng), uy(rng));
    doc.begin_stroke("bench");
    double stroke_ms = 0;
    for (int m = 0; m < 12; ++m) {
      const cv::Point q(std::clamp(p.x + step(rng), 0, size.width - 1),
                        std::clamp(p.y + step(rng), 0, size.height - 1));
      const auto t0 = Clock::now();
      doc.stroke_apply([&](cv::Mat& mask) {
        return annotator::paint_segment(mask, p, q, 8, static_cast<std::uint8_t>(1 + s % 7));
      });
      ed.sync(palette, mode);
      win.finish();
      const double ms = ms_since(t0);
      move_update.push_back(ms);
      stroke_ms += ms;
      p = q;
    }
    doc.end_stroke();
    stroke_update.push_back(stroke_ms);
    // One full studio frame with the stroke on screen.
    const auto t1 = Clock::now();
    frame(win, studio, 1.0 / 60);
    win.end_frame(false);
    win.finish();
    stroke_frame.push_back(ms_since(t1));
    win.swap();
  }
  const long long bytes = ed.overlay().bytes_uploaded() - bytes0;
  // The alternative the incremental path avoids: re-colour and upload it all.
  std::vector<double> full;
  cv::Mat rgba;
  for (int i = 0; i < 20; ++i) {
    const auto t0 = Clock::now();
    annotator::render_overlay(doc.mask(), palette, mode, cv::Rect(0, 0, size.width, size.height),
                              rgba);
    const_cast<GlTexture&>(ed.overlay()).update(rgba, cv::Rect(0, 0, size.width, size.height));
    win.finish();
    full.push_back(ms_since(t0));
  }
  // Autosave after a stroke (mask PNG + label JSON, each fsync'd and renamed),
  // on a scratch copy of the document's project so the bench changes nothing.
  std::vector<double> saves, snapshots;
  if (!save_dir.empty()) {
    annotator::Session scratch = annotator::Session::open(save_dir, ws->session().user());
    for (int i = 0; i < 20; ++i) {
      doc.apply("bench", [&](cv::Mat& mask) {
        return annotator::paint_segment(mask, {10 + i, 10}, {10 + i, 30}, 3, 2);
      });
      const auto t0 = Clock::now();
      const annotator::LabelSnapshot snap = scratch.snapshot(doc, 1.0);
      snapshots.push_back(ms_since(t0));
      const auto t1 = Clock::now();
      scratch.write(snap);
      saves.push_back(ms_since(t1));
    }
  }
  const Stats fu_ui = stats(ui_only);
  const Stats fi = stats(idle), fs = stats(stroke_frame), mu = stats(move_update),
              su = stats(stroke_update), fu = stats(full);
  const char* renderer = reinterpret_cast<const char*>(glGetString(GL_RENDERER));
  std::printf("excap-studio bench  renderer: %s  window %dx%d  frame %s %dx%d\n",
              renderer ? renderer : "?", static_cast<int>(ImGui::GetIO().DisplaySize.x),
              static_cast<int>(ImGui::GetIO().DisplaySize.y), doc.frame_id().c_str(), size.width,
              size.height);
  std::printf("frame time, idle       (%zu frames): mean %.2f ms  p50 %.2f  p95 %.2f  max %.2f\n",
              idle.size(), fi.mean, fi.p50, fi.p95, fi.max);
  std::printf(
      "  of which UI (ImGui draw lists): mean %.2f ms  p95 %.2f; process CPU per frame (all "
      "threads, "
      "swap included): %.2f ms\n",
      fu_ui.mean, fu_ui.p95, cpu_per_frame);
  std::printf("frame time, after stroke (%zu frames): mean %.2f ms  p50 %.2f  p95 %.2f  max %.2f\n",
              stroke_frame.size(), fs.mean, fs.p50, fs.p95, fs.max);
  std::printf(
      "mask update per pointer move (paint + recolour + glTexSubImage2D, %zu moves): mean %.3f ms  "
      "p95 %.3f\n",
      move_update.size(), mu.mean, mu.p95);
  std::printf("mask update per stroke (12 moves, %d strokes): mean %.3f ms  p95 %.3f\n", strokes,
              su.mean, su.p95);
  std::printf(
      "uploaded per move: %.1f KB (full texture: %.1f KB); full recolour+upload: mean %.3f ms\n",
      bytes / 1024.0 / static_cast<double>(move_update.size()), size.area() * 4 / 1024.0, fu.mean);
  if (!saves.empty()) {
    const Stats sv = stats(saves);
    const Stats sn = stats(snapshots);
    std::printf(
        "autosave per stroke end: UI thread (snapshot) mean %.3f ms; writer thread (mask PNG + "
        "JSON, "
        "atomic, fsync) mean %.2f ms  p95 %.2f\n",
        sn.mean, sv.mean, sv.p95);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ExCap Studio: clip selection, double-blind labeling and adjudication"};
  StudioOptions opt;
  std::string project, screenshot, settings_path, size_text = "1280x800";
  int shot_frames = 8, bench_frames = 200;
  bool bench = false, version = false;
  float opacity = -1.f, scale = 0.f;
  app.add_option("DIR", project, "Project folder");
  app.add_option("--user", opt.user, "Your user id (from project.json)");
  app.add_option("--workspace", opt.workspace, "clips | label | adjudicate")
      ->check(CLI::IsMember({"clips", "label", "adjudicate"}));
  app.add_option("--frame", opt.frame, "Open this frame first");
  app.add_option("--screenshot", screenshot, "Render a few frames, save the window as PNG, exit");
  app.add_option("--screenshot-frames", shot_frames, "Frames to render before the screenshot")
      ->check(CLI::Range(1, 1000));
  app.add_flag("--bench", bench, "Print the frame time and the per-stroke mask update time, exit");
  app.add_option("--bench-frames", bench_frames, "Frames to time")->check(CLI::Range(10, 100000));
  app.add_option("--settings", settings_path,
                 "Settings file (default: ~/.config/excap/studio.json)");
  app.add_option("--overlay-opacity", opacity, "Mask overlay opacity 0..1 (overrides the setting)")
      ->check(CLI::Range(0.f, 1.f));
  app.add_option("--scale", scale, "UI scale (default: the monitor's)")
      ->check(CLI::Range(0.5f, 4.f));
  app.add_option("--size", size_text, "Window size WxH");
  app.add_flag("--version", version, "Print the version");
  CLI11_PARSE(app, argc, argv);
  if (version) {
    std::cout << "excap-studio 0.1.0 (Dear ImGui " << IMGUI_VERSION << ")\n";
    return 0;
  }
  if (project.empty() || opt.user.empty()) {
    std::cerr << "excap-studio: DIR and --user are required (see --help)\n";
    return 2;
  }
  opt.project = project;
  int width = 1280, height = 800;
  if (std::sscanf(size_text.c_str(), "%dx%d", &width, &height) != 2 || width < 320 ||
      height < 240) {
    std::cerr << "excap-studio: --size " << size_text << ": expected WxH, at least 320x240\n";
    return 2;
  }
  const bool headless = !screenshot.empty() || bench;
  if (settings_path.empty() && !config_dir().empty())
    settings_path = (config_dir() / "studio.json").string();
  std::string warning;
  StudioSettings settings = StudioSettings::load(settings_path, &warning);
  if (!warning.empty()) std::cerr << "warning: " << warning << "\n";
  if (opacity >= 0.f) settings.overlay_opacity = opacity;
  if (scale > 0.f) settings.ui_scale = scale;

  try {
    WindowOptions wo;
    wo.width = width;
    wo.height = height;
    wo.vsync = !headless;
    wo.ui_scale = settings.ui_scale;
    wo.font_px = settings.font_size;
    if (!headless && !config_dir().empty()) {
      ensure_dir(config_dir());
      wo.ini_path = (config_dir() / "imgui.ini").string();
    }
    StudioWindow win(wo);
    Studio studio(opt, settings);
    if (bench) {
      // Autosave is timed on a throwaway copy of the project: a bench never edits real labels.
      fs::path copy;
      try {
        copy = fs::temp_directory_path() / ("excap-studio-bench-" + std::to_string(::getpid()));
        fs::create_directories(copy);
        for (const char* f : {"project.json", "frames.json", "assignments.json"})
          if (fs::exists(fs::path(project) / f)) fs::copy_file(fs::path(project) / f, copy / f);
      } catch (const std::exception& e) {
        std::cerr << "bench: autosave not timed (" << e.what() << ")\n";
        copy.clear();
      }
      const int rc = run_bench(win, studio, bench_frames, copy);
      std::error_code ec;
      if (!copy.empty()) fs::remove_all(copy, ec);
      return rc;
    }

    auto last = Clock::now();
    int rendered = 0, quiet_frames = 0;
    while (!win.should_close() && !studio.quit_requested()) {
      const auto now = Clock::now();
      const double dt = std::max(1e-4, std::chrono::duration<double>(now - last).count());
      last = now;
      // Event-driven when nothing moves: a few frames after the last input
      // (ImGui settles hover/animations), then sleep until the next event.
      const ImGuiIO& io = ImGui::GetIO();
      bool input = io.MouseDelta.x != 0 || io.MouseDelta.y != 0 || io.MouseWheel != 0 ||
                   ImGui::IsAnyMouseDown() || io.InputQueueCharacters.Size > 0;
      for (bool down : io.KeysDown) input = input || down;
      quiet_frames = input || studio.animating() ? 0 : quiet_frames + 1;
      const double wait = headless || quiet_frames < 6 ? 0.0 : 0.5;
      win.begin_frame(wait);
      studio.frame(dt);
      if (!screenshot.empty()) {
        ++rendered;
        // Wait (bounded) for the video decoder so the picture shows a frame.
        const bool settled = studio.idle() || rendered > shot_frames + 300;
        if (rendered >= shot_frames && settled) {
          win.end_frame(false);
          write_png_atomic(screenshot, win.read_pixels(), 6);
          std::cout << "screenshot " << screenshot << "\n";
          break;
        }
        if (!studio.idle()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      win.end_frame();
    }
    studio.shutdown();
    if (!headless && !settings_path.empty()) {
      try {
        settings.save(settings_path);
      } catch (const std::exception& e) {
        std::cerr << "warning: settings not saved: " << e.what() << "\n";
      }
    }
  } catch (const Error& e) {
    std::cerr << "excap-studio: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "excap-studio: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
