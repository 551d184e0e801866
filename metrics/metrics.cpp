#include "metrics/metrics.h"

#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace excap::trainer {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double ratio(long long num, long long den) {
  return den == 0 ? kNaN : static_cast<double>(num) / static_cast<double>(den);
}

// numpy.nanmean; NaN when every value is NaN.
double nanmean(const std::vector<double>& v) {
  double sum = 0;
  int n = 0;
  for (double x : v)
    if (!std::isnan(x)) sum += x, ++n;
  return n == 0 ? kNaN : sum / n;
}

nlohmann::json number_or_null(double v) {
  return std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v);
}
}  // namespace

SegmentationMetrics::SegmentationMetrics(int num_classes, int ignore_index)
    : num_classes_(num_classes),
      ignore_index_(ignore_index),
      intersect_(num_classes, 0),
      pred_area_(num_classes, 0),
      label_area_(num_classes, 0) {
  if (num_classes <= 0 || num_classes > 255)
    throw Error("segmentation metrics", "number of classes must be 1..255");
}

void SegmentationMetrics::process(const std::uint8_t* pred, const std::uint8_t* label,
                                  std::size_t n) {
  // mmseg intersect_and_union: drop ignore-index pixels, then histc over
  // [0, num_classes-1], which silently drops any value outside that range.
  for (std::size_t i = 0; i < n; ++i) {
    const int l = label[i];
    if (l == ignore_index_) {
      ++ignored_;
      continue;
    }
    const int p = pred[i];
    if (p < num_classes_) ++pred_area_[p];
    if (l < num_classes_) {
      ++label_area_[l];
      if (p == l) ++intersect_[l];
    } else {
      ++ignored_;
    }
  }
}

SegmentationMetrics::Result SegmentationMetrics::compute() const {
  Result r;
  r.intersect = intersect_;
  r.pred_area = pred_area_;
  r.label_area = label_area_;
  r.union_.resize(num_classes_);
  long long total_i = 0, total_l = 0;
  for (int c = 0; c < num_classes_; ++c) {
    r.union_[c] = pred_area_[c] + label_area_[c] - intersect_[c];
    r.iou.push_back(ratio(intersect_[c], r.union_[c]));
    r.acc.push_back(ratio(intersect_[c], label_area_[c]));
    total_i += intersect_[c];
    total_l += label_area_[c];
  }
  r.aAcc = ratio(total_i, total_l);
  r.mIoU = nanmean(r.iou);
  r.mAcc = nanmean(r.acc);
  return r;
}

ClassificationMetrics::ClassificationMetrics(int num_classes)
    : num_classes_(num_classes),
      confusion_(num_classes, std::vector<long long>(num_classes, 0)) {
  if (num_classes <= 0) throw Error("classification metrics", "number of classes must be > 0");
}

void ClassificationMetrics::process(int truth, int predicted) {
  if (truth < 0 || truth >= num_classes_ || predicted < 0 || predicted >= num_classes_)
    throw Error("classification metrics", "class " + std::to_string(truth) + "/" +
                                              std::to_string(predicted) + " out of range");
  ++confusion_[truth][predicted];
}

ClassificationMetrics::Result ClassificationMetrics::compute() const {
  Result r;
  r.confusion = confusion_;
  long long correct = 0;
  std::vector<long long> pred_count(num_classes_, 0);
  r.support.assign(num_classes_, 0);
  for (int t = 0; t < num_classes_; ++t)
    for (int p = 0; p < num_classes_; ++p) {
      r.count += confusion_[t][p];
      r.support[t] += confusion_[t][p];
      pred_count[p] += confusion_[t][p];
      if (t == p) correct += confusion_[t][p];
    }
  r.accuracy = ratio(correct, r.count);
  // sklearn average='macro' with labels=None averages over the classes that
  // occur in y_true or y_pred; an undefined ratio counts as 0 (zero_division=0).
  int used = 0;
  for (int c = 0; c < num_classes_; ++c) {
    const long long tp = confusion_[c][c];
    const double p = pred_count[c] == 0 ? 0.0 : double(tp) / double(pred_count[c]);
    const double rc = r.support[c] == 0 ? 0.0 : double(tp) / double(r.support[c]);
    const double f = (p + rc) == 0 ? 0.0 : 2 * p * rc / (p + rc);
    r.class_precision.push_back(p);
    r.class_recall.push_back(rc);
    r.class_f1.push_back(f);
    if (r.support[c] > 0 || pred_count[c] > 0) {
      r.precision += p, r.recall += rc, r.f1 += f;
      ++used;
    }
  }
  if (used > 0) r.precision /= used, r.recall /= used, r.f1 /= used;
  return r;
}

nlohmann::json to_json(const SegmentationMetrics::Result& r,
                       const std::vector<std::string>& names) {
  nlohmann::json per = nlohmann::json::array();
  for (std::size_t c = 0; c < r.iou.size(); ++c)
    per.push_back({{"class", c < names.size() ? names[c] : std::to_string(c)},
                   {"IoU", number_or_null(r.iou[c])},
                   {"Acc", number_or_null(r.acc[c])},
                   {"intersect", r.intersect[c]},
                   {"union", r.union_[c]},
                   {"pred_area", r.pred_area[c]},
                   {"label_area", r.label_area[c]}});
  return {{"aAcc", number_or_null(r.aAcc)},
          {"mIoU", number_or_null(r.mIoU)},
          {"mAcc", number_or_null(r.mAcc)},
          {"per_class", per}};
}

nlohmann::json to_json(const ClassificationMetrics::Result& r,
                       const std::vector<std::string>& names) {
  nlohmann::json per = nlohmann::json::array();
  for (std::size_t c = 0; c < r.support.size(); ++c)
    per.push_back({{"class", c < names.size() ? names[c] : std::to_string(c)},
                   {"precision", r.class_precision[c]},
                   {"recall", r.class_recall[c]},
                   {"f1", r.class_f1[c]},
                   {"support", r.support[c]}});
  return {{"accuracy", number_or_null(r.accuracy)},
          {"precision", r.precision},
          {"recall", r.recall},
          {"f1", r.f1},
          {"count", r.count},
          {"confusion", r.confusion},
          {"per_class", per}};
}

double cohen_kappa(const std::vector<std::vector<long long>>& m) {
  const std::size_t k = m.size();
  double n = 0, agree = 0;
  std::vector<double> rows(k, 0), cols(k, 0);
  for (std::size_t i = 0; i < k; ++i)
    for (std::size_t j = 0; j < k; ++j) {
      n += m[i][j];
      rows[i] += m[i][j];
      cols[j] += m[i][j];
      if (i == j) agree += m[i][j];
    }
  if (n == 0) return kNaN;
  double expected = 0;
  for (std::size_t i = 0; i < k; ++i) expected += rows[i] * cols[i] / (n * n);
  if (expected == 1.0) return kNaN;
  return (agree / n - expected) / (1.0 - expected);
}

}  // namespace excap::trainer
