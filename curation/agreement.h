// Stage III agreement between annotators: Cohen's kappa and a confusion
// matrix on the clearness degree, per-class IoU/Dice between masks, the
// frames that need an expert, and CD/mask consistency flags. The report files
// with plots are written by report/agreement_report.h.
#pragma once
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>
#include <opencv2/core.hpp>

#include "common/fsutil.h"
#include "metrics/metrics.h"
#include "store/schema.h"

namespace excap {

class Project;

// ---- Clearness degree: kappa; masks: IoU and Dice ----
// The scores come from excap_metrics, the one implementation shared with
// evaluation; these adapters take the CD lists and cv::Mat masks of a project.

using metrics::KappaWeights;

// Cohen's kappa of a k x k row-major confusion matrix (rows = first rater) or
// of two rating lists, as scikit-learn's cohen_kappa_score; NaN when undefined.
// Throws Error for ratings out of range or lists of different lengths.
double cohen_kappa(const std::vector<long long>& confusion, int k,
                   KappaWeights weights = KappaWeights::None);
double cohen_kappa(const std::vector<int>& a, const std::vector<int>& b, int k,
                   KappaWeights weights = KappaWeights::None);

// Per-class areas of mask pairs summed over frames: label_area is the first
// mask's, pred_area the second's; IoU, Dice, mean IoU, pixel agreement.
using ClassAreas = metrics::SegAreas;

// Pixels that either mask leaves unlabeled (the ignore index) or holds a
// value >= num_classes are dropped and counted in `unlabeled`. Throws Error
// when sizes or types differ.
ClassAreas compare_masks(const cv::Mat& a, const cv::Mat& b, int num_classes, int ignore_index);

// ---- CD / mask consistency ----

struct ConsistencyRules {
  double invisible_max_visible_share = 0.5;  // "invisible" but mostly clear tissue/lesion
  double clear_max_invisible_share = 0.5;    // "clear" but mostly bubble/excreta cover
  double clear_max_blurred_share = 0.5;      // "clear" but mostly blurred tissue
  double blur_min_blurred_share = 0.01;      // "blur" with (almost) no blurred tissue...
  double blur_visible_share = 0.5;           // ...and mostly clear tissue
};

struct ConsistencyFlag {
  std::string frame;
  std::string user;  // annotator id, or "final"
  std::string rule;  // e.g. "invisible-but-clear", "incomplete-mask"
  std::string message;
  double value = 0;  // the share or count that tripped the rule
};

// Shares are over the field of view (labeled pixels that are not
// background). Rules whose classes the schema lacks (by name) are skipped.
std::vector<ConsistencyFlag> check_consistency(const std::string& frame, const std::string& user,
                                               std::optional<int> cd, const cv::Mat& mask,
                                               const LabelSchema& schema,
                                               const ConsistencyRules& rules = {});

// ---- Project report ----

struct AgreementOptions {
  double auto_accept_iou = 0.9;  // the threshold a frame must reach to skip the expert
  ConsistencyRules rules;
  int worst_frames = 12;  // tiles in the disagreement heatmap
};

struct PairAgreement {
  std::string a, b;
  std::vector<long long> cd_confusion;  // rows a, columns b
  int cd_frames = 0;
  double kappa = std::nan("");
  double kappa_quadratic = std::nan("");  // CD is ordinal: clear < blur < invisible
  double cd_agreement = std::nan("");     // observed share of equal CDs
  ClassAreas areas;                       // summed over the pair's frames
  int mask_frames = 0;
};

struct FrameReview {
  std::string frame;
  std::string a, b;  // the pair compared (first two annotators with labels)
  std::optional<int> cd_a, cd_b;
  bool masks_present = false;
  bool complete = false;  // both CDs set, both masks present and fully labeled
  ClassAreas areas;
  double mean_iou = std::nan("");
  double pixel_agreement = std::nan("");
  bool decided = false;  // final/<frame>.json exists
  std::string decided_by;
  bool auto_acceptable = false;  // complete, same CD, mean IoU >= threshold
  double disagreement = 0;       // ranking score, higher = needs an expert more
};

// Agreement over one group of frames: those where a compared label started
// from a model suggestion (pre-labeled) or those where none did (from scratch).
// Pooled over every annotator pair of the group's frames.
struct OriginAgreement {
  int frames = 0;  // frames with two or more labels in the group
  int cd_frames = 0;
  double kappa = std::nan("");
  double cd_agreement = std::nan("");
  ClassAreas areas;
  int mask_frames = 0;
};

struct AgreementReport {
  std::vector<std::string> tissue_names, cd_names;
  double auto_accept_iou = 0.9;
  std::vector<PairAgreement> pairs;
  std::vector<FrameReview> frames;        // one per frame with two labels
  std::vector<std::string> expert_queue;  // undecided, not auto-acceptable, worst first
  std::vector<ConsistencyFlag> flags;
  int frames_assigned = 0, frames_waiting_for_labels = 0;
  // Pre-labels weaken independence (store/prelabel.h): agreement by origin.
  OriginAgreement prelabeled, from_scratch;
};

// The rule the report and auto-accept share; documented in adjudication.h.
bool frame_auto_acceptable(const FrameReview& r, double iou_threshold);

AgreementReport compute_agreement(const Project& project, const AgreementOptions& opt = {});
nlohmann::json agreement_to_json(const AgreementReport& r);

// The table printed by `excap agreement`.
std::string agreement_summary(const AgreementReport& r);

// A score with three decimals, "n/a" for NaN: the summary's and the report's tables.
std::string format_score(double v);

}  // namespace excap
