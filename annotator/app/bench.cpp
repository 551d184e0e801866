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

#include <fstream>
#include <future>
#include <map>

#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include "annotator/core/tools.h"
#include "annotator/ui/label_workspace.h"
#include "common/error.h"
#include "common/fsutil.h"
#include "media/imageio.h"

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

// CPU time of the calling thread, in ms: the UI's own cost, steady even
// when other processes share the cores.
double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
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
  std::vector<double> ui_cpu;         // that part's CPU time on the UI thread
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
    const double c0 = thread_cpu_ms();
    frame(win, studio, 1.0 / 60);
    win.build_draw_data();  // the UI's whole CPU side
    t.ui_cpu.push_back(thread_cpu_ms() - c0);
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

// The idle frame times; `what` names the workspace and what it shows.
void print_idle_times(const BenchTimes& t, const std::string& what) {
  const Stats ui = stats(t.ui_only), fi = stats(t.idle), uc = stats(t.ui_cpu);
  const char* renderer = reinterpret_cast<const char*>(glGetString(GL_RENDERER));
  std::printf("excap-studio bench  renderer: %s  window %dx%d  %s\n", renderer ? renderer : "?",
              static_cast<int>(ImGui::GetIO().DisplaySize.x),
              static_cast<int>(ImGui::GetIO().DisplaySize.y), what.c_str());
  std::printf("frame time, idle       (%zu frames): mean %.2f ms  p50 %.2f  p95 %.2f  max %.2f\n",
              t.idle.size(), fi.mean, fi.p50, fi.p95, fi.max);
  std::printf(
      "  of which UI (ImGui draw lists): mean %.2f ms  p95 %.2f; its UI-thread CPU: mean %.3f ms  "
      "p50 %.3f; process CPU per frame (all threads, swap included): %.2f ms\n",
      ui.mean, ui.p95, uc.mean, uc.p50, t.cpu_per_frame);
}

void print_frame_times(const BenchTimes& t, const annotator::LabelDocument& doc) {
  const Stats fs = stats(t.stroke_frame);
  print_idle_times(t, "frame " + doc.frame_id() + " " + std::to_string(doc.size().width) + "x" +
                          std::to_string(doc.size().height));
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

// ---- the generated bench project ----

constexpr int kBenchImages = 4;  // distinct pictures; every frame links one
constexpr int kBenchSize = 320;

// A capsule-like picture: a lit, grainy disc on black, tinted by `k`.
cv::Mat bench_image(int k) {
  cv::Mat img(kBenchSize, kBenchSize, CV_8UC3, cv::Scalar::all(0));
  cv::Mat disc(kBenchSize, kBenchSize, CV_8U, cv::Scalar(0));
  cv::circle(disc, {kBenchSize / 2, kBenchSize / 2}, kBenchSize * 9 / 20, cv::Scalar(255),
             cv::FILLED);
  img.setTo(cv::Scalar(70 + 25 * k, 90 + 15 * k, 190), disc);
  cv::Mat grain(kBenchSize, kBenchSize, CV_8UC3);
  cv::RNG rng(static_cast<std::uint64_t>(k) + 1);
  rng.fill(grain, cv::RNG::UNIFORM, 0, 40);
  cv::add(img, grain, img, disc);
  return img;
}

// Hard links keep 60,000 frames cheap; a copy where links are refused.
void link_or_copy(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::create_hard_link(from, to, ec);
  if (ec) fs::copy_file(from, to, fs::copy_options::overwrite_existing);
}

// Bench data needs no crash safety: plain writes, no fsync per label.
void write_bench_label(const Project& p, const LabelRecord& r, const fs::path& mask) {
  const fs::path json_path = p.label_json_path(r.user, r.frame);
  std::ofstream out(json_path);
  out << document_of(r).dump(2) << "\n";
  if (!out) throw Error(json_path.string(), "cannot write the bench label");
  if (!mask.empty()) link_or_copy(mask, p.label_mask_path(r.user, r.frame));
}

// Frame i: every 10th labeled done by a and b (the expert's queue), every
// 10th + 1 in progress for a; the rest new.
void add_bench_labels(const Project& p, const Frame& f, int i, const fs::path& mask) {
  LabelRecord r;
  r.frame = f.id;
  r.created = r.updated = "2026-01-01T00:00:00Z";
  r.time_spent_s = 20 + i % 97;
  if (i % 10 == 0) {
    r.cd = i % 3;
    for (const char* user : {"a", "b"}) {
      r.user = user;
      write_bench_label(p, r, mask);
    }
  } else if (i % 10 == 1) {
    r.user = "a";
    write_bench_label(p, r, {});
  }
}

// The frames' files and labels on a few threads: the time goes to
// waiting on the file system, one small file at a time.
void write_bench_files(const Project& p, const std::vector<Frame>& list, const fs::path& shared) {
  const int n = static_cast<int>(list.size());
  const int workers = std::clamp(n / 2000, 1, 8);
  std::vector<std::future<void>> jobs;
  for (int w = 0; w < workers; ++w)
    jobs.push_back(std::async(std::launch::async, [&, w] {
      for (int i = w; i < n; i += workers) {
        const Frame& f = list[static_cast<std::size_t>(i)];
        link_or_copy(shared / ("img" + std::to_string(i % kBenchImages) + ".png"),
                     p.frame_path(f.id));
        add_bench_labels(p, f, i, shared / "mask.png");
      }
    }));
  for (auto& j : jobs) j.get();  // rethrows a worker's error
}

}  // namespace

void make_bench_project(const fs::path& dir, int frames) {
  const Project p =
      Project::create(dir, cecd_schema(),
                      {{"a", Role::Annotator}, {"b", Role::Annotator}, {"expert", Role::Expert}});
  const fs::path shared = dir / "bench-images";
  ensure_dir(shared);
  for (int k = 0; k < kBenchImages; ++k)
    write_png_atomic(shared / ("img" + std::to_string(k) + ".png"), bench_image(k));
  cv::Mat mask(kBenchSize, kBenchSize, CV_8U, cv::Scalar(0));
  cv::circle(mask, {kBenchSize / 2, kBenchSize / 2}, kBenchSize * 9 / 20, cv::Scalar(1),
             cv::FILLED);
  write_png_atomic(shared / "mask.png", mask);
  for (const char* user : {"a", "b"}) ensure_dir(p.label_mask_path(user, "x").parent_path());
  std::vector<Frame> list(static_cast<std::size_t>(frames));
  std::map<std::string, std::vector<std::string>> assignments;
  for (int i = 0; i < frames; ++i) {
    Frame& f = list[static_cast<std::size_t>(i)];
    char id[32];
    std::snprintf(id, sizeof id, "v1_%06d", i);
    f.id = id;
    f.video = "v1";
    f.patient = "p-bench";
    f.clip = "c" + std::to_string(i / 500 + 1);
    f.source_index = i * 15LL;
    f.time_s = i * 0.5;
    f.file = "frames/" + f.id + ".png";
    assignments[f.id] = {"a", "b"};
  }
  write_bench_files(p, list, shared);
  p.save_frames(list);
  p.save_assignments(assignments);
}

int run_bench(StudioWindow& win, Studio& studio, int frames, const fs::path& project) {
  if (studio.active() != "label") {  // another workspace: its idle frames only
    BenchTimes t;
    time_idle_frames(win, studio, frames, t);
    print_idle_times(t, "workspace " + studio.active());
    return 0;
  }
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
