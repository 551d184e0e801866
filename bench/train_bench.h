// `excap bench train`: the speed of one training step (forward, losses,
// backward, SGD step) on a fixed random batch, in iterations/s, images/s and
// achieved GFLOP/s, next to the same network's step in PyTorch Python with the
// same threads, and the machine's measured 3x3-convolution peak for context.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "common/fsutil.h"
#include "model/config.h"

namespace excap::trainer {

struct BenchTrainOptions {
  model::ModelConfig model;
  int size = 240, batch = 8;
  int iters = 10, warmup = 2;
  int threads = 0;  // 0: all hardware threads
  std::string device = "auto";
  std::string amp = "auto";       // auto (the trainer's choice) | off (fp32) | bf16 (forced)
  std::string cpu_fast = "auto";  // the trainer's CPU speed policy (trainer/speed.h)
  std::string python;             // interpreter of the peer; empty: skip the Python run
  fs::path
      python_script;  // bench/peers/bench_train_reference.py (installed under share/excap/peers)
  bool conv_peak = true;
};

struct BenchTrainResult {
  std::string device;
  nlohmann::json speed;  // the policy the C++ step ran with (what and why)
  int threads = 0;
  std::int64_t params = 0;
  double gflop_per_step = 0;  // analytic: 3 x forward (backward ~ 2 x forward)
  double it_s = 0, images_s = 0, step_ms = 0, achieved_gflops = 0;
  double peak_memory_mb = 0;  // host peak RSS of this process after the timed steps
  double conv_peak_gflops = 0;
  bool has_python = false;
  double py_it_s = 0, py_images_s = 0, py_step_ms = 0, py_gflops = 0, py_peak_rss_mb = 0;
  std::string python_note;  // why the Python run is missing, or its torch version
};

BenchTrainResult bench_train(const BenchTrainOptions& options);

// Best of a few timed 3x3 convolutions (N=8, 256->256 channels, 30x30, fp32)
// on `device`: the practical conv peak GFLOP/s of this machine and threads.
double measure_conv_peak(const std::string& device);

std::string format_bench(const BenchTrainOptions& o, const BenchTrainResult& r);
nlohmann::json bench_json(const BenchTrainOptions& o, const BenchTrainResult& r);

}  // namespace excap::trainer
