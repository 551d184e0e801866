#include "metrics/confusion.h"

#include <cmath>
#include <cstdlib>
#include <limits>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "metrics/ratio.h"

namespace excap::metrics {

namespace {
using detail::kNaN;
using detail::number_or_null;
using detail::ratio;

std::string out_of_range(int row, int col, int k) {
  return "pair (" + std::to_string(row) + ", " + std::to_string(col) + ") outside classes 0.." +
         std::to_string(k - 1);
}
}  // namespace

ConfusionMatrix::ConfusionMatrix(int num_classes) : k_(num_classes) {
  if (num_classes < 0) throw Error("confusion matrix", "negative number of classes");
  counts_.assign(std::size_t(k_) * k_, 0);
}

ConfusionMatrix ConfusionMatrix::from_counts(std::vector<long long> counts, int num_classes) {
  ConfusionMatrix m(num_classes);
  if (counts.size() != m.counts_.size())
    throw Error("confusion matrix", std::to_string(counts.size()) + " counts for " +
                                        std::to_string(num_classes) + " classes (not k x k)");
  m.counts_ = std::move(counts);
  return m;
}

void ConfusionMatrix::add(int row, int col) {
  if (row < 0 || row >= k_ || col < 0 || col >= k_)
    throw Error("confusion matrix", out_of_range(row, col, k_));
  ++counts_[std::size_t(row) * k_ + col];
}

void ConfusionMatrix::process(const std::uint8_t* rows, const std::uint8_t* cols, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    if (rows[i] >= k_ || cols[i] >= k_)
      throw Error("confusion matrix",
                  out_of_range(rows[i], cols[i], k_) + " at item " + std::to_string(i));
    ++counts_[std::size_t(rows[i]) * k_ + cols[i]];
  }
}

void ConfusionMatrix::process(const std::vector<int>& rows, const std::vector<int>& cols) {
  if (rows.size() != cols.size())
    throw Error("confusion matrix", "the two sequences have " + std::to_string(rows.size()) +
                                        " and " + std::to_string(cols.size()) + " labels");
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (rows[i] < 0 || rows[i] >= k_ || cols[i] < 0 || cols[i] >= k_)
      throw Error("confusion matrix",
                  out_of_range(rows[i], cols[i], k_) + " at item " + std::to_string(i));
    ++counts_[std::size_t(rows[i]) * k_ + cols[i]];
  }
}

std::vector<std::vector<long long>> ConfusionMatrix::table() const {
  std::vector<std::vector<long long>> t(k_);
  for (int r = 0; r < k_; ++r)
    t[r].assign(counts_.begin() + std::size_t(r) * k_, counts_.begin() + std::size_t(r + 1) * k_);
  return t;
}

long long ConfusionMatrix::total() const {
  long long n = 0;
  for (long long c : counts_) n += c;
  return n;
}

long long ConfusionMatrix::row_sum(int row) const {
  long long s = 0;
  for (int c = 0; c < k_; ++c) s += at(row, c);
  return s;
}

long long ConfusionMatrix::col_sum(int col) const {
  long long s = 0;
  for (int r = 0; r < k_; ++r) s += at(r, col);
  return s;
}

double ConfusionMatrix::agreement() const {
  long long diag = 0;
  for (int c = 0; c < k_; ++c) diag += at(c, c);
  return ratio(diag, total());
}

double cohen_kappa(const ConfusionMatrix& m, KappaWeights weights) {
  const int k = m.num_classes();
  std::vector<double> rows(k, 0), cols(k, 0);
  double n = 0;
  for (int i = 0; i < k; ++i)
    for (int j = 0; j < k; ++j) rows[i] += m.at(i, j), cols[j] += m.at(i, j), n += m.at(i, j);
  if (n == 0) return kNaN;
  double observed = 0, expected = 0;  // both weighted; sklearn's w_mat * confusion / expected
  for (int i = 0; i < k; ++i)
    for (int j = 0; j < k; ++j) {
      double w = i == j ? 0.0 : 1.0;
      if (weights == KappaWeights::Linear) w = std::abs(i - j);
      if (weights == KappaWeights::Quadratic) w = double(i - j) * (i - j);
      observed += w * m.at(i, j);
      expected += w * rows[i] * cols[j] / n;
    }
  if (expected == 0) return kNaN;  // chance agreement is perfect: kappa undefined
  return 1.0 - observed / expected;
}

ClassificationSummary summarize(const ConfusionMatrix& m) {
  const int k = m.num_classes();
  ClassificationSummary s;
  s.confusion = m.table();
  s.count = m.total();
  s.accuracy = m.agreement();
  // sklearn average='macro' with labels=None averages over the classes that
  // occur in y_true or y_pred; an undefined ratio counts as 0 (zero_division=0).
  int used = 0;
  for (int c = 0; c < k; ++c) {
    const long long tp = m.at(c, c), predicted = m.col_sum(c);
    s.support.push_back(m.row_sum(c));
    const double p = predicted == 0 ? 0.0 : double(tp) / double(predicted);
    const double r = s.support[c] == 0 ? 0.0 : double(tp) / double(s.support[c]);
    const double f = (p + r) == 0 ? 0.0 : 2 * p * r / (p + r);
    s.class_precision.push_back(p);
    s.class_recall.push_back(r);
    s.class_f1.push_back(f);
    if (s.support[c] > 0 || predicted > 0) {
      s.precision += p, s.recall += r, s.f1 += f;
      ++used;
    }
  }
  if (used > 0) s.precision /= used, s.recall /= used, s.f1 /= used;
  return s;
}

nlohmann::json to_json(const ClassificationSummary& s, const std::vector<std::string>& names) {
  nlohmann::json per = nlohmann::json::array();
  for (std::size_t c = 0; c < s.support.size(); ++c)
    per.push_back({{"class", c < names.size() ? names[c] : std::to_string(c)},
                   {"precision", s.class_precision[c]},
                   {"recall", s.class_recall[c]},
                   {"f1", s.class_f1[c]},
                   {"support", s.support[c]}});
  return {{"accuracy", number_or_null(s.accuracy)},
          {"precision", s.precision},
          {"recall", s.recall},
          {"f1", s.f1},
          {"count", s.count},
          {"confusion", s.confusion},
          {"per_class", per}};
}

}  // namespace excap::metrics
