// Confusion matrix of two label sequences, Cohen's kappa and the
// classification summary (accuracy, macro precision/recall/F1). One
// implementation for annotator agreement (CD of rater A vs rater B) and for
// evaluation (true CD vs predicted CD); definitions as DESIGN.md "Metrics".
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace excap::metrics {

// Counts of (row, column) pairs, k x k, row-major. Rows: the reference
// (true class, or the first rater); columns: the prediction (or the second).
class ConfusionMatrix {
 public:
  explicit ConfusionMatrix(int num_classes = 0);
  // Takes over a k x k row-major table; throws Error when its size is not k*k.
  static ConfusionMatrix from_counts(std::vector<long long> counts, int num_classes);

  // Throws Error for a value outside 0..k-1.
  void add(int row, int col);
  // One batch of pairs (mmsegmentation's process()); throws Error on a value
  // out of range, naming the item.
  void process(const std::uint8_t* rows, const std::uint8_t* cols, std::size_t n);
  void process(const std::vector<int>& rows, const std::vector<int>& cols);

  int num_classes() const { return k_; }
  long long at(int row, int col) const { return counts_[std::size_t(row) * k_ + col]; }
  const std::vector<long long>& counts() const { return counts_; }
  std::vector<std::vector<long long>> table() const;  // counts() as k rows
  long long total() const;
  long long row_sum(int row) const;
  long long col_sum(int col) const;
  // Share of pairs on the diagonal (accuracy, or observed agreement); NaN when empty.
  double agreement() const;

 private:
  int k_;
  std::vector<long long> counts_;
};

enum class KappaWeights { None, Linear, Quadratic };

// Cohen's kappa as scikit-learn's cohen_kappa_score computes it:
// 1 - sum(w*O) / sum(w*E), E the outer product of the margins over n.
// NaN when undefined (no pairs, or both raters used one same class).
double cohen_kappa(const ConfusionMatrix& m, KappaWeights weights = KappaWeights::None);

// Accuracy and scikit-learn's average='macro' precision/recall/F1 with
// zero_division=0, averaged over the classes present in truth or prediction.
struct ClassificationSummary {
  double accuracy = 0;                                          // NaN with no pairs
  double precision = 0, recall = 0, f1 = 0;                     // macro
  std::vector<double> class_precision, class_recall, class_f1;  // 0 where undefined
  std::vector<long long> support;                               // true count per class
  std::vector<std::vector<long long>> confusion;                // rows true, columns predicted
  long long count = 0;
};
ClassificationSummary summarize(const ConfusionMatrix& m);

// NaN becomes JSON null (JSON has no NaN); classes named from `names`.
nlohmann::json to_json(const ClassificationSummary& s, const std::vector<std::string>& names);

}  // namespace excap::metrics
