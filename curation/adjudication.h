// Stage III adjudication: the library the studio's Adjudicate workspace and
// `excap adjudicate` call. An expert settles each frame the two annotators
// labeled (take A, take B, pick region by region, repaint); frames where both
// agree can be auto-accepted. A final label records its source, the expert
// and the time, and nothing here overwrites an expert's decision.
//
// Auto-accept rule (documented pixel rule):
//  * a frame qualifies when every assigned annotator has labeled it, all
//    chose the same CD, every mask is complete (no unlabeled 255 pixel), and
//    every pair of masks reaches mean IoU >= the threshold, the mean taken
//    over tissue classes present in either mask (so a small lesion one
//    annotator missed pulls the frame below the threshold);
//  * the final mask is the consensus: a pixel all annotators agree on keeps
//    that class; elsewhere the strict majority wins (3+ annotators); a tie
//    goes to the tied class with most unanimous pixels in the 5x5
//    neighbourhood, then to the one with most unanimous pixels in the frame,
//    then to the lowest class id. The rule is symmetric in the annotators.
//  * the record has source "agreed", expert "auto", the time, the
//    annotators and agreement_iou = the lowest pairwise mean IoU.
#pragma once
#include <array>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "common/fsutil.h"
#include "store/project.h"

namespace excap {

// The studio shows annotators as "Annotator 1" / "Annotator 2", never by name.
std::string annotator_display_name(int index);  // 0 -> "Annotator 1"

// ---- the final label's source ----

// How the final mask came about. FinalLabel (store/project.h) keeps the
// on-disk string, as store/ sits below curation; it is converted here.
enum class FinalSource {
  Agreed,    // both annotators identical, or auto-accepted
  A,         // Annotator 1's mask
  B,         // Annotator 2's mask
  Merged,    // region by region from one side or the other
  Repainted  // the expert painted pixels neither side had
};

// The on-disk spelling: "agreed", "A", "B", "merged", "repainted".
std::string to_string(FinalSource source);
// Exact spelling only; nullopt for anything else.
std::optional<FinalSource> parse_final_source(const std::string& text);
// "agreed, A, B, merged, repainted", for messages.
std::string allowed_final_sources();

// The source of a label read from final/<label.frame>.json; throws Error
// naming that file and the allowed values when it holds another value.
FinalSource final_source(const Project& project, const FinalLabel& label);
// Project::load_final with the source checked as final_source does.
std::optional<FinalLabel> load_final_label(const Project& project, const std::string& frame);

// ---- the queue ----

struct UndecidedFrame {
  std::string frame;
  std::vector<std::string> annotators;  // assigned
  int labeled = 0;                      // how many of them have saved a label
  bool ready = false;                   // >= 2 labels with CD and mask: the expert can decide
  bool auto_acceptable = false;         // would auto-accept pass (at the threshold given)
  // Why the frame cannot be decided: a mask holding a class outside the
  // schema ("<file>: <n> pixels hold class id <k>, ..."); never ready then.
  std::vector<std::string> blocked;
};

// Assigned frames without a final label, in frame id order.
std::vector<UndecidedFrame> undecided_frames(const Project& project, double auto_accept_iou = 0.9);
// The next ready undecided frame after `after` (wrapping), or nullopt.
std::optional<std::string> next_undecided_frame(const Project& project,
                                                const std::string& after = "");

// ---- one frame ----

struct AdjudicationCase {
  std::string frame;
  std::array<std::string, 2> annotators;  // the real ids, kept for the record only
  std::array<std::optional<int>, 2> cd;
  std::array<cv::Mat, 2> mask;  // CV_8UC1, same size
  cv::Mat image;                // BGR frame; empty when the file is missing
};

// Loads the first two annotators (assignment order) with a label. Throws
// Error when fewer than two labels exist, the masks differ in size, or an
// assigned annotator's mask holds a class outside the schema.
AdjudicationCase load_adjudication_case(const Project& project, const std::string& frame);

// Per-pixel difference of the two masks, for the diff view.
enum class PixelDiff : std::uint8_t {
  Agree = 0,      // same class
  Differ = 1,     // both labeled, different classes
  AOnly = 2,      // only Annotator 1 labeled the pixel
  BOnly = 3,      // only Annotator 2 labeled the pixel
  Unlabeled = 4,  // neither
};
cv::Mat pixel_diff(const cv::Mat& a, const cv::Mat& b, int ignore_index = 255);

// For one class: where A has it only, B only, or both.
enum class ClassDiff : std::uint8_t { Neither = 0, AOnly = 1, BOnly = 2, Both = 3 };
cv::Mat class_diff(const cv::Mat& a, const cv::Mat& b, int tissue_class);

struct DiffCounts {
  long long agree = 0, differ = 0, a_only = 0, b_only = 0, unlabeled = 0;
};
DiffCounts count_diff(const cv::Mat& pixel_diff_map);

// A connected component of pixels where the masks differ (a != b).
struct DisagreementRegion {
  int id = 0;  // 1-based; the label image holds it
  int area = 0;
  cv::Rect box;
  int class_a = -1, class_b = -1;  // the most common class of each side inside
};
struct DisagreementMap {
  cv::Mat labels;                           // CV_32S, 0 where the masks agree
  std::vector<DisagreementRegion> regions;  // regions[i].id == i + 1
};
DisagreementMap disagreement_regions(const cv::Mat& a, const cv::Mat& b, int connectivity = 8);

enum class Side { A = 0, B = 1 };

// The expert's working copy of one frame: starts as Annotator 1's label.
// The studio keeps its own undo stack of mask edits; this object holds state.
class AdjudicationDraft {
 public:
  explicit AdjudicationDraft(AdjudicationCase c);

