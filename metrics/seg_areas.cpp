#include "metrics/seg_areas.h"

#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "metrics/ratio.h"

namespace excap::metrics {

namespace {
using detail::kNaN;
using detail::number_or_null;
using detail::ratio;
}  // namespace

double nanmean(const std::vector<double>& v) {
  double sum = 0;
  int n = 0;
  for (double x : v)
    if (!std::isnan(x)) sum += x, ++n;
  return n == 0 ? kNaN : sum / n;
}

SegAreas::SegAreas(int num_classes, int ignore_index, IgnoreIn rule)
    : intersect(num_classes < 0 ? 0 : num_classes, 0),
      pred_area(intersect.size(), 0),
      label_area(intersect.size(), 0),
      ignore_index_(ignore_index),
      rule_(rule) {
  if (num_classes < 0 || num_classes > 255)
    throw Error("segmentation areas",
                "number of classes must be 0..255, not " + std::to_string(num_classes));
}

void SegAreas::process(const std::uint8_t* pred, const std::uint8_t* label, std::size_t n) {
  const int k = num_classes();
  const bool either = rule_ == IgnoreIn::Either;
  // mmseg intersect_and_union: drop ignore-index pixels, then histc over
  // [0, num_classes-1], which drops any value outside that range from that
  // histogram alone (a label out of range still leaves its prediction counted).
  for (std::size_t i = 0; i < n; ++i) {
    const int l = label[i], p = pred[i];
    if (l == ignore_index_ || (either && (p == ignore_index_ || p >= k || l >= k))) {
      ++unlabeled;
      continue;
    }
    if (p < k) ++pred_area[p];
    if (l >= k) {
      ++unlabeled;
      continue;
    }
    ++compared;
    ++label_area[l];
    if (p == l) ++intersect[l], ++equal;
  }
}

void SegAreas::add(const SegAreas& o) {
  if (intersect.size() < o.intersect.size()) {  // an empty accumulator takes the other's classes
    intersect.resize(o.intersect.size(), 0);
    pred_area.resize(o.intersect.size(), 0);
    label_area.resize(o.intersect.size(), 0);
  }
  for (std::size_t c = 0; c < o.intersect.size(); ++c) {
    intersect[c] += o.intersect[c];
    pred_area[c] += o.pred_area[c];
    label_area[c] += o.label_area[c];
  }
  compared += o.compared;
  equal += o.equal;
  unlabeled += o.unlabeled;
}

std::vector<double> SegAreas::iou() const {
  std::vector<double> r(intersect.size());
  for (std::size_t c = 0; c < r.size(); ++c)
    r[c] = ratio(intersect[c], pred_area[c] + label_area[c] - intersect[c]);
  return r;
}

std::vector<double> SegAreas::acc() const {
  std::vector<double> r(intersect.size());
  for (std::size_t c = 0; c < r.size(); ++c) r[c] = ratio(intersect[c], label_area[c]);
  return r;
}

std::vector<double> SegAreas::dice() const {
  std::vector<double> r(intersect.size());
  for (std::size_t c = 0; c < r.size(); ++c)
    r[c] = ratio(2 * intersect[c], pred_area[c] + label_area[c]);
  return r;
}

double SegAreas::mean_iou() const { return nanmean(iou()); }

double SegAreas::pixel_agreement() const { return ratio(equal, compared); }

SegScores SegAreas::compute() const {
  SegScores s;
  s.intersect = intersect;
  s.pred_area = pred_area;
  s.label_area = label_area;
  for (std::size_t c = 0; c < intersect.size(); ++c)
    s.union_.push_back(pred_area[c] + label_area[c] - intersect[c]);
  s.iou = iou();
  s.acc = acc();
  s.dice = dice();
  long long total_i = 0, total_l = 0;
  for (std::size_t c = 0; c < intersect.size(); ++c)
    total_i += intersect[c], total_l += label_area[c];
  s.aAcc = ratio(total_i, total_l);
  s.mIoU = nanmean(s.iou);
  s.mAcc = nanmean(s.acc);
  s.mDice = nanmean(s.dice);
  return s;
}

nlohmann::json to_json(const SegScores& s, const std::vector<std::string>& names) {
  nlohmann::json per = nlohmann::json::array();
  for (std::size_t c = 0; c < s.iou.size(); ++c)
    per.push_back({{"class", c < names.size() ? names[c] : std::to_string(c)},
                   {"IoU", number_or_null(s.iou[c])},
                   {"Acc", number_or_null(s.acc[c])},
                   {"intersect", s.intersect[c]},
                   {"union", s.union_[c]},
                   {"pred_area", s.pred_area[c]},
                   {"label_area", s.label_area[c]}});
  return {{"aAcc", number_or_null(s.aAcc)},
          {"mIoU", number_or_null(s.mIoU)},
          {"mAcc", number_or_null(s.mAcc)},
          {"per_class", per}};
}

}  // namespace excap::metrics
