// `excap eval` as one call (no LibTorch in this header, so the CLI and the
// studio include it cheaply): load a run's checkpoint, predict a packed subset, score it.
#pragma once
#include <string>

#include "common/fsutil.h"
#include "trainer/eval_result.h"

namespace excap::trainer {

struct EvalOptions {
  std::string run;
  std::string subset = "test";
  std::string checkpoint = "best";  // best | latest | path to a weights .safetensors
  std::string device = "auto";
  int threads = 0;
  int batch = 8;
};

// Loads the run's config and checkpoint, predicts the packed subset of the
// run's split and scores it. Writes nothing (see write_eval_files / report.h).
EvalResult evaluate_run(const fs::path& project_root, const EvalOptions& options);

}  // namespace excap::trainer
