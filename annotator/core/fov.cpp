#include "annotator/core/fov.h"

#include <opencv2/imgproc.hpp>

#include "common/error.h"
#include "media/frameops.h"

namespace excap::annotator {

namespace {

cv::Mat lit_region(const cv::Mat& bgr) {
  cv::Mat grey, lit;
  cv::cvtColor(bgr, grey, cv::COLOR_BGR2GRAY);
  cv::threshold(grey, lit, 8, 255, cv::THRESH_BINARY);
  cv::Mat labels, stats, centroids;
  const int n = cv::connectedComponentsWithStats(lit, labels, stats, centroids, 8, CV_32S);
  int best = -1;
  for (int c = 1; c < n; ++c)
    if (best < 0 || stats.at<int>(c, cv::CC_STAT_AREA) > stats.at<int>(best, cv::CC_STAT_AREA))
      best = c;
  if (best < 0 ||
      static_cast<std::size_t>(stats.at<int>(best, cv::CC_STAT_AREA)) < bgr.total() / 20)
    return cv::Mat(bgr.size(), CV_8UC1, cv::Scalar(255));
  // Dark spots inside the disc (lumen) are still inside: fill the outer contour.
  std::vector<std::vector<cv::Point>> contours;
  cv::findContours(cv::Mat(labels == best), contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
  cv::Mat out(bgr.size(), CV_8UC1, cv::Scalar(0));
  cv::drawContours(out, contours, -1, cv::Scalar(255), cv::FILLED);
  return out;
}

}  // namespace

cv::Mat frame_fov_mask(const cv::Mat& bgr) {
  try {
    const FieldOfView fov = detect_fov({bgr});
    cv::Mat m = fov.mask(bgr.size());
    if (cv::countNonZero(m) > static_cast<int>(bgr.total() / 20)) return m;
  } catch (const Error&) {
    // No plausible disc (e.g. a non-capsule test image): use the lit region.
  }
  return lit_region(bgr);
}

}  // namespace excap::annotator
