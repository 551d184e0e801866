// The shared metrics against their references: scikit-learn for kappa and the
// macro averages (random seeded label vectors), mmsegmentation's area
// definitions worked out by hand for the segmentation side.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "metrics/metrics.h"
#include "test_support.h"

using excap::metrics::ConfusionMatrix;
using excap::metrics::IgnoreIn;
using excap::metrics::KappaWeights;
using excap::metrics::SegAreas;

namespace {

// Python with scikit-learn, or "" (and a message) when it is not installed.
std::string sklearn_or_skip() {
  const std::string py = excap::test::reference_python();
  std::string out;
  if (py.empty() || excap::test::run_command({py, "-c", "import sklearn"}, &out) != 0) {
    MESSAGE("skipped: no python3 with scikit-learn (python3-sklearn) " << out);
    return "";
  }
  return py;
}

struct LabelCase {
  int k;
  std::vector<int> a, b;  // truth (first rater), prediction (second rater)
};

// Random label pairs over k classes: b copies a 60% of the time; class k-1 is
// never true in odd cases and class 0 never predicted in cases divisible by 3,
// so the macro average must leave absent classes out and score undefined ones 0.
std::vector<LabelCase> random_cases(unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<LabelCase> cases;
  for (int c = 0; c < 12; ++c) {
    LabelCase lc{3 + c % 3, {}, {}};
    const int n = 5 + static_cast<int>(rng() % 80);
    for (int i = 0; i < n; ++i) {
      lc.a.push_back(static_cast<int>(rng() % (c % 2 ? lc.k - 1 : lc.k)));
      lc.b.push_back(rng() % 10 < 6 ? lc.a[i] : static_cast<int>(rng() % lc.k));
      if (c % 3 == 0 && lc.b[i] == 0) lc.b[i] = 1;
    }
    lc.a[0] = 0, lc.b[0] = 1;  // never degenerate
    cases.push_back(std::move(lc));
  }
  return cases;
}

}  // namespace

TEST_CASE("kappa and macro precision/recall/F1 equal scikit-learn on random label vectors") {
  const std::string py = sklearn_or_skip();
  if (py.empty()) return;
  const auto cases = random_cases(20240611);
  nlohmann::json in = nlohmann::json::array();
  for (const auto& c : cases) in.push_back({{"a", c.a}, {"b", c.b}, {"k", c.k}});
  excap::test::ScratchDir dir("metrics_sklearn_reference");
  std::ofstream(dir / "in.json") << in.dump();
  std::ofstream(dir / "ref.py")
      << "import json, sys\n"
         "from sklearn.metrics import cohen_kappa_score, precision_recall_fscore_support\n"
         "out = []\n"
         "for c in json.load(open(sys.argv[1])):\n"
         "    a, b, labels = c['a'], c['b'], list(range(c['k']))\n"
         "    ks = [float(cohen_kappa_score(a, b, labels=labels, weights=w))\n"
         "          for w in (None, 'linear', 'quadratic')]\n"
         "    p, r, f, _ = precision_recall_fscore_support(a, b, average='macro',\n"
         "                                                 zero_division=0)\n"
         "    out.append(ks + [float(p), float(r), float(f)])\n"
         "json.dump(out, open(sys.argv[2], 'w'))\n";
  std::string out;
  // The answer goes to a file: stdout and stderr come back merged (warnings).
  const std::filesystem::path answer = dir / "ref_out.json";
  REQUIRE(excap::test::run_command(
              {py, (dir / "ref.py").string(), (dir / "in.json").string(), answer.string()}, &out) ==
          0);
  const auto ref = nlohmann::json::parse(std::ifstream(answer));
  REQUIRE(ref.size() == cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    ConfusionMatrix m(cases[i].k);
    m.process(cases[i].a, cases[i].b);
    const auto s = excap::metrics::summarize(m);
    CAPTURE(i);
    const KappaWeights w[] = {KappaWeights::None, KappaWeights::Linear, KappaWeights::Quadratic};
    for (int j = 0; j < 3; ++j)
      CHECK(excap::metrics::cohen_kappa(m, w[j]) ==
            doctest::Approx(ref[i][j].get<double>()).epsilon(1e-12));
    CHECK(s.precision == doctest::Approx(ref[i][3].get<double>()).epsilon(1e-12));
    CHECK(s.recall == doctest::Approx(ref[i][4].get<double>()).epsilon(1e-12));
    CHECK(s.f1 == doctest::Approx(ref[i][5].get<double>()).epsilon(1e-12));
  }
}

