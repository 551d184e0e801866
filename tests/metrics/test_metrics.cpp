// Metrics on hand-made cases whose answers are worked out by hand, plus a
// cross-check of the classification averages against scikit-learn.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "metrics/metrics.h"
#include "test_support.h"

using excap::metrics::ConfusionMatrix;
using excap::metrics::SegAreas;
using excap::metrics::summarize;

TEST_CASE("segmentation metrics: ignore pixels, absent class NaN, predicted-but-absent IoU 0") {
  // 3 classes. Label uses 0 and 1 (and 255); prediction also says 2 on one
  // pixel where the label is 1; class 2 never in the label.
  const std::uint8_t label[] = {0, 0, 1, 1, 1, 255, 255, 0};
  const std::uint8_t pred[] = {0, 1, 1, 1, 2, 2, 0, 0};
  SegAreas m(3);
  m.process(pred, label, 8);
  auto r = m.compute();
  CHECK(m.unlabeled == 2);
  // class 0: label {0,1,7}, pred {0,7} (pixel 6 is ignored) -> I=2, U=3
  CHECK(r.intersect[0] == 2);
  CHECK(r.union_[0] == 3);
  CHECK(r.iou[0] == doctest::Approx(2.0 / 3));
  CHECK(r.acc[0] == doctest::Approx(2.0 / 3));
  // class 1: label {2,3,4}, pred {1,2,3} -> I=2, U=4
  CHECK(r.iou[1] == doctest::Approx(0.5));
  CHECK(r.acc[1] == doctest::Approx(2.0 / 3));
  // class 2: predicted on pixel 4 (pixel 5 ignored), never labelled -> IoU 0, Acc NaN
  CHECK(r.iou[2] == 0.0);
  CHECK(std::isnan(r.acc[2]));
  CHECK(r.mIoU == doctest::Approx((2.0 / 3 + 0.5 + 0.0) / 3));
  CHECK(r.mAcc == doctest::Approx((2.0 / 3 + 2.0 / 3) / 2));  // NaN left out
  CHECK(r.aAcc == doctest::Approx(4.0 / 6));
}

TEST_CASE("segmentation metrics: class absent from label and prediction is NaN and left out") {
  SegAreas m(4);
  const std::uint8_t label[] = {0, 1, 1, 0};
  const std::uint8_t pred[] = {0, 1, 0, 0};
  m.process(pred, label, 4);
  auto r = m.compute();
  CHECK(std::isnan(r.iou[2]));
  CHECK(std::isnan(r.iou[3]));
  CHECK(std::isnan(r.acc[3]));
  CHECK(r.iou[0] == doctest::Approx(2.0 / 3));
  CHECK(r.iou[1] == doctest::Approx(0.5));
  CHECK(r.mIoU == doctest::Approx((2.0 / 3 + 0.5) / 2));
  CHECK(r.mAcc == doctest::Approx((1.0 + 0.5) / 2));
  auto j = excap::metrics::to_json(r, {"a", "b", "c", "d"});
  CHECK(j["per_class"][2]["IoU"].is_null());
}

TEST_CASE("segmentation metrics: areas are summed over the subset, not averaged per image") {
  // Image 1: class 1 perfect on 1 pixel. Image 2: class 1 wrong on 3 pixels.
  // Per-image mean IoU of class 1 would be (1 + 0) / 2; summed areas give 1/4.
  SegAreas m(2);
  const std::uint8_t l1[] = {1, 0, 0, 0}, p1[] = {1, 0, 0, 0};
  const std::uint8_t l2[] = {1, 1, 1, 0}, p2[] = {0, 0, 0, 0};
  m.process(p1, l1, 4);
  m.process(p2, l2, 4);
  auto r = m.compute();
  CHECK(r.iou[1] == doctest::Approx(1.0 / 4));
  CHECK(r.aAcc == doctest::Approx(5.0 / 8));
}

TEST_CASE("segmentation metrics: only ignore pixels gives NaN everywhere, not a crash") {
  SegAreas m(2);
  const std::uint8_t l[] = {255, 255}, p[] = {0, 1};
  m.process(p, l, 2);
  auto r = m.compute();
  CHECK(std::isnan(r.aAcc));
  CHECK(std::isnan(r.mIoU));
}

