// Which frames of a triaged video the reader sees first. Plain data, no
// LibTorch, no OpenCV: the rule is tested on hand-made frame lists.
//
// The rule (CECD schema; shares are fractions of the field-of-view pixels of
// the predicted tissue mask):
//   1. Eligible: the predicted clearness degree is "clear" (argmax of the CD
//      probabilities) and clear tissue + lesion cover at least
//      `min_visible` of the field of view. Others are never kept: the quota
//      is an upper bound, not a target, so a murky video yields fewer frames.
//   2. Score = p(clear) * (clear-tissue share + (1 + lesion_weight) * lesion share):
//      sharp frames first, then the ones showing the most tissue, lesions
//      counting extra (they are what the reader looks for).
//   3. Greedy by score (ties: earlier frame first): a frame is kept unless a
//      kept frame lies within `min_gap_s` seconds of it (one still stretch
//      of the capsule cannot fill the quota), until the quota is reached.
//   4. Quota = floor(keep * processed frames + 0.5), at least 1 when keep > 0
//      and a frame was processed; the kept count never exceeds it.
#pragma once
#include <string>
#include <vector>

namespace excap::trainer {

struct SelectionRule {
  double keep = 0.1;             // share of processed frames to keep at most
  double min_gap_s = 1.0;        // seconds between two kept frames, at least
  double min_visible = 0.25;     // clear tissue + lesion share of the field of view
  double lesion_weight = 1.0;    // extra weight of lesion pixels in the score
  std::string describe() const;  // the rule above with these numbers, one paragraph
};

// Why a frame was or was not kept (frames.csv "reason" column).
enum class Verdict { Kept, NotClear, LittleTissue, TooClose, QuotaFull };
const char* verdict_name(
    Verdict v);  // "kept", "not_clear", "little_tissue", "too_close", "quota_full"

struct FrameScore {
  long long index = 0;  // source frame index
  double time_s = 0;
  int cd_pred = 0;  // argmax of the CD probabilities
  double p_clear = 0;
  double clear_tissue = 0;  // share of the field of view
  double lesion = 0;        // share of the field of view
  // Filled by select_frames:
  double score = 0;
  Verdict verdict = Verdict::NotClear;
  long long near_kept = -1;  // TooClose: the kept frame it is too close to
};

long long selection_quota(double keep, long long processed);
bool triage_eligible(const FrameScore& f, const SelectionRule& rule);  // step 1
double triage_score(const FrameScore& f, const SelectionRule& rule);   // step 2

// Applies the rule in place (score, verdict, near_kept); returns the kept count.
long long select_frames(std::vector<FrameScore>& frames, const SelectionRule& rule);

}  // namespace excap::trainer
