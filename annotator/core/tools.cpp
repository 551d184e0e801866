#include "annotator/core/tools.h"

#include <algorithm>
#include <array>
#include <cmath>

#include <opencv2/imgproc.hpp>
#ifdef EXCAP_HAVE_XIMGPROC
#include <opencv2/ximgproc/slic.hpp>
#endif

namespace excap::annotator {

namespace {

cv::Rect full(const cv::Mat& m) { return {0, 0, m.cols, m.rows}; }

// Squared distance from (px,py) to the segment a-b.
double dist2_to_segment(double px, double py, cv::Point a, cv::Point b) {
  const double dx = b.x - a.x, dy = b.y - a.y;
  const double len2 = dx * dx + dy * dy;
  double t = len2 > 0 ? ((px - a.x) * dx + (py - a.y) * dy) / len2 : 0.0;
  t = std::clamp(t, 0.0, 1.0);
  const double qx = a.x + t * dx - px, qy = a.y + t * dy - py;
  return qx * qx + qy * qy;
}

}  // namespace

cv::Rect paint_segment(cv::Mat& mask, cv::Point p0, cv::Point p1, int radius, std::uint8_t value) {
  CV_Assert(mask.type() == CV_8UC1);
  radius = std::max(radius, 0);
  if (radius == 0) {
    // The pixels the segment passes through (Bresenham, 8-connected).
    cv::Rect box = cv::Rect(p0, p1 + cv::Point(1, 1)) & full(mask);
    if (p0 == p1) box = cv::Rect(p0, cv::Size(1, 1)) & full(mask);
    if (box.empty()) return {};
    cv::line(mask, p0, p1, cv::Scalar(value), 1, cv::LINE_8);
    return box;
  }
  const cv::Rect box =
      cv::Rect(cv::Point(std::min(p0.x, p1.x) - radius, std::min(p0.y, p1.y) - radius),
               cv::Point(std::max(p0.x, p1.x) + radius + 1, std::max(p0.y, p1.y) + radius + 1)) &
      full(mask);
  if (box.empty()) return {};
  const double r2 = static_cast<double>(radius) * radius;
  for (int y = box.y; y < box.y + box.height; ++y) {
    std::uint8_t* row = mask.ptr<std::uint8_t>(y);
    for (int x = box.x; x < box.x + box.width; ++x)
      if (dist2_to_segment(x, y, p0, p1) <= r2) row[x] = value;
  }
  return box;
}

cv::Rect fill_polygon(cv::Mat& mask, const std::vector<cv::Point>& polygon, std::uint8_t value) {
  CV_Assert(mask.type() == CV_8UC1);
  if (polygon.size() < 3) return {};
  const cv::Rect box = cv::boundingRect(polygon) & full(mask);  // inclusive of the corner points
  if (box.empty()) return {};
  std::vector<std::vector<cv::Point>> polys{polygon};
  cv::fillPoly(mask, polys, cv::Scalar(value), cv::LINE_8);
  return box;
}

cv::Rect flood_fill(cv::Mat& mask, cv::Point seed, std::uint8_t value) {
  CV_Assert(mask.type() == CV_8UC1);
  if (!full(mask).contains(seed) || mask.at<std::uint8_t>(seed) == value) return {};
  cv::Rect box;
  cv::floodFill(mask, seed, cv::Scalar(value), &box, cv::Scalar(0), cv::Scalar(0), 4);
  return box;
}

cv::Rect fill_unlabeled(cv::Mat& mask, std::uint8_t value, const cv::Mat& within) {
  CV_Assert(mask.type() == CV_8UC1);
  cv::Mat sel;
  cv::compare(mask, kUnlabeled, sel, cv::CMP_EQ);
  if (!within.empty()) cv::bitwise_and(sel, within != 0, sel);
  const cv::Rect box = cv::boundingRect(sel);
  if (box.empty()) return {};
  mask.setTo(value, sel);
  return box;
}

cv::Rect fill_outside_fov(cv::Mat& mask, const cv::Mat& fov, std::uint8_t background) {
  CV_Assert(mask.type() == CV_8UC1 && fov.size() == mask.size());
  cv::Mat sel = (fov == 0) & (mask != background);
  const cv::Rect box = cv::boundingRect(sel);
  if (box.empty()) return {};
  mask.setTo(background, sel);
  return box;
}

cv::Rect remove_islands(cv::Mat& mask, int min_pixels) {
  CV_Assert(mask.type() == CV_8UC1);
  if (min_pixels <= 1) return {};
  const cv::Mat original = mask.clone();  // decisions read the mask as it was
  cv::Rect changed;
  std::array<bool, 256> present{};
  for (int y = 0; y < mask.rows; ++y) {
    const std::uint8_t* row = original.ptr<std::uint8_t>(y);
    for (int x = 0; x < mask.cols; ++x) present[row[x]] = true;
  }
  cv::Mat labels, stats, centroids;
  for (int v = 0; v < 255; ++v) {
    if (!present[static_cast<std::size_t>(v)]) continue;
    const cv::Mat cls = original == v;
    const int n = cv::connectedComponentsWithStats(cls, labels, stats, centroids, 8, CV_32S);
    for (int c = 1; c < n; ++c) {
      if (stats.at<int>(c, cv::CC_STAT_AREA) >= min_pixels) continue;
      const cv::Rect box(stats.at<int>(c, cv::CC_STAT_LEFT), stats.at<int>(c, cv::CC_STAT_TOP),
                         stats.at<int>(c, cv::CC_STAT_WIDTH), stats.at<int>(c, cv::CC_STAT_HEIGHT));
      const cv::Rect around =
          cv::Rect(box.x - 1, box.y - 1, box.width + 2, box.height + 2) & full(mask);
      // Votes of the 8-neighbours outside the island (its outer border).
      std::array<int, 256> votes{};
      for (int y = around.y; y < around.y + around.height; ++y)
        for (int x = around.x; x < around.x + around.width; ++x) {
          if (labels.at<int>(y, x) == c) continue;
          bool touches = false;
          for (int dy = -1; dy <= 1 && !touches; ++dy)
            for (int dx = -1; dx <= 1 && !touches; ++dx) {
              const int yy = y + dy, xx = x + dx;
              if (yy >= 0 && xx >= 0 && yy < mask.rows && xx < mask.cols &&
                  labels.at<int>(yy, xx) == c)
                touches = true;
            }
          if (touches) ++votes[original.at<std::uint8_t>(y, x)];
        }
      int best = -1;
      for (int k = 0; k < 255; ++k)
        if (votes[static_cast<std::size_t>(k)] > 0 &&
            (best < 0 ||
             votes[static_cast<std::size_t>(k)] > votes[static_cast<std::size_t>(best)]))
          best = k;
      if (best < 0) continue;
      for (int y = box.y; y < box.y + box.height; ++y)
        for (int x = box.x; x < box.x + box.width; ++x)
          if (labels.at<int>(y, x) == c)
            mask.at<std::uint8_t>(y, x) = static_cast<std::uint8_t>(best);
      changed |= box;
    }
  }
  return changed;
}

Superpixels Superpixels::compute(const cv::Mat& bgr, int region_size, float ruler) {
  Superpixels s;
  region_size = std::max(region_size, 2);
#ifdef EXCAP_HAVE_XIMGPROC
  cv::Mat lab;
  cv::cvtColor(bgr, lab, cv::COLOR_BGR2Lab);
  auto slic = cv::ximgproc::createSuperpixelSLIC(lab, cv::ximgproc::SLICO, region_size, ruler);
  slic->iterate(10);
  slic->enforceLabelConnectivity(25);
  slic->getLabels(s.labels_);
  s.count_ = slic->getNumberOfSuperpixels();
  s.slic_ = true;
#else
  s.labels_.create(bgr.size(), CV_32S);
  const int cols = (bgr.cols + region_size - 1) / region_size;
  for (int y = 0; y < bgr.rows; ++y)
    for (int x = 0; x < bgr.cols; ++x)
      s.labels_.at<int>(y, x) = (y / region_size) * cols + x / region_size;
  s.count_ = cols * ((bgr.rows + region_size - 1) / region_size);
#endif
  // Bounding boxes let painting touch only the pixels of the chosen superpixels.
  double max_label = 0;
  cv::minMaxLoc(s.labels_, nullptr, &max_label);
  s.count_ = std::max(s.count_, static_cast<int>(max_label) + 1);
  std::vector<cv::Point> lo(static_cast<std::size_t>(s.count_), {INT32_MAX, INT32_MAX}),
      hi(static_cast<std::size_t>(s.count_), {-1, -1});
  for (int y = 0; y < s.labels_.rows; ++y) {
    const int* row = s.labels_.ptr<int>(y);
    for (int x = 0; x < s.labels_.cols; ++x) {
      const auto k = static_cast<std::size_t>(row[x]);
      lo[k].x = std::min(lo[k].x, x);
      lo[k].y = std::min(lo[k].y, y);
      hi[k].x = std::max(hi[k].x, x);
      hi[k].y = std::max(hi[k].y, y);
    }
  }
  s.bounds_.resize(static_cast<std::size_t>(s.count_));
  for (std::size_t k = 0; k < lo.size(); ++k)
    if (hi[k].x >= 0) s.bounds_[k] = cv::Rect(lo[k], hi[k] + cv::Point(1, 1));
  return s;
}

cv::Rect Superpixels::paint(cv::Mat& mask, cv::Point p, int radius, std::uint8_t value) const {
  if (labels_.empty() || mask.size() != labels_.size()) return {};
  const cv::Rect disc =
      cv::Rect(p.x - radius, p.y - radius, 2 * radius + 1, 2 * radius + 1) & full(mask);
  std::vector<int> ids;
  const double r2 = static_cast<double>(radius) * radius;
  for (int y = disc.y; y < disc.y + disc.height; ++y)
    for (int x = disc.x; x < disc.x + disc.width; ++x) {
      const double dx = x - p.x, dy = y - p.y;
      if (dx * dx + dy * dy <= r2) ids.push_back(labels_.at<int>(y, x));
    }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  cv::Rect changed;
  for (int id : ids) {
    const cv::Rect b = bounds(id);
    for (int y = b.y; y < b.y + b.height; ++y) {
      const int* lab = labels_.ptr<int>(y);
      std::uint8_t* row = mask.ptr<std::uint8_t>(y);
      for (int x = b.x; x < b.x + b.width; ++x)
        if (lab[x] == id) row[x] = value;
    }
    changed |= b;
  }
  return changed;
}

cv::Rect grabcut_region(cv::Mat& mask, const cv::Mat& bgr, const std::vector<cv::Point>& loop,
                        std::uint8_t value, int margin, int iterations, const cv::Mat& within) {
  CV_Assert(mask.type() == CV_8UC1 && bgr.type() == CV_8UC3 && bgr.size() == mask.size());
  if (loop.size() < 3) return {};
  const cv::Rect inner = cv::boundingRect(loop) & full(mask);
  const cv::Rect roi = cv::Rect(inner.x - margin, inner.y - margin, inner.width + 2 * margin,
                                inner.height + 2 * margin) &
                       full(mask);
  if (inner.area() < 4 || roi.empty()) return {};
  cv::Mat gc(roi.size(), CV_8U, cv::Scalar(cv::GC_BGD));
  std::vector<std::vector<cv::Point>> polys(1);
  for (const auto& q : loop) polys[0].push_back(q - roi.tl());
  cv::fillPoly(gc, polys, cv::Scalar(cv::GC_PR_FGD), cv::LINE_8);
  if (cv::countNonZero(gc == cv::GC_PR_FGD) == 0) return {};
  cv::Mat bgd, fgd;
  // GrabCut refuses when one side is empty (loop covering the whole frame).
  if (cv::countNonZero(gc == cv::GC_BGD) == 0) return {};
  cv::grabCut(bgr(roi), gc, cv::Rect(), bgd, fgd, iterations, cv::GC_INIT_WITH_MASK);
  cv::Mat fg = (gc == cv::GC_FGD) | (gc == cv::GC_PR_FGD);
  if (!within.empty()) fg &= within(roi) != 0;
  const cv::Rect box = cv::boundingRect(fg);
  if (box.empty()) return {};
  mask(roi).setTo(value, fg);
  return box + roi.tl();
}

}  // namespace excap::annotator
