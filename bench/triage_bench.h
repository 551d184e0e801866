// `excap bench triage`: end-to-end frames/s of triage on a video, the
// model's achieved GFLOP/s (analytic cost, model/flops.h), the fast-path
// variants (BN folding off, channels-last on/off), next to a PyTorch eager +
// OpenCV Python peer (bench/peers/bench_triage_reference.py: the same weights
// from the checkpoint's safetensors, the same frames, threads and batch) and
// the machine's measured 3x3-convolution peak (bench/train_bench.h), from one run.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "triage/triage.h"

namespace excap::trainer {

struct BenchTriageOptions {
  TriageOptions triage;    // video, run, rate, batch, threads, device (outputs are not written)
  long long frames = 64;   // processed frames per timed run (0: the whole video)
  bool variants = true;    // also time BN folding off and the other channels-last layout
  std::string python;      // interpreter of the peer; empty: skip it
  fs::path python_script;  // bench/peers/bench_triage_reference.py (share/excap/peers)
  bool conv_peak = true;
};

struct BenchVariant {
  std::string name;  // "fast path", "BN unfolded", "channels-last", ...
  long long frames = 0;
  double wall_s = 0, infer_s = 0, decode_s = 0;
  double fps() const { return wall_s > 0 ? frames / wall_s : 0; }
  double infer_fps() const { return infer_s > 0 ? frames / infer_s : 0; }
};

struct BenchTriageResult {
  std::string device, precision, model, fold;
  int threads = 0, batch = 0, size = 0;
  double gflop_per_frame = 0;
  std::vector<BenchVariant> runs;  // runs[0]: the configuration triage uses
  double achieved_gflops = 0;      // model only: gflop_per_frame * frames / inference time
  double e2e_gflops = 0;           // gflop_per_frame * end-to-end frames/s
  double conv_peak_gflops = 0;
  bool has_python = false;
  double py_fps = 0, py_infer_fps = 0, py_decode_s = 0, py_infer_s = 0, py_wall_s = 0;
  long long py_frames = 0;
  double py_max_prob_diff =
      -1;  // max |p_cpp - p_python| over the compared frames (same model check)
  std::string python_note;
};

BenchTriageResult bench_triage(const BenchTriageOptions& options);
std::string format_bench_triage(const BenchTriageResult& r);
nlohmann::json bench_triage_json(const BenchTriageResult& r);

}  // namespace excap::trainer
