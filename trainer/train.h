// The training loop: the paper's recipe (SGD, poly decay, batch 8, 240x240),
// validation every N iterations, best and latest checkpoints, exact resume,
// NaN/explosion stop, AMP and the CUDA fast paths. No printing: progress goes
// to a callback (the CLI prints it, the studio shows it).
#pragma once
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <string>

#include "common/fsutil.h"
#include "common/launch.h"
#include "trainer/train_config.h"

namespace excap::trainer {

struct TrainProgress {
  int iter = 0, iters = 0;  // completed / total
  double it_per_s = 0, images_per_s = 0, eta_s = 0, lr = 0;
  std::map<std::string, double> losses;  // means over the last log interval
  std::map<std::string, double> val;     // last validation scores
  int val_iter = -1;
  double best_score = 0;
  int best_iter = -1;
  std::string event;  // "log", "val", "checkpoint", "start"
};

struct TrainOutcome {
  enum class Status { Finished, Interrupted, Diverged } status = Status::Finished;
  int iter = 0;  // completed iterations when the loop ended
  int best_iter = -1;
  double best_score = 0;
  std::string message;
  fs::path run_dir;
  std::string device;
  int threads = 0;
};

struct TrainHooks {
  std::function<void(const TrainProgress&)> progress;  // called from the training thread
  const std::atomic<bool>* stop = nullptr;             // set (e.g. by SIGINT): save and return
  bool resume = false;  // continue runs/<run>/ from its latest checkpoint
  // This process's place in a data-parallel world (trainer/distributed.h); one process by default.
  LaunchInfo launch;
  std::chrono::milliseconds collective_timeout{1800 * 1000};
};

// Trains runs/<cfg.run>/ of the project at `project_root` from its packed
// split. A new run refuses an existing run folder with checkpoints; --resume
// takes the saved config.json (only device, threads and, when > 0, iters are
// taken from `cfg`; a changed iters changes the poly schedule from there on). Throws Error for bad
// input.
TrainOutcome train(const fs::path& project_root, TrainConfig cfg, const TrainHooks& hooks = {});

// The score the best checkpoint is chosen by (higher is better), from headline scores.
double selection_score(const std::string& best_metric, const std::map<std::string, double>& val);

}  // namespace excap::trainer