TEST_CASE("confusion matrix: batches of raw buffers, tables, range checks") {
  ConfusionMatrix m(3);
  const std::uint8_t truth[] = {0, 1, 2, 2}, pred[] = {0, 2, 2, 1};
  m.process(truth, pred, 4);
  m.add(1, 1);
  CHECK(m.counts() == std::vector<long long>{1, 0, 0, 0, 1, 1, 0, 1, 1});
  CHECK(m.table()[2] == std::vector<long long>{0, 1, 1});
  CHECK(m.total() == 5);
  CHECK(m.row_sum(2) == 2);
  CHECK(m.col_sum(2) == 2);
  CHECK(m.agreement() == doctest::Approx(3.0 / 5));
  CHECK(std::isnan(ConfusionMatrix(3).agreement()));
  const std::uint8_t bad[] = {3};
  CHECK_THROWS_AS(m.process(bad, pred, 1), excap::Error);
  CHECK_THROWS_AS(m.process(std::vector<int>{0, 1}, std::vector<int>{0}), excap::Error);
  CHECK_THROWS_AS(m.add(-1, 0), excap::Error);
  CHECK_THROWS_AS(ConfusionMatrix::from_counts({1, 2, 3}, 2), excap::Error);
  CHECK(m.total() == 5);  // a rejected batch item leaves earlier counts alone
}

TEST_CASE("segmentation areas: Dice and the mmsegmentation areas worked out by hand") {
  // 4 classes, ignore 255. label: 0 0 1 1 1 255 2 ; pred: 0 1 1 1 3 0 1
  // class 0: I1 P1 (pixel 5 ignored) L2 ; class 1: I2 P4 L3 ; class 2: I0 P0 L1 ;
  // class 3: predicted once, never labeled.
  const std::uint8_t label[] = {0, 0, 1, 1, 1, 255, 2}, pred[] = {0, 1, 1, 1, 3, 0, 1};
  SegAreas m(4);
  m.process(pred, label, 7);
  const auto s = m.compute();
  CHECK(s.pred_area == std::vector<long long>{1, 4, 0, 1});
  CHECK(s.label_area == std::vector<long long>{2, 3, 1, 0});
  CHECK(s.union_ == std::vector<long long>{2, 5, 1, 1});
  CHECK(s.dice[0] == doctest::Approx(2.0 / 3));
  CHECK(s.dice[1] == doctest::Approx(4.0 / 7));
  CHECK(s.dice[2] == 0.0);
  CHECK(s.dice[3] == 0.0);  // predicted but absent: 0, not NaN
  CHECK(s.iou[3] == 0.0);
  CHECK(std::isnan(s.acc[3]));
  CHECK(s.mDice == doctest::Approx((2.0 / 3 + 4.0 / 7) / 4));
  CHECK(s.aAcc == doctest::Approx(3.0 / 6));
  CHECK(m.pixel_agreement() == doctest::Approx(s.aAcc));
  CHECK(m.mean_iou() == doctest::Approx(s.mIoU));
  CHECK(m.compared == 6);
  CHECK(m.equal == 3);
}

TEST_CASE("segmentation areas: a label out of range is dropped but its prediction counts") {
  // mmseg's histc drops label 7 (2 classes) from the label areas only.
  const std::uint8_t label[] = {7, 1}, pred[] = {1, 1};
  SegAreas m(2);
  m.process(pred, label, 2);
  CHECK(m.pred_area == std::vector<long long>{0, 2});
  CHECK(m.label_area == std::vector<long long>{0, 1});
  CHECK(m.unlabeled == 1);
  CHECK(m.compute().iou[1] == doctest::Approx(0.5));
}

TEST_CASE("segmentation areas: two annotators drop a pixel either leaves unlabeled") {
  const std::uint8_t a[] = {1, 1, 255, 0}, b[] = {1, 255, 1, 0};
  SegAreas either(2, 255, IgnoreIn::Either), label_only(2, 255, IgnoreIn::Label);
  either.process(b, a, 4);
  label_only.process(b, a, 4);
  CHECK(either.unlabeled == 2);
  CHECK(either.iou()[1] == 1.0);  // the pixel b left unlabeled is not a disagreement
  CHECK(label_only.unlabeled == 1);
  CHECK(label_only.iou()[1] == doctest::Approx(0.5));
  // Summing frames: an empty accumulator takes the classes of the first frame.
  SegAreas sum;
  sum.add(either);
  sum.add(either);
  CHECK(sum.num_classes() == 2);
  CHECK(sum.intersect[1] == 2);
  CHECK(sum.unlabeled == 4);
  CHECK_THROWS_AS(SegAreas(256), excap::Error);
}
