// Agreement between annotators and model evaluation score through the same
// metrics: on the same pair of masks (and CD lists) they give the same figures.
#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include <opencv2/core.hpp>

#include "curation/agreement.h"
#include "trainer/eval_result.h"

namespace {

// A seeded 8-class mask; `unlabeled` pixels hold the ignore index 255.
cv::Mat random_mask(std::mt19937& rng, int size, double unlabeled) {
  cv::Mat m(size, size, CV_8UC1);
  std::uniform_real_distribution<double> u(0, 1);
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x)  // blocks of 4 px, so classes overlap as masks do
      m.at<std::uint8_t>(y, x) = static_cast<std::uint8_t>(((x / 4 + y / 4 * 3) + rng() % 3) % 7);
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x)
      if (u(rng) < unlabeled) m.at<std::uint8_t>(y, x) = 255;
  return m;
}

std::vector<std::uint8_t> bytes_of(const cv::Mat& m) {
  return std::vector<std::uint8_t>(m.datastart, m.dataend);
}

}  // namespace

TEST_CASE("agreement and evaluation give the same figures on the same pair of masks") {
  std::mt19937 rng(11);
  const int size = 24;
  const cv::Mat reference = random_mask(rng, size, 0.05);  // rater A / ground truth
  const cv::Mat other = random_mask(rng, size, 0.0);       // rater B / prediction (an argmax)
  const std::vector<int> cd_a = {0, 1, 2, 2, 0, 1, 1, 0}, cd_b = {0, 2, 2, 1, 0, 1, 0, 0};

  const excap::ClassAreas agreement = excap::compare_masks(reference, other, 8, 255);

  excap::trainer::EvalResult eval;
  eval.has_seg = eval.has_cls = true;
  eval.data.size = size;
  eval.data.ignore_index = 255;
  eval.data.tissue_names.assign(8, "class");
  eval.data.cd_names = {"clear", "blur", "invisible"};
  for (std::size_t i = 0; i < cd_a.size(); ++i) eval.data.ids.push_back("f" + std::to_string(i));
  // One frame of masks per id: the same pair of masks, repeated.
  std::vector<std::uint8_t> truth, pred;
  for (std::size_t i = 0; i < cd_a.size(); ++i) {
    for (auto v : bytes_of(reference)) truth.push_back(v);
    for (auto v : bytes_of(other)) pred.push_back(v);
  }
  const auto n = static_cast<std::int64_t>(cd_a.size());
  eval.data.masks =
      excap::safetensors::Tensor(excap::safetensors::DType::U8, {n, size, size}, truth);
  eval.pred_masks = pred;
  std::vector<std::uint8_t> cd_truth(cd_a.begin(), cd_a.end());
  eval.data.cd = excap::safetensors::Tensor(excap::safetensors::DType::U8, {n}, cd_truth);
  eval.pred_cd.assign(cd_b.begin(), cd_b.end());
  excap::trainer::score(eval);

  const auto iou = agreement.iou();
  REQUIRE(eval.seg.iou.size() == iou.size());
  for (std::size_t c = 0; c < iou.size(); ++c) {
    CAPTURE(c);
    if (std::isnan(iou[c])) {
      CHECK(std::isnan(eval.seg.iou[c]));
    } else {
      CHECK(eval.seg.iou[c] == iou[c]);  // areas scale by n, the ratio stays exact
    }
    CHECK(eval.seg.label_area[c] == n * agreement.label_area[c]);
    CHECK(eval.seg.pred_area[c] == n * agreement.pred_area[c]);
  }
  CHECK(std::isnan(iou[7]));  // class 7 is in neither mask: NaN, out of the mean
  CHECK(eval.seg.mIoU == agreement.mean_iou());
  CHECK(eval.seg.aAcc == agreement.pixel_agreement());
  // CD: the evaluation's accuracy is the raters' observed agreement; kappa the same matrix.
  excap::metrics::ConfusionMatrix cd(3);
  cd.process(cd_a, cd_b);
  CHECK(eval.cls.confusion == cd.table());
  CHECK(eval.cls.accuracy == cd.agreement());
  CHECK(excap::cohen_kappa(cd_a, cd_b, 3) == excap::metrics::cohen_kappa(cd));
}
