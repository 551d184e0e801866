#include "media/frameops.h"

#include <algorithm>
#include <bitset>
#include <cmath>
#include <cstdio>

#include <opencv2/imgproc.hpp>

#include "common/error.h"

namespace excap {

std::string frame_id(const std::string& video_id, long long source_index) {
  if (source_index < 0) throw Error("frame id", "negative source index");
  char buf[32];
  std::snprintf(buf, sizeof buf, "%06lld", source_index);
  return video_id + "_" + buf;
}

static cv::Mat to_grey(const cv::Mat& img) {
  if (img.empty()) throw Error("perceptual hash", "empty image");
  cv::Mat grey;
  if (img.channels() == 3)
    cv::cvtColor(img, grey, cv::COLOR_BGR2GRAY);
  else if (img.channels() == 4)
    cv::cvtColor(img, grey, cv::COLOR_BGRA2GRAY);
  else
    grey = img;
  if (grey.depth() != CV_8U) grey.convertTo(grey, CV_8U);
  return grey;
}

std::uint64_t perceptual_hash(const cv::Mat& bgr) {
  cv::Mat small;
  // INTER_AREA averages every source pixel, so noise and JPEG/codec artefacts
  // barely move the thumbnail (Krawetz's dHash, "Kind of Like That", 2013).
  cv::resize(to_grey(bgr), small, cv::Size(9, 8), 0, 0, cv::INTER_AREA);
  std::uint64_t h = 0;
  for (int y = 0; y < 8; ++y) {
    const std::uint8_t* row = small.ptr<std::uint8_t>(y);
    for (int x = 0; x < 8; ++x)
      if (row[x + 1] > row[x]) h |= std::uint64_t{1} << (8 * y + x);
  }
  return h;
}

int hash_distance(std::uint64_t a, std::uint64_t b) {
  return static_cast<int>(std::bitset<64>(a ^ b).count());
}

std::string hash_hex(std::uint64_t h) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::uint64_t parse_hash_hex(const std::string& hex) {
  if (hex.size() != 16) throw Error("hash '" + hex + "'", "expected 16 hex digits");
  std::uint64_t h = 0;
  for (char c : hex) {
    int v;
    if (c >= '0' && c <= '9')
      v = c - '0';
    else if (c >= 'a' && c <= 'f')
      v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      v = c - 'A' + 10;
    else
      throw Error("hash '" + hex + "'", "not a hex digit");
    h = (h << 4) | static_cast<std::uint64_t>(v);
  }
  return h;
}

cv::Mat FieldOfView::mask(cv::Size size) const {
  cv::Mat m = cv::Mat::zeros(size, CV_8U);
  if (kind == Circle) {
    if (r > 0)
      cv::circle(m, cv::Point(cvRound(cx), cvRound(cy)), cvRound(r), cv::Scalar(255), cv::FILLED,
                 cv::LINE_8);
  } else if (polygon.size() >= 3) {
    std::vector<cv::Point> pts;
    pts.reserve(polygon.size());
    for (const auto& p : polygon) pts.emplace_back(cvRound(p.x), cvRound(p.y));
    cv::fillPoly(m, std::vector<std::vector<cv::Point>>{pts}, cv::Scalar(255), cv::LINE_8);
  }
  return m;
}

void blank_outside_fov(cv::Mat& bgr, const FieldOfView& fov) {
  if (bgr.empty()) return;
  cv::Mat outside;
  cv::bitwise_not(fov.mask(bgr.size()), outside);
  bgr.setTo(cv::Scalar::all(0), outside);
}

namespace {

struct CircleFit {
  double cx = 0, cy = 0, r = 0;
  bool ok = false;
};

// Algebraic least-squares circle (Kasa): x^2 + y^2 + D x + E y + F = 0.
CircleFit fit_circle(const std::vector<cv::Point2d>& pts) {
  CircleFit c;
  if (pts.size() < 3) return c;
  cv::Mat A(static_cast<int>(pts.size()), 3, CV_64F), b(static_cast<int>(pts.size()), 1, CV_64F);
  for (int i = 0; i < A.rows; ++i) {
    A.at<double>(i, 0) = pts[i].x;
    A.at<double>(i, 1) = pts[i].y;
    A.at<double>(i, 2) = 1.0;
    b.at<double>(i) = -(pts[i].x * pts[i].x + pts[i].y * pts[i].y);
  }
  cv::Mat sol;
  if (!cv::solve(A, b, sol, cv::DECOMP_SVD)) return c;
  const double D = sol.at<double>(0), E = sol.at<double>(1), F = sol.at<double>(2);
  c.cx = -D / 2;
  c.cy = -E / 2;
  const double rr = c.cx * c.cx + c.cy * c.cy - F;
  if (rr <= 0) return c;
  c.r = std::sqrt(rr);
  c.ok = true;
  return c;
}

// Fits, then refits on the points closest to the circle: bumps where overlay
// text touched the disc, or dark tissue at its rim, pull a single fit off.
CircleFit robust_fit(std::vector<cv::Point2d> pts) {
  CircleFit c = fit_circle(pts);
  for (int iter = 0; iter < 4 && c.ok; ++iter) {
    std::vector<double> res(pts.size());
    for (std::size_t i = 0; i < pts.size(); ++i)
      res[i] = std::abs(std::hypot(pts[i].x - c.cx, pts[i].y - c.cy) - c.r);
    std::vector<double> sorted = res;
    const std::size_t k = sorted.size() * 7 / 10;
    std::nth_element(sorted.begin(), sorted.begin() + k, sorted.end());
    const double cut = std::max(1.5, sorted[k]);
    std::vector<cv::Point2d> kept;
    for (std::size_t i = 0; i < pts.size(); ++i)
      if (res[i] <= cut) kept.push_back(pts[i]);
    if (kept.size() < 8 || kept.size() == pts.size()) break;
    pts.swap(kept);
    c = fit_circle(pts);
  }
  return c;
}

// The lit part of the frames: their per-pixel maximum, thresholded, with the overlay opened away.
cv::Mat lit_region(const std::vector<cv::Mat>& sample_frames, cv::Size size) {
  // The per-pixel maximum: dark tissue (the lumen) in one frame is lit in another.
  cv::Mat acc = cv::Mat::zeros(size, CV_8U);
  for (const auto& f : sample_frames) {
    if (f.size() != size) throw Error("field of view", "sample frames differ in size");
    cv::Mat grey = to_grey(f);
    cv::max(acc, grey, acc);
  }
  cv::GaussianBlur(acc, acc, cv::Size(5, 5), 0);
  cv::Mat lit;
  cv::threshold(acc, lit, 24, 255, cv::THRESH_BINARY);
  // Overlay glyphs are a few pixels thick: an opening wider than a stroke
  // removes them and cuts them off the disc they may touch.
  const int k = std::max(5, (std::min(size.width, size.height) / 40) | 1);
  cv::morphologyEx(lit, lit, cv::MORPH_OPEN,
                   cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(k, k)));
  return lit;
}

// The largest lit component as a mask, and its area (0 when nothing is lit).
cv::Mat largest_component(const cv::Mat& lit, int& area) {
  cv::Mat labels, stats, centroids;
  const int n = cv::connectedComponentsWithStats(lit, labels, stats, centroids, 8, CV_32S);
  int best = -1;
  area = 0;
  for (int i = 1; i < n; ++i) {
    const int a = stats.at<int>(i, cv::CC_STAT_AREA);
    if (a > area) area = a, best = i;
  }
  return best < 0 ? cv::Mat() : cv::Mat(labels == best);
}

FieldOfView whole_frame(cv::Size size) {
  FieldOfView full;
  full.kind = FieldOfView::Polygon;
  const float w = static_cast<float>(size.width), h = static_cast<float>(size.height);
  full.polygon = {{0, 0}, {w, 0}, {w, h}, {0, h}};
  return full;
}

// Points of the disc's outline that lie on its circle; `box` gets the outline's bounding box.
std::vector<cv::Point2d> rim_points(const cv::Mat& disc, cv::Rect& box) {
  std::vector<std::vector<cv::Point>> contours;
  cv::findContours(disc.clone(), contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_NONE);
  std::size_t longest = 0;
  for (std::size_t i = 1; i < contours.size(); ++i)
    if (contours[i].size() > contours[longest].size()) longest = i;
  box = cv::boundingRect(contours[longest]);
  // Boundary points on the frame edge or on a straight cut of the disc (a
  // reader that crops the disc top and bottom) are not on the circle.
  std::vector<cv::Point2d> pts;
  for (const auto& p : contours[longest]) {
    const bool on_cut = p.x <= box.x + 1 || p.x >= box.x + box.width - 2 || p.y <= box.y + 1 ||
                        p.y >= box.y + box.height - 2;
    if (!on_cut) pts.emplace_back(p.x + 0.5, p.y + 0.5);
  }
  return pts;
}

// The fitted circle, shrunk by a margin; a polygon where the lit box cuts it.
FieldOfView fov_from_circle(const CircleFit& c, const cv::Rect& box) {
  // A margin of a few pixels: the rim is soft and JPEG-smeared, and anything
  // of the overlay that touches it must go.
  const double margin = std::max(2.0, c.r * 0.01);
  FieldOfView fov;
  fov.cx = c.cx;
  fov.cy = c.cy;
  fov.r = c.r - margin;
  const cv::Rect2d cut(box.x + margin, box.y + margin, box.width - 2 * margin,
                       box.height - 2 * margin);
  const bool clipped = fov.cx - fov.r < cut.x - 1 || fov.cx + fov.r > cut.x + cut.width + 1 ||
                       fov.cy - fov.r < cut.y - 1 || fov.cy + fov.r > cut.y + cut.height + 1;
  if (clipped) {
    // Circle intersected with the lit box: clamping the circle's points to
    // the box traces exactly that convex intersection.
    fov.kind = FieldOfView::Polygon;
    const int steps = 360;
    for (int i = 0; i < steps; ++i) {
      const double a = 2 * CV_PI * i / steps;
      const double x = std::clamp(fov.cx + fov.r * std::cos(a), cut.x, cut.x + cut.width);
      const double y = std::clamp(fov.cy + fov.r * std::sin(a), cut.y, cut.y + cut.height);
      fov.polygon.emplace_back(static_cast<float>(x), static_cast<float>(y));
    }
  }
  return fov;
}

}  // namespace

FieldOfView detect_fov(const std::vector<cv::Mat>& sample_frames) {
  if (sample_frames.empty()) throw Error("field of view", "no frames to detect it from");
  const cv::Size size = sample_frames.front().size();
  int area = 0;
  const cv::Mat disc = largest_component(lit_region(sample_frames, size), area);
  const double frame_area = static_cast<double>(size.area());
  if (disc.empty() || area < 0.05 * frame_area)
    throw Error("field of view",
                "no lit disc found (the brightest region covers under 5% of the frame); "
                "set a manual circle or polygon in project.json extraction.fov");
  // Content fills the frame (no dark surround): nothing to blank.
  if (area >= 0.97 * frame_area) return whole_frame(size);
  cv::Rect box;
  const CircleFit c = robust_fit(rim_points(disc, box));
  if (!c.ok || c.r < 0.1 * std::min(size.width, size.height))
    throw Error("field of view",
                "the lit region is not a disc; set a manual circle or polygon "
                "in project.json extraction.fov");
  return fov_from_circle(c, box);
}

}  // namespace excap
