// `excap bench extract`: our stage-I extraction (field of view, blanking,
// dHash, frames.json) timed against `ffmpeg -vf fps=F` on the same video, in
// one run. ffmpeg is started from an argument vector (common/process.h).
#pragma once
#include <string>
#include <vector>

#include "common/fsutil.h"
#include "stage1/stage1.h"

namespace excap {

struct ExtractBenchOptions {
  fs::path video;
  double fps = 2.0;
  bool keep = false;  // keep the scratch folder (project and ffmpeg's frames)
  std::string ffmpeg = "ffmpeg";
};

struct ExtractBenchResult {
  Video video;
  double import_s = 0;  // probe + sha256; not part of the comparison
  double excap_s = 0;
  ExtractReport report;
  bool ffmpeg_found = false;
  bool ffmpeg_ok = false;
  double ffmpeg_s = 0;
  int ffmpeg_frames = 0;
  std::vector<std::string> ffmpeg_argv;
  std::string ffmpeg_failure;  // how it ended and its output, when not ok
};

ExtractBenchResult bench_extract(const ExtractBenchOptions& options);

// The argument vector as one line for display (not for a shell).
std::string display_command(const std::vector<std::string>& argv);

}  // namespace excap
