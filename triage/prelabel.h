// `excap prelabel`: runs a trained run's model over a project's frames and
// stores one suggestion per frame (store/prelabel.h): CD probabilities, the
// tissue mask and per-pixel confidence at the frame's own size, and the
// entropies the uncertainty-first assignment orders by. Never writes labels.
#pragma once
#include <functional>
#include <string>

#include "common/fsutil.h"

namespace excap::trainer {

struct PrelabelOptions {
  std::string run;                   // runs/<run>/
  std::string checkpoint = "best";   // best | latest
  std::string frames = "unlabeled";  // unlabeled (no final label yet) | all
  std::string device = "auto";
  int threads = 0;
  int batch = 8;     // frames per forward pass and per locked write
  std::string user;  // who asks (provenance and the audit log)
};

struct PrelabelProgress {
  int done = 0, total = 0;  // frames handled of those planned (skipped ones included)
  int written = 0, skipped = 0;
};

struct PrelabelResult {
  int planned = 0, written = 0, skipped = 0;  // skipped: already suggested by the same weights
  std::string weights_sha256;
  int checkpoint_iter = -1;
};

// Refuses (Error) when the project's `prelabels` setting is off, `user` is not
// a project user, or the run cannot be loaded (triage's checks: a multi-task
// model on the CECD schema). Writes in batches, each under the project lock
// as one change with an audit entry; resumable: a frame whose suggestion came
// from the same weights (SHA-256) is skipped.
PrelabelResult run_prelabel(const fs::path& project_root, const PrelabelOptions& options,
                            const std::function<void(const PrelabelProgress&)>& progress = {});

}  // namespace excap::trainer
