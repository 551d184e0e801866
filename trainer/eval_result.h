// What an evaluation produced, as plain data (no LibTorch, no OpenCV): the
// evaluator fills it, metrics.json and the report are written from it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/fsutil.h"
#include "metrics/metrics.h"
#include "metrics/seg_areas.h"
#include "trainer/packed.h"

namespace excap::trainer {

// A class-index map of one frame at its own size (row-major, height x width).
struct FrameMask {
  int height = 0, width = 0;
  std::vector<std::uint8_t> pixels;
};

// Where segmentation is scored. Original: logits resized to each frame's final
// mask (mmsegmentation's rule); Packed: at the packed size against the packed masks.
enum class ScoredAt { Original, Packed };
std::string to_string(ScoredAt at);  // "original" | "packed"

struct EvalResult {
  std::string run, subset, checkpoint;  // checkpoint: "best" | "latest" | a path
  std::string folder;                   // folder under <run>/eval/ (empty: subset)
  int iteration = 0;                    // training iteration of the weights
  bool has_cls = false, has_seg = false;
  PackedSubset data;                     // the evaluated frames (images, masks, cd, ids)
  std::vector<std::uint8_t> pred_cd;     // [N]
  std::vector<std::uint8_t> pred_masks;  // [N * size * size], argmax at the packed size
  ScoredAt scored_at = ScoredAt::Packed;
  // ScoredAt::Original only: each frame's prediction at its final mask's size
  // ([N]), and the areas summed against those masks frame by frame.
  std::vector<FrameMask> pred_original;
  metrics::SegAreas original_areas;
  metrics::ClassificationSummary cls;
  metrics::SegScores seg;
  double seconds = 0;  // wall time of the forward passes
};

// Computes the metrics of `r` (fills r.cls / r.seg): classification from
// pred_cd; segmentation from pred_masks against the packed masks, or with
// ScoredAt::Original from original_areas (the original masks are not kept).
void score(EvalResult& r);

// {"format":"excap-eval","version":1, run, subset, checkpoint, iteration,
//  count, scored_at, "classification": {...}, "segmentation": {...}}
nlohmann::json eval_json(const EvalResult& r);

// <run_dir>/eval/<subset>/
fs::path eval_dir(const fs::path& run_dir, const std::string& subset);
// Where r's files go: <run_dir>/eval/<r.folder, else r.subset>/
fs::path eval_dir(const fs::path& run_dir, const EvalResult& r);

// metrics.json, and predictions.safetensors (pred_masks U8 [N,H,W], pred_cd U8 [N],
// ids in metadata) for builds without OpenCV; returns the folder.
fs::path write_eval_files(const fs::path& run_dir, const EvalResult& r,
                          bool write_predictions_tensor);

}  // namespace excap::trainer