  const AdjudicationCase& adjudication_case() const { return case_; }
  const DisagreementMap& regions() const { return regions_; }
  const cv::Mat& mask() const { return mask_; }
  std::optional<int> cd() const { return cd_; }

  void take(Side side);                        // whole mask and CD of one side
  void pick_region(int region_id, Side side);  // copy that side's pixels in one region
  int region_at(int x, int y) const;           // 0 when the masks agree there
  void set_cd(int cd) { cd_ = cd; }
  void repaint(const cv::Mat& edited_mask);  // the labeling tools' result

  // "agreed" when both sides are identical and the mask equals them; "A" or
  // "B" when the mask equals one side; "merged" when every pixel comes from
  // one side or the other; "repainted" otherwise.
  FinalSource source() const;

 private:
  AdjudicationCase case_;
  DisagreementMap regions_;
  cv::Mat mask_;
  std::optional<int> cd_;
};

struct SaveOptions {
  // An expert revising an expert decision (their own or another's) must say so.
  bool replace_expert_decision = false;
};

// Writes final/<frame>.png then final/<frame>.json (the record is the commit
// point), and an audit line. `expert` must be a project user with role
// expert. Replaces an auto-accepted label; refuses to replace an expert's
// decision unless options.replace_expert_decision. Throws Error.
FinalLabel save_expert_decision(const Project& project, const AdjudicationDraft& draft,
                                const std::string& expert, const SaveOptions& options = {});

// ---- auto-accept ----

cv::Mat consensus_mask(const std::vector<cv::Mat>& masks, int ignore_index = 255);

struct AutoAcceptOptions {
  double iou_threshold = 0.9;
  std::string by = "excap";  // who ran it, for the audit log
  bool dry_run = false;
};

struct AutoAcceptResult {
  int accepted = 0;
  int already_decided = 0;     // never touched
  int waiting_for_labels = 0;  // fewer labels than assigned annotators
  int incomplete = 0;          // a CD or mask missing, or unlabeled pixels
  int cd_differs = 0;
  int below_threshold = 0;
  int blocked = 0;  // a mask holds a class outside the schema
  std::vector<std::string> accepted_frames;
  std::vector<std::string> blocked_reasons;  // one line per bad mask, naming the file
};

AutoAcceptResult auto_accept(const Project& project, const AutoAcceptOptions& opt);

// ---- the demo's simulated expert ----

struct TruthLabel {
  int cd = 0;
  cv::Mat mask;
};
using TruthSource = std::function<std::optional<TruthLabel>(const std::string& frame)>;

// Reads <dir>/<frame>.png and the CD from <dir>/truth.json: either
// {"frames": {"<id>": {"cd": k}}}, {"frames": [{"frame"|"id": ..., "cd": k}]},
// or {"<id>": k}. Frames absent from it give nullopt.
TruthSource truth_from_folder(const fs::path& dir);

struct SimulatedExpertResult {
  int decided = 0;
  int no_truth = 0;
  int not_ready = 0;
  std::map<std::string, int> by_source;  // keyed by to_string(FinalSource)
};

// Settles every ready undecided frame as a careful expert would with the
// ground truth in hand: picks, region by region, the side that matches the
// truth in more pixels, and sets the true CD. Uses the same API as the studio.
SimulatedExpertResult simulated_expert(const Project& project, const std::string& expert,
                                       const TruthSource& truth);

// Per-class pixel counts of a mask (index 0..num_classes-1; the rest ignored).
std::vector<long long> mask_class_histogram(const cv::Mat& mask, int num_classes);

// Per-class pixel counts of each frame's final mask (final/<id>.png): the
// pixel-share statistics of `make_split` (split.h keeps image code out).
std::function<std::vector<long long>(const std::string& frame)> final_mask_histogram(
    const Project& project);

}  // namespace excap
