// Classification and segmentation scores, computed exactly as DESIGN.md's
// "Metrics" section says. No LibTorch, no OpenCV: the evaluator feeds raw
// label maps, and tests feed hand-made ones.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace excap::trainer {

// mmsegmentation's IoUMetric: process() sums per-class areas over the whole
// subset, compute() divides once at the end.
class SegmentationMetrics {
 public:
  explicit SegmentationMetrics(int num_classes, int ignore_index = 255);

  // `pred` and `label` hold `n` class indices each. Pixels whose label is the
  // ignore index are dropped; so are label values >= num_classes (mmseg drops
  // them through its bincount range) - they are counted in ignored_pixels().
  void process(const std::uint8_t* pred, const std::uint8_t* label, std::size_t n);

  struct Result {
    double aAcc = 0;                 // sum(I) / sum(label area), NaN with no labeled pixel
    double mIoU = 0, mAcc = 0;       // mean over classes whose value is not NaN
    std::vector<double> iou, acc;    // per class; NaN where undefined
    std::vector<long long> intersect, union_, pred_area, label_area;
  };
  Result compute() const;
  long long ignored_pixels() const { return ignored_; }
  int num_classes() const { return num_classes_; }

 private:
  int num_classes_;
  int ignore_index_;
  std::vector<long long> intersect_, pred_area_, label_area_;
  long long ignored_ = 0;
};

// Accuracy, scikit-learn style macro precision/recall/F1 (zero_division=0)
// and the confusion matrix (rows: true class, columns: predicted).
class ClassificationMetrics {
 public:
  explicit ClassificationMetrics(int num_classes);
  void process(int truth, int predicted);  // throws Error for out-of-range values

  struct Result {
    double accuracy = 0;
    double precision = 0, recall = 0, f1 = 0;  // macro over the labels sklearn would use
    std::vector<double> class_precision, class_recall, class_f1;
    std::vector<long long> support;
    std::vector<std::vector<long long>> confusion;
    long long count = 0;
  };
  Result compute() const;

 private:
  int num_classes_;
  std::vector<std::vector<long long>> confusion_;
};

// NaN becomes JSON null (JSON has no NaN).
nlohmann::json to_json(const SegmentationMetrics::Result& r, const std::vector<std::string>& names);
nlohmann::json to_json(const ClassificationMetrics::Result& r, const std::vector<std::string>& names);

// Cohen's kappa of a confusion matrix (rows: rater A, columns: rater B); NaN when
// the expected agreement is 1 (both raters used a single, identical class).
double cohen_kappa(const std::vector<std::vector<long long>>& confusion);

}  // namespace excap::trainer
