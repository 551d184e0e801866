#include "bench/extract_bench.h"

#include <unistd.h>

#include <chrono>
#include <sstream>

#include "common/process.h"
#include "store/project.h"
#include "store/schema.h"

namespace excap {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

int count_files(const fs::path& dir) {
  int n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file()) ++n;
  return n;
}

// Import and extract the whole video into a throw-away project.
void time_excap(const ExtractBenchOptions& o, const fs::path& scratch, ExtractBenchResult& r) {
  Project p = Project::create(scratch / "project", cecd_schema());
  auto t0 = Clock::now();
  r.video = import_video(p, o.video, "bench", "bench");
  r.import_s = seconds_since(t0);
  add_clip(p, r.video.id, 0, r.video.frames, "bench", "whole video");
  ExtractOptions e;
  e.fps = o.fps;
  e.dedupe = 0;
  e.user = "bench";
  t0 = Clock::now();
  r.report = extract_frames(p, e);
  r.excap_s = seconds_since(t0);
}

void time_ffmpeg(const ExtractBenchOptions& o, const fs::path& out_dir, ExtractBenchResult& r) {
  r.ffmpeg_found = program_available(o.ffmpeg);
  if (!r.ffmpeg_found) return;
  std::ostringstream rate;
  rate << o.fps;
  r.ffmpeg_argv = {o.ffmpeg,
                   "-nostdin",
                   "-v",
                   "error",
                   "-i",
                   fs::absolute(o.video).string(),
                   "-vf",
                   "fps=" + rate.str(),
                   (out_dir / "out%06d.png").string()};
  const auto t0 = Clock::now();
  const ProcessResult p = run_process(r.ffmpeg_argv);
  r.ffmpeg_s = seconds_since(t0);
  r.ffmpeg_ok = p.ok();
  if (!r.ffmpeg_ok) r.ffmpeg_failure = describe_exit(p) + ": " + p.out;
  r.ffmpeg_frames = count_files(out_dir);
}

}  // namespace

std::string display_command(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

ExtractBenchResult bench_extract(const ExtractBenchOptions& o) {
  const fs::path scratch =
      fs::temp_directory_path() / ("excap-bench-" + std::to_string(::getpid()));
  fs::remove_all(scratch);
  ensure_dir(scratch / "ffmpeg");
  struct Cleanup {
    fs::path dir;
    bool keep;
    ~Cleanup() {
      std::error_code ec;
      if (!keep) fs::remove_all(dir, ec);
    }
  } cleanup{scratch, o.keep};
  ExtractBenchResult r;
  time_excap(o, scratch, r);
  time_ffmpeg(o, scratch / "ffmpeg", r);
  return r;
}

}  // namespace excap
