#include "annotator/app/bench.h"

#include <GL/gl.h>
#include <imgui.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

#include "annotator/core/tools.h"
#include "annotator/ui/label_workspace.h"

namespace excap::studio {

namespace {

using Clock = std::chrono::steady_clock;

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

// Every timing the bench takes, in ms unless named otherwise.
struct BenchTimes {
  std::vector<double> idle, ui_only;  // whole frame; its ImGui (CPU) part
  double cpu_per_frame = 0;
  std::vector<double> move_update, stroke_update, stroke_frame;
  long long bytes_uploaded = 0;  // by the strokes' incremental updates
  std::vector<double> full_upload;
  std::vector<double> saves, snapshots;
};

constexpr int kStrokes = 60;
constexpr int kMovesPerStroke = 12;

void frame(StudioWindow& win, Studio& studio, double dt) {
  win.begin_frame();
  studio.frame(dt);
}

void time_idle_frames(StudioWindow& win, Studio& studio, int frames, BenchTimes& t) {
  for (int i = 0; i < 5; ++i) {  // warm up: textures, font atlas
    frame(win, studio, 1.0 / 60);
    win.end_frame();
  }
  win.finish();
  const double cpu0 = process_cpu_ms();
  for (int i = 0; i < frames; ++i) {
    const auto t0 = Clock::now();
    frame(win, studio, 1.0 / 60);
    win.build_draw_data();  // the UI's whole CPU side
    t.ui_only.push_back(ms_since(t0));
    win.end_frame(false);
    win.finish();  // llvmpipe renders on glFinish: count it
    t.idle.push_back(ms_since(t0));
    win.swap();
  }
  t.cpu_per_frame = (process_cpu_ms() - cpu0) / frames;
}

// One stroke: a drag of pointer moves, each painted, the changed rectangle
// re-coloured and uploaded with glTexSubImage2D; returns its total time.
double time_stroke(StudioWindow& win, LabelWorkspace& ws, int s, std::mt19937& rng, BenchTimes& t) {
  annotator::LabelDocument& doc = *ws.doc();
  const cv::Size size = doc.size();
  std::uniform_int_distribution<int> ux(0, size.width - 1), uy(0, size.height - 1), step(-12, 12);
  cv::Point p(ux(rng), uy(rng));
  doc.begin_stroke("bench");
  double stroke_ms = 0;
  for (int m = 0; m < kMovesPerStroke; ++m) {
    const cv::Point q(std::clamp(p.x + step(rng), 0, size.width - 1),
                      std::clamp(p.y + step(rng), 0, size.height - 1));
    const auto t0 = Clock::now();
    doc.stroke_apply([&](cv::Mat& mask) {
      return annotator::paint_segment(mask, p, q, 8, static_cast<std::uint8_t>(1 + s % 7));
    });
    ws.editor().sync(ws.palette(), annotator::OverlayMode::Fill);
    win.finish();
    const double ms = ms_since(t0);
    t.move_update.push_back(ms);
    stroke_ms += ms;
    p = q;
  }
  doc.end_stroke();
  return stroke_ms;
}

void time_strokes(StudioWindow& win, Studio& studio, LabelWorkspace& ws, BenchTimes& t) {
  std::mt19937 rng(7);
  const long long bytes0 = ws.editor().overlay().bytes_uploaded();
  for (int s = 0; s < kStrokes; ++s) {
    t.stroke_update.push_back(time_stroke(win, ws, s, rng, t));
    // One full studio frame with the stroke on screen.
    const auto t1 = Clock::now();
    frame(win, studio, 1.0 / 60);
    win.end_frame(false);
    win.finish();
    t.stroke_frame.push_back(ms_since(t1));
    win.swap();
  }
  t.bytes_uploaded = ws.editor().overlay().bytes_uploaded() - bytes0;
}

// The alternative the incremental path avoids: re-colour and upload it all.
void time_full_upload(StudioWindow& win, LabelWorkspace& ws, BenchTimes& t) {
  const annotator::LabelDocument& doc = *ws.doc();
  const cv::Rect all(0, 0, doc.size().width, doc.size().height);
  cv::Mat rgba;
  for (int i = 0; i < 20; ++i) {
    const auto t0 = Clock::now();
    annotator::render_overlay(doc.mask(), ws.palette(), annotator::OverlayMode::Fill, all, rgba);
    const_cast<GlTexture&>(ws.editor().overlay()).update(rgba, all);
    win.finish();
    t.full_upload.push_back(ms_since(t0));
  }
}

// Autosave after a stroke (mask PNG + label JSON, each fsync'd and renamed),
// on a scratch copy of the document's project so the bench changes nothing.
void time_autosave(LabelWorkspace& ws, const fs::path& scratch_dir, BenchTimes& t) {
  annotator::LabelDocument& doc = *ws.doc();
  annotator::Session scratch = annotator::Session::open(scratch_dir, ws.session().user());
  for (int i = 0; i < 20; ++i) {
    doc.apply("bench", [&](cv::Mat& mask) {
      return annotator::paint_segment(mask, {10 + i, 10}, {10 + i, 30}, 3, 2);
    });
    const auto t0 = Clock::now();
    const annotator::LabelSnapshot snap = scratch.snapshot(doc, 1.0);
    t.snapshots.push_back(ms_since(t0));
    const auto t1 = Clock::now();
    scratch.write(snap);
    t.saves.push_back(ms_since(t1));
  }
}

void print_frame_times(const BenchTimes& t, const annotator::LabelDocument& doc) {
  const Stats ui = stats(t.ui_only), fi = stats(t.idle), fs = stats(t.stroke_frame);
  const char* renderer = reinterpret_cast<const char*>(glGetString(GL_RENDERER));
  std::printf("excap-studio bench  renderer: %s  window %dx%d  frame %s %dx%d\n",
              renderer ? renderer : "?", static_cast<int>(ImGui::GetIO().DisplaySize.x),
              static_cast<int>(ImGui::GetIO().DisplaySize.y), doc.frame_id().c_str(),
              doc.size().width, doc.size().height);
  std::printf("frame time, idle       (%zu frames): mean %.2f ms  p50 %.2f  p95 %.2f  max %.2f\n",
              t.idle.size(), fi.mean, fi.p50, fi.p95, fi.max);
  std::printf(
      "  of which UI (ImGui draw lists): mean %.2f ms  p95 %.2f; process CPU per frame (all "
      "threads, "
      "swap included): %.2f ms\n",
      ui.mean, ui.p95, t.cpu_per_frame);
  std::printf("frame time, after stroke (%zu frames): mean %.2f ms  p50 %.2f  p95 %.2f  max %.2f\n",
              t.stroke_frame.size(), fs.mean, fs.p50, fs.p95, fs.max);
}

void print_update_times(const BenchTimes& t, const annotator::LabelDocument& doc) {
  const Stats mu = stats(t.move_update), su = stats(t.stroke_update), fu = stats(t.full_upload);
  std::printf(
      "mask update per pointer move (paint + recolour + glTexSubImage2D, %zu moves): mean %.3f ms  "
      "p95 %.3f\n",
      t.move_update.size(), mu.mean, mu.p95);
  std::printf("mask update per stroke (%d moves, %d strokes): mean %.3f ms  p95 %.3f\n",
              kMovesPerStroke, kStrokes, su.mean, su.p95);
  std::printf(
      "uploaded per move: %.1f KB (full texture: %.1f KB); full recolour+upload: mean %.3f ms\n",
      t.bytes_uploaded / 1024.0 / static_cast<double>(t.move_update.size()),
      doc.size().area() * 4 / 1024.0, fu.mean);
  if (t.saves.empty()) return;
  const Stats sv = stats(t.saves), sn = stats(t.snapshots);
  std::printf(
      "autosave per stroke end: UI thread (snapshot) mean %.3f ms; writer thread (mask PNG + "
      "JSON, "
      "atomic, fsync) mean %.2f ms  p95 %.2f\n",
      sn.mean, sv.mean, sv.p95);
}

// A throwaway project holding only what a Session opens, removed when done
// (also when a save throws); path() is empty when it could not be made, and
// autosave then goes untimed, with a message.
class ScratchProject {
 public:
  explicit ScratchProject(const fs::path& project) {
    try {
      path_ = fs::temp_directory_path() / ("excap-studio-bench-" + std::to_string(::getpid()));
      fs::create_directories(path_);
      for (const char* f : {"project.json", "frames.json", "assignments.json"})
        if (fs::exists(project / f)) fs::copy_file(project / f, path_ / f);
    } catch (const std::exception& e) {
      std::cerr << "bench: autosave not timed (" << e.what() << ")\n";
      remove();
    }
  }
  ~ScratchProject() { remove(); }
  ScratchProject(const ScratchProject&) = delete;
  ScratchProject& operator=(const ScratchProject&) = delete;
  const fs::path& path() const { return path_; }

 private:
  void remove() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
    path_.clear();
  }
  fs::path path_;
};

}  // namespace

int run_bench(StudioWindow& win, Studio& studio, int frames, const fs::path& project) {
  LabelWorkspace* ws = studio.label();
  if (!ws || !ws->doc()) {
    std::cerr
        << "bench: no frame open in the Label workspace (is a frame assigned to this user?)\n";
    return 1;
  }
  BenchTimes t;
  time_idle_frames(win, studio, frames, t);
  time_strokes(win, studio, *ws, t);
  time_full_upload(win, *ws, t);
  const ScratchProject scratch(project);
  if (!scratch.path().empty()) time_autosave(*ws, scratch.path(), t);
  print_frame_times(t, *ws->doc());
  print_update_times(t, *ws->doc());
  return 0;
}

}  // namespace excap::studio
