// `excap bench ddp`: data-parallel scaling on this machine. The same global
// batch is trained by 1 process and by N processes (each its share, gradients
// all-reduced through Gloo/NCCL); the ratio of their steps/s is printed against
// the ideal N x. Each process is this program started again as a worker
// (`bench ddp --worker-out FILE` with torchrun's variables), so the figure
// includes process-group traffic exactly as `excap train` pays it.
#pragma once
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "common/fsutil.h"
#include "common/launch.h"
#include "model/config.h"

namespace excap::trainer {

struct BenchDdpOptions {
  model::ModelConfig model;
  int size = 128, batch = 8;  // batch: the global batch, divided among the processes
  int iters = 10, warmup = 2;
  int threads = 1;  // per process: N processes use N times the cores of one
  int processes = 2;
  std::string device = "cpu";
  fs::path program;  // the excap-model binary the workers run
};

struct BenchDdpResult {
  double it_s_one = 0, it_s_many = 0;
  std::string backend;
  double speedup() const { return it_s_one > 0 ? it_s_many / it_s_one : 0; }
};

// Starts the 1-process and the N-process runs and reads their figures; throws Error.
BenchDdpResult bench_ddp(const BenchDdpOptions& o);

// One worker's timed steps in the world of `launch`; rank 0 writes {"it_s", "backend"} to `out`.
void run_ddp_worker(const BenchDdpOptions& o, const LaunchInfo& launch, const fs::path& out);

std::string format_bench_ddp(const BenchDdpOptions& o, const BenchDdpResult& r);
nlohmann::json bench_ddp_json(const BenchDdpOptions& o, const BenchDdpResult& r);

}  // namespace excap::trainer
