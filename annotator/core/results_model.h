// What the Results workspace shows, read from disk once (no ImGui): the
// project's runs with their training curves (metrics.jsonl), evaluation
// summaries (eval/<subset>/metrics.json and the worst frames from pred/), the
// comparison table (report/compare.h) and triage outputs (frames.csv,
// summary.json). Files follow docs/runs.md and docs/triage.md.
#pragma once
#include <future>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "common/fsutil.h"
#include "report/compare.h"
#include "store/schema.h"

namespace excap::annotator {

struct CurvePoint {
  long long iter = 0;
  double value = 0;
};

// One series over iterations: "loss", "loss_cls", "lr", "val.mIoU", "score".
struct Curve {
  std::string name;
  std::vector<CurvePoint> points;
};

struct MetricsLog {
  std::vector<Curve> losses;          // every loss*/log_var* key, in order of appearance
  Curve lr{"lr", {}};                 // learning rate of the last step
  std::vector<Curve> validation;      // val.<metric> and score
  std::vector<std::string> events;    // "start at 0 (cpu)", "end at 40: ..."
  std::vector<std::string> problems;  // "metrics.jsonl line 3: ..." (skipped lines)
};

// Reads metrics.jsonl; a line that is not a JSON object is skipped and named
// in problems, never thrown. A missing file gives an empty log.
MetricsLog read_metrics_log(const fs::path& file);

// One evaluated frame with its picture, truth and prediction (RGBA thumbnails).
struct WorstFrame {
  std::string frame;
  double miou = 0;  // mean IoU over the classes present in truth or prediction
  double pixel_accuracy = 0;
  cv::Mat image, truth, pred;  // CV_8UC4, at most thumb_px on the long side
};

struct EvalSummary {
  std::string subset, checkpoint, scored_at;
  fs::path dir;
  long long iteration = 0, count = 0;
  bool has_cls = false, has_seg = false;
  double accuracy = 0, precision = 0, recall = 0, f1 = 0;  // NaN for null
  std::vector<std::vector<long long>> confusion;           // rows true, columns predicted
  double aAcc = 0, mIoU = 0, mAcc = 0;
  std::vector<std::pair<std::string, double>> iou;  // class, IoU (NaN: absent)
  std::vector<WorstFrame> worst;                    // lowest per-frame mIoU first
  std::vector<std::string> problems;
};

struct RunSummary {
  std::string name, arch, backbone;
  fs::path dir;
  long long iters = 0;
  MetricsLog log;
  std::vector<EvalSummary> evals;  // one per eval/<folder>, by name
  std::vector<std::string> problems;
};

struct KeptFrame {
  long long frame = 0;
  double time_s = 0, score = 0;
};

// One triaged video: the series along the video and the kept frames.
struct TriageSeries {
  std::string name;
  fs::path dir, video;
  std::string video_id;  // the project's video with that source, "" when none
  double fps = 0;
  std::vector<long long> frame;
  std::vector<double> time_s, p_clear;
  std::vector<std::string> share_names;     // tissue names of the share_* columns
  std::vector<std::vector<double>> shares;  // [share][row]
  std::vector<KeptFrame> kept;              // every kept frame, in video order
  std::vector<long long> sheet;             // frames of contact_sheet.png, tile order
  int sheet_columns = 0;                    // the sheet's grid (see sheet_tile_at)
  fs::path contact_sheet;                   // "" when absent
  cv::Size sheet_size;                      // of contact_sheet.png
  cv::Mat sheet_rgba;                       // the sheet, at most 1600 px on its long side
  std::vector<std::string> problems;
};

// The contact sheet's tile under (u, v) in [0,1) of the picture, -1 when none:
// triage/output.cpp lays up to 48 frames out 4 per row above a legend.
int sheet_tile_at(const TriageSeries& t, cv::Size sheet_size, double u, double v);

struct ResultsSnapshot {
  LabelSchema schema;
  std::vector<RunSummary> runs;
  std::vector<trainer::CompareRow> compare;  // runs with eval/test
  std::string compare_subset = "test";
  std::vector<TriageSeries> triage;
  std::vector<std::string> problems;
  long long fingerprint = 0;
};

struct ResultsOptions {
  int worst_count = 6;
  int thumb_px = 128;
};

// Reads everything the workspace shows. Unreadable parts become problems of
// their run, eval or triage folder; only an unopenable project throws.
ResultsSnapshot load_results(const fs::path& project_root, const ResultsOptions& options = {});

// Triage folders of the project: DIR/triage and, as `excap demo` lays it out,
// DIR/../triage when its summary names weights of this project's runs; each either one
// video (summary.json) or many (videos/<name>/summary.json).
std::vector<fs::path> triage_folders(const fs::path& project_root);
TriageSeries read_triage(const fs::path& folder, const fs::path& project_root);

// Changes when a file the snapshot reads is added, removed or rewritten
// (mtimes and sizes of the run, eval and triage files): cheap, a few stats.
long long results_fingerprint(const fs::path& project_root);

// Loads on a worker thread so the UI never waits on disk.
class ResultsLoader {
 public:
  explicit ResultsLoader(fs::path project_root, ResultsOptions options = {});
  void start();       // a new load; ignored while one is running
  bool busy() const;  // a load is running or its snapshot not taken yet
  // The finished snapshot, once per load; nothing while running.
  std::optional<ResultsSnapshot> take();
  const fs::path& root() const { return root_; }

 private:
  fs::path root_;
  ResultsOptions options_;
  std::future<ResultsSnapshot> future_;
};

}  // namespace excap::annotator
