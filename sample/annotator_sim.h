// Simulated annotators for the synthetic sample: given the ground truth of a
// frame they return a label that differs from it the way two people's labels
// differ (boundaries drawn a few pixels in or out, look-alike classes swapped,
// a small lesion overlooked, a borderline clearness degree called the other
// way), plus a plausible labeling time. Deterministic per
// (seed, annotator, frame id); random draws go through SynthRng.
#pragma once
#include <cstdint>
#include <string>

#include <opencv2/core.hpp>

namespace excap {

// How one simulated person labels. Rates are per frame.
struct AnnotatorProfile {
  std::string user;
  double jitter_regions = 3;      // mean number of local boundary edits (dilate/erode)
  int max_jitter_px = 3;          // largest boundary shift
  double swap_rate = 0.25;        // chance of relabeling part of a look-alike class
  double miss_lesion = 0.3;       // chance of overlooking each small lesion
  double cd_flip = 0.1;           // base chance of a neighbouring CD, higher near a threshold
  double seconds_per_frame = 45;  // median labeling time
};

// Two distinct profiles for the sample's annotators: index 0 is a careful,
// slower labeler who calls mild blur "blur"; index 1 is faster and coarser.
AnnotatorProfile default_annotator_profile(int index, const std::string& user);

struct SimulatedLabel {
  cv::Mat mask;  // CV_8UC1 CECD ids, background exactly where the truth has it
  int cd = 0;
  double time_spent_s = 0;
};

class AnnotatorSim {
 public:
  AnnotatorSim(std::uint64_t seed, AnnotatorProfile profile);
  const AnnotatorProfile& profile() const { return profile_; }

  // `truth_mask` holds CECD ids (0 outside the field of view); `truth_cd` is
  // its clearness degree. Throws Error for an empty or non-8-bit mask.
  SimulatedLabel label(const std::string& frame_id, const cv::Mat& truth_mask, int truth_cd) const;

 private:
  std::uint64_t seed_;
  AnnotatorProfile profile_;
};

// Intersection over union of two masks over the pixels where either is
// non-background, counting a pixel as agreeing when both hold the same id
// (the "pixel agreement" of two labels; 1 when both are all background).
double mask_agreement(const cv::Mat& a, const cv::Mat& b);

}  // namespace excap