TEST_CASE("classification metrics: macro averages with a never-predicted class") {
  // truth: 0 0 1 1 2 2 ; predicted: 0 0 0 1 0 1 -> class 2 never predicted.
  ConfusionMatrix m(3);
  const int t[] = {0, 0, 1, 1, 2, 2}, p[] = {0, 0, 0, 1, 0, 1};
  for (int i = 0; i < 6; ++i) m.add(t[i], p[i]);
  auto r = summarize(m);
  CHECK(r.accuracy == doctest::Approx(3.0 / 6));
  // precision: c0 2/4, c1 1/2, c2 undefined -> 0 ; recall: c0 1, c1 1/2, c2 0
  CHECK(r.class_precision[2] == 0.0);
  CHECK(r.precision == doctest::Approx((0.5 + 0.5 + 0.0) / 3));
  CHECK(r.recall == doctest::Approx((1.0 + 0.5 + 0.0) / 3));
  const double f0 = 2 * 0.5 * 1.0 / 1.5, f1 = 0.5;
  CHECK(r.f1 == doctest::Approx((f0 + f1 + 0.0) / 3));
  CHECK(r.confusion[2][0] == 1);
  CHECK(r.confusion[2][1] == 1);
}

TEST_CASE("classification metrics: a class absent from truth and prediction is not averaged") {
  // sklearn labels=None uses the union of y_true and y_pred: class 2 is out.
  ConfusionMatrix m(3);
  m.add(0, 0);
  m.add(1, 0);
  auto r = summarize(m);
  CHECK(r.precision == doctest::Approx((0.5 + 0.0) / 2));
  CHECK(r.recall == doctest::Approx((1.0 + 0.0) / 2));
  CHECK_THROWS(m.add(3, 0));
}

TEST_CASE("cohen kappa of a hand-made table") {
  // 2x2: a=20 b=5 / c=10 d=15, n=50 -> po=0.7, pe=(25*30+25*20)/2500=0.5 -> 0.4
  CHECK(excap::metrics::cohen_kappa(ConfusionMatrix::from_counts({20, 5, 10, 15}, 2)) ==
        doctest::Approx(0.4));
}

TEST_CASE("classification metrics agree with scikit-learn on random labels") {
  const std::string py = excap::test::reference_python();
  if (py.empty()) return;
  std::mt19937 rng(7);
  std::vector<int> t, p;
  ConfusionMatrix m(4);
  for (int i = 0; i < 200; ++i) {
    t.push_back(rng() % 3);                         // class 3 never true
    p.push_back((rng() % 5 == 0) ? 3 : rng() % 2);  // class 2 never predicted
    m.add(t.back(), p.back());
  }
  auto r = summarize(m);
  excap::test::ScratchDir dir("trainer_metrics_sklearn");
  std::ofstream(dir / "check.py")
      << "import json,sys\nfrom sklearn.metrics import accuracy_score, "
         "precision_recall_fscore_support\n"
         "d=json.load(open(sys.argv[1]))\n"
         "p,r,f,_=precision_recall_fscore_support(d['t'],d['p'],average='macro',zero_division=0)\n"
         "print(json.dumps([accuracy_score(d['t'],d['p']),p,r,f]))\n";
  std::ofstream(dir / "in.json") << nlohmann::json({{"t", t}, {"p", p}}).dump();
  std::string out;
  REQUIRE(excap::test::run_command({py, (dir / "check.py").string(), (dir / "in.json").string()},
                                   &out) == 0);
  auto v = nlohmann::json::parse(out);
  CHECK(r.accuracy == doctest::Approx(v[0].get<double>()).epsilon(1e-12));
  CHECK(r.precision == doctest::Approx(v[1].get<double>()).epsilon(1e-12));
  CHECK(r.recall == doctest::Approx(v[2].get<double>()).epsilon(1e-12));
  CHECK(r.f1 == doctest::Approx(v[3].get<double>()).epsilon(1e-12));
}
