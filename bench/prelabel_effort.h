// `excap bench prelabel-effort`: how much of a label an annotator must still
// change when starting from a small model's pre-label rather than from the
// studio's empty mask, on the synthetic sample (docs/prelabels.md, "What
// pre-labels save").
//
// A sample is generated; the oracle expert labels the frames of every patient
// but the last `held_out` ones (or `frames` of them); a small model trains on
// those; `excap prelabel` suggests for the held-out patients' frames; each
// suggestion is compared with the ground truth.
//
// What is counted, per held-out frame, inside the field of view (the truth's
// non-background pixels: the sample's masks are background exactly outside
// the circle the camera sees):
//  * from scratch: the studio's empty mask is "unlabeled" (255) inside the
//    field of view and background outside it (annotator/core LabelDocument),
//    so every field-of-view pixel must be painted;
//  * from the pre-label: "accept suggestion" copies the suggested mask inside
//    the field of view (annotator/core suggestion_layer), so the pixels whose
//    suggested class differs from the truth must be repainted.
// CD: the studio starts with no CD chosen (one choice per frame from
// scratch); from the pre-label, the frames whose suggested CD is wrong.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>
#include <opencv2/core.hpp>

#include "bench/label_world.h"

namespace excap::trainer {

struct PrelabelEffortOptions {
  fs::path out = "excap-bench-prelabel-effort";  // absent or empty: sample/ and the JSON go here
  SynthOptions synth = [] {
    SynthOptions s;
    s.patients = 4;
    return s;
  }();
  int held_out = 1;         // the last patients: pre-labeled and compared, never trained on
  int frames = 0;           // labeled training frames (0: every frame of the other patients)
  std::uint64_t seed = 1;   // the sample, the choice of labeled frames and training
  LabelModelOptions model;  // iters default raised in the CLI
};

struct FrameEffort {
  std::string frame, patient;
  long long fov_pixels = 0;       // field-of-view pixels of the truth
  long long scratch_pixels = 0;   // to change starting from the empty mask
  long long prelabel_pixels = 0;  // to change starting from the pre-label
  int truth_cd = 0, suggested_cd = 0;
  double uncertainty = 0;  // the suggestion's queue score (store/prelabel.h)
};

struct EffortStats {
  double mean = 0, median = 0;
  long long total = 0;
};

struct PrelabelEffortResult {
  std::vector<std::string> train_patients, held_out_patients;
  int labeled_frames = 0;
  std::vector<FrameEffort> frames;
  EffortStats scratch, prelabel;
  double ratio = 0;  // prelabel.total / scratch.total
  int cd_scratch = 0, cd_prelabel = 0;
  double train_s = 0, prelabel_s = 0, total_s = 0;
  fs::path project, json;
  std::string run;
};

// The studio's empty mask for a frame whose field of view is `fov` (non-zero inside).
cv::Mat empty_start_mask(const cv::Mat& fov);
// Pixels inside `fov` where `start` differs from `truth`.
long long pixels_to_change(const cv::Mat& start, const cv::Mat& truth, const cv::Mat& fov);
EffortStats effort_stats(const std::vector<long long>& per_frame);

PrelabelEffortResult bench_prelabel_effort(const PrelabelEffortOptions& o, const BenchLog& log);
std::string format_prelabel_effort(const PrelabelEffortOptions& o, const PrelabelEffortResult& r);
nlohmann::json prelabel_effort_json(const PrelabelEffortOptions& o, const PrelabelEffortResult& r);

}  // namespace excap::trainer
