// Per-class segmentation areas summed over many masks, and the scores divided
// once at the end: mmsegmentation's IoUMetric (process() per batch, compute()
// over the subset). One implementation for annotator agreement (mask A vs
// mask B) and for evaluation (label vs prediction).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace excap::metrics {

// Which side's ignore index drops a pixel. Label: mmsegmentation's rule (only
// the label can be unlabeled; a prediction out of range counts in no
// prediction area). Either: two annotators, a pixel either left unlabeled is
// not compared. For predictions in range (an argmax) the two agree.
enum class IgnoreIn { Label, Either };

struct SegScores {
  double aAcc = 0;               // sum(I) / sum(label area); NaN with no labeled pixel
  double mIoU = 0, mAcc = 0;     // mean over the classes whose value is not NaN
  double mDice = 0;              // likewise
  std::vector<double> iou, acc;  // per class; NaN where undefined
  std::vector<double> dice;      // 2I / (pred + label); NaN for a class absent from both
  std::vector<long long> intersect, union_, pred_area, label_area;
};

class SegAreas {
 public:
  explicit SegAreas(int num_classes = 0, int ignore_index = 255, IgnoreIn rule = IgnoreIn::Label);

  // `pred` and `label` hold `n` class indices each. Dropped pixels (the ignore
  // index, or a label value >= num_classes that mmsegmentation's bincount range
  // leaves out) count in `unlabeled`.
  void process(const std::uint8_t* pred, const std::uint8_t* label, std::size_t n);
  // Sums another accumulator's areas (frames into a pair, batches into a subset).
  void add(const SegAreas& other);

  SegScores compute() const;
  std::vector<double> iou() const;
  std::vector<double> acc() const;
  std::vector<double> dice() const;
  double mean_iou() const;         // mIoU
  double pixel_agreement() const;  // aAcc: share of compared pixels with the same class

  int num_classes() const { return static_cast<int>(intersect.size()); }

  std::vector<long long> intersect, pred_area, label_area;
  long long compared = 0;   // pixels scored (label kept)
  long long equal = 0;      // of those, the same class in both
  long long unlabeled = 0;  // pixels dropped

 private:
  int ignore_index_;
  IgnoreIn rule_;
};

// numpy.nanmean: the mean of the values that are not NaN; NaN when none is.
double nanmean(const std::vector<double>& v);

// NaN becomes JSON null; per-class IoU, Acc and the four areas, as metrics.json has them.
nlohmann::json to_json(const SegScores& s, const std::vector<std::string>& names);

}  // namespace excap::metrics
