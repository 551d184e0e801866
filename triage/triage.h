// `excap triage`: runs a trained model over every frame (or every N-th, or
// F per second) of a whole capsule video and marks the few clear,
// informative frames the reader should see first (triage/select.h).
//
// Pipeline: one decoder thread reads frames in order (media/video.h),
// blanks everything outside the field of view (detected from a sample of the
// video, as stage I extraction does), converts and resizes each frame exactly
// as `excap pack` does for training (BGR->RGB, area when shrinking, linear
// when growing) and hands batches of uint8 NHWC frames to a bounded queue;
// the calling thread normalises them (trainer/data.h) and runs the model
// (triage/infer_fast.h) on the other cores. Works on any video file: nothing
// is imported into a project.
#pragma once
#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "media/frameops.h"
#include "media/video.h"
#include "model/model.h"
#include "store/schema.h"
#include "trainer/train_config.h"
#include "triage/infer_fast.h"
#include "triage/select.h"

namespace excap::trainer {

// A trained model ready for triage, with what was checked about its run.
struct TriageModel {
  model::MultiTaskNet net;
  TrainConfig config;         // runs/NAME/config.json
  fs::path run_dir, weights;  // the checkpoint's weights.safetensors
  LabelSchema schema;         // the classes the run was trained on (CECD, checked)
  std::string schema_source;  // where the class names came from
};

// The schema triage needs: CECD (its rule reads "clear", "clear tissue", "lesion").
LabelSchema triage_schema();

// Loads runs/NAME (config.json and the checkpoint `checkpoint`: "best",
// "latest" or a weights .safetensors path; "best" falls back to "latest").
// Throws Error with a clear message for a missing run, config or
// checkpoint, a model that is not multi-task (triage needs both the CD and
// the tissue output), and a run trained on another label schema (class
// names from config.json's "schema", else the packed training data's header,
// else the project's project.json; the class counts always).
TriageModel load_triage_model(const fs::path& run_dir, const std::string& checkpoint = "best");

// Compares the run's class names with triage_schema(); throws Error naming
// the run, `source` and the first difference.
void check_run_schema(const LabelSchema& run, const std::string& run_name,
                      const std::string& source);

struct TriageProgress {
  long long done = 0, total = 0;  // processed frames / planned
  double frames_per_s = 0, eta_s = 0, elapsed_s = 0;
};

struct TriageOptions {
  fs::path video;
  fs::path run_dir;
  std::string checkpoint = "best";
  int every_n = 0;  // > 0: every N-th frame (wins over fps)
  double fps = 0;   // > 0: this many frames per second (stage I's rule); neither: every frame
  SelectionRule rule;
  int batch = 0;    // 0: 16 on CPU, 128 on CUDA
  int threads = 0;  // inference intra-op threads; 0: all hardware threads but the decoder's
  std::string device = "auto";
  std::string channels_last = "auto";  // auto | on | off (auto: on for CUDA, off on CPU, measured)
  std::string precision = "auto";      // auto | fp32 | fp16 (auto: fp16 on CUDA, fp32 on CPU)
  bool fold_bn = true;
  int queue_batches = 3;       // bounded queue between the decoder and the model
  int contact_sheet_max = 48;  // kept frames shown on the contact sheet (highest scores)
  long long max_frames = 0;    // stop after this many processed frames (0: all); for benchmarks
  std::function<void(const TriageProgress&)> progress;  // from the inference thread, ~2x per second
  const std::atomic<bool>* cancel = nullptr;  // set (SIGINT): stop decoding, keep what is done
};

// One kept frame of the contact sheet: the model's input and its prediction.
struct SheetFrame {
  long long index = 0;
  double time_s = 0, score = 0, p_clear = 0, lesion = 0;
  cv::Mat rgb;   // input-size RGB (blanked outside the field of view)
  cv::Mat mask;  // predicted tissue classes at the same size
};

struct TriageResult {
  fs::path video;
  VideoInfo info;
  FieldOfView fov;
  std::string run_name, weights;
  model::ModelConfig model;
  int input_size = 0;
  LabelSchema schema;
  std::vector<FrameScore> frames;            // one per processed frame, in video order
  std::vector<std::vector<float>> cd_probs;  // [frame][cd class]
  std::vector<std::vector<float>> shares;    // [frame][tissue class], of the field of view
  long long planned = 0, processed = 0, kept = 0, quota = 0;
  bool interrupted = false, truncated = false;
  std::vector<std::string> warnings;
  SelectionRule rule;
  std::string device, precision;
  int threads = 0, batch = 0;
  bool channels_last = false;
  FoldReport fold;
  double wall_s = 0, decode_s = 0, infer_s = 0, setup_s = 0;  // decode_s: decoder thread busy time
  std::vector<SheetFrame> sheet;                              // chronological
  double frames_per_s() const { return wall_s > 0 ? processed / wall_s : 0; }
};

// Runs the whole pipeline and the selection; writes nothing.
TriageResult run_triage(const TriageOptions& options);
TriageResult run_triage(const TriageOptions& options, TriageModel& model);

// frames.csv, summary.json, timeline.png and contact_sheet.png in `out_dir`
// (created), each written atomically.
void write_triage_outputs(const TriageResult& result, const fs::path& out_dir);

// The pictures, for the writer and the tests.
cv::Mat draw_timeline(const TriageResult& r);
cv::Mat draw_contact_sheet(const TriageResult& r);

}  // namespace excap::trainer
