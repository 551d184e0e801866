// `excap eval` as one call (no LibTorch in this header, so the CLI and the
// studio include it cheaply): load a run's checkpoint, predict a packed subset, score it.
#pragma once
#include <functional>
#include <string>

#include "common/fsutil.h"
#include "trainer/eval_result.h"

namespace excap {
class Project;
}

namespace excap::trainer {

struct EvalOptions {
  std::string run;
  std::string subset = "test";
  std::string checkpoint = "best";  // best | latest | path to a weights .safetensors
  std::string out;  // folder name under <run>/eval/; empty: eval_folder_name's choice
  std::string device = "auto";
  int threads = 0;
  int batch = 8;
  // Score at the packed size against the packed masks instead of resizing the
  // logits to each frame's final mask (the default, as mmsegmentation scores).
  bool at_packed_size = false;
  std::function<void(int done, int total)> progress;  // frames predicted, after each batch
};

// Whether this build reads PNG masks (it does when built with OpenCV); without,
// only the packed-size scoring is possible.
bool reads_final_masks();

// The final mask of `frame_id` (final/<id>.png) at its own size; throws Error
// naming the file when it is absent or unreadable, or when reads_final_masks() is false.
FrameMask read_final_mask(const Project& project, const std::string& frame_id);

// The folder under <run>/eval/ the results go to. The run's own checkpoints
// (best, latest) write <subset>; a weights file writes <subset>-<file stem>
// (<subset>-<parent folder> for a file named weights.safetensors, as in a
// checkpoint folder), so it never replaces the run's own eval/<subset>/.
// options.out, when given, is used as is: a single safe name, and not
// <subset> for a weights file. The subset, too, must be a safe name
// (common/ids.h), as it names the packed file read. Throws excap::Error otherwise.
std::string eval_folder_name(const EvalOptions& options);

// Loads the run's config and checkpoint, predicts the packed subset of the
// run's split and scores it; sets the result's folder (eval_folder_name).
// Segmentation is scored at each frame's final mask size unless
// options.at_packed_size (read_final_mask per frame, one frame's resized
// logits in memory at a time). Writes nothing (see write_eval_files / report.h).
EvalResult evaluate_run(const fs::path& project_root, const EvalOptions& options);

}  // namespace excap::trainer
