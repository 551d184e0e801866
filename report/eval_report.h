// The evaluation report (needs OpenCV): predicted masks as PNGs, charts
// (loss and validation curves, confusion matrix, per-class IoU bars), overlay
// panels image | ground truth | prediction (the paper's Figure 5) and report.md.
#pragma once
#include <string>

#include "common/fsutil.h"
#include "store/schema.h"
#include "trainer/eval_result.h"

namespace excap::trainer {

struct ReportOptions {
  int overlay_frames = 6;  // frames shown in the overlay panel
};

// Writes into eval_dir(run_dir, r): pred/<id>.png, plots/*.png,
// overlays.png, report.md. Reads run_dir/metrics.jsonl for the curves when
// present. Returns the path of report.md.
fs::path write_eval_report(const fs::path& run_dir, const EvalResult& r, const LabelSchema& schema,
                           const ReportOptions& options = {});

}  // namespace excap::trainer
