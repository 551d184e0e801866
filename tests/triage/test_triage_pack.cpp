// Triage and the test fixtures prepare frames with `excap pack`'s own function,
// so the model sees frames as it was trained on them.
#include <doctest/doctest.h>

#include <opencv2/imgproc.hpp>

#include "common/error.h"
#include "trainer/pack.h"

using namespace excap;

namespace {

cv::Mat gradient_bgr(int w, int h) {
  cv::Mat bgr(h, w, CV_8UC3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      bgr.at<cv::Vec3b>(y, x) = {std::uint8_t(x * 7), std::uint8_t(y * 5), 200};
  return bgr;
}

cv::Mat expected(const cv::Mat& bgr, int size, int interpolation) {
  cv::Mat rgb, out;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  cv::resize(rgb, out, cv::Size(size, size), 0, 0, interpolation);
  return out;
}

}  // namespace

TEST_CASE("pack_image: RGB, area when shrinking both ways, bilinear otherwise") {
  const int size = 16;
  std::vector<std::uint8_t> out(size * size * 3);
  const cv::Mat big = gradient_bgr(36, 30);
  trainer::pack_image(big, size, out.data());
  CHECK(cv::norm(cv::Mat(size, size, CV_8UC3, out.data()), expected(big, size, cv::INTER_AREA),
                 cv::NORM_INF) == 0);
  CHECK(out[0] == 200);  // red first: the BGR frame's third channel

  const cv::Mat narrow = gradient_bgr(12, 30);  // one side smaller than the input size
  trainer::pack_image(narrow, size, out.data());
  CHECK(cv::norm(cv::Mat(size, size, CV_8UC3, out.data()), expected(narrow, size, cv::INTER_LINEAR),
                 cv::NORM_INF) == 0);
  CHECK(cv::norm(expected(narrow, size, cv::INTER_LINEAR), expected(narrow, size, cv::INTER_AREA),
                 cv::NORM_INF) >
        0);  // the two rules differ here, so the check above means something
}

TEST_CASE("pack_mask: nearest neighbour, class indices never blend") {
  cv::Mat mask(30, 30, CV_8UC1, cv::Scalar(1));
  mask(cv::Rect(0, 0, 15, 30)).setTo(7);
  mask(cv::Rect(20, 20, 10, 10)).setTo(255);
  std::vector<std::uint8_t> out(16 * 16, 0);
  trainer::pack_mask(mask, 16, out.data());
  cv::Mat want;
  cv::resize(mask, want, cv::Size(16, 16), 0, 0, cv::INTER_NEAREST);
  CHECK(cv::norm(cv::Mat(16, 16, CV_8UC1, out.data()), want, cv::NORM_INF) == 0);
  for (std::uint8_t v : out) CHECK((v == 1 || v == 7 || v == 255));
  CHECK_THROWS_AS(trainer::pack_mask(cv::Mat(30, 30, CV_16UC1, cv::Scalar(1)), 16, out.data()),
                  Error);
}
