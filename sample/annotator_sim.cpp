#include "sample/annotator_sim.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "common/error.h"
#include "sample/synth.h"
#include "store/schema.h"

namespace excap {

AnnotatorProfile default_annotator_profile(int index, const std::string& user) {
  AnnotatorProfile p;
  p.user = user;
  if (index % 2 == 0) {
    p.jitter_regions = 2.5;
    p.max_jitter_px = 2;
    p.swap_rate = 0.2;
    p.miss_lesion = 0.2;
    p.cd_flip = 0.08;
    p.seconds_per_frame = 55;
  } else {
    p.jitter_regions = 4;
    p.max_jitter_px = 4;
    p.swap_rate = 0.3;
    p.miss_lesion = 0.35;
    p.cd_flip = 0.12;
    p.seconds_per_frame = 35;
  }
  return p;
}

AnnotatorSim::AnnotatorSim(std::uint64_t seed, AnnotatorProfile profile)
    : seed_(seed), profile_(std::move(profile)) {}

namespace {

// An irregular blob (a wobbly-edged disc), the shape of an area someone
// relabels by hand.
cv::Mat blob(cv::Size size, cv::Point c, int radius, SynthRng& rng) {
  const double p1 = rng.uniform(0, 6.2832), p2 = rng.uniform(0, 6.2832);
  const double a1 = rng.uniform(0.1, 0.3), a2 = rng.uniform(0.05, 0.15);
  std::vector<cv::Point> poly;
  for (int i = 0; i < 48; ++i) {
    const double t = i * 6.283185307179586 / 48;
    const double r = radius * (1 + a1 * std::sin(3 * t + p1) + a2 * std::sin(5 * t + p2));
    poly.emplace_back(c.x + static_cast<int>(std::lround(r * std::cos(t))),
                      c.y + static_cast<int>(std::lround(r * std::sin(t))));
  }
  cv::Mat d = cv::Mat::zeros(size, CV_8UC1);
  cv::fillPoly(d, std::vector<std::vector<cv::Point>>{poly}, cv::Scalar(255), cv::LINE_8);
  return d;
}

// A random pixel of `mask` == value, or (-1, -1) when there is none.
cv::Point random_pixel_of(const cv::Mat& mask, int value, SynthRng& rng) {
  std::vector<cv::Point> pts;
  cv::findNonZero(mask == value, pts);
  if (pts.empty()) return {-1, -1};
  return pts[static_cast<std::size_t>(rng.below(static_cast<int>(pts.size())))];
}

// Gives the pixels of `lost` the id of a neighbouring class (not `from`,
// never background), growing the neighbours with `kernel`; pixels no
// neighbour reaches keep their id.
void fill_from_neighbours(cv::Mat& m, const cv::Mat& lost, int from, const cv::Mat& kernel) {
  for (int d = 1; d < 8; ++d) {
    if (d == from) continue;
    cv::Mat grown;
    cv::dilate(m == d, grown, kernel);
    m.setTo(d, lost & grown & (m == from));
  }
}

// Local boundary edit: a class drawn a few pixels too large or too small
// inside one disc-shaped area of the frame.
void jitter_boundary(cv::Mat& m, const cv::Mat& fov, int max_px, SynthRng& rng) {
  std::vector<int> present;
  for (int c = 2; c < 8; ++c)
    if (cv::countNonZero(m == c) > 0) present.push_back(c);
  if (present.empty()) return;
  const int c = present[static_cast<std::size_t>(rng.below(static_cast<int>(present.size())))];
  const cv::Point at = random_pixel_of(m, c, rng);
  const int radius = static_cast<int>(m.cols * rng.uniform(0.12, 0.35));
  const cv::Mat area = blob(m.size(), at, radius, rng) & fov;
  const int px = 1 + rng.below(std::max(1, max_px));
  const cv::Mat kernel =
      cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(2 * px + 1, 2 * px + 1));
  const cv::Mat cls = m == c;
  if (rng.chance(0.5)) {
    cv::Mat grown;
    cv::dilate(cls, grown, kernel);
    m.setTo(c, grown & area);
  } else {
    cv::Mat shrunk;
    cv::erode(cls, shrunk, kernel);
    fill_from_neighbours(m, cls & ~shrunk & area, c, kernel);
  }
}

// Look-alike classes people confuse: clear vs. blurred tissue (a patch of
// it), and the "something in front of the tissue" classes (whole objects).
void swap_classes(cv::Mat& m, const cv::Mat& fov, SynthRng& rng) {
  static const int pairs[][2] = {{1, 2}, {2, 1}, {7, 5}, {5, 7}, {5, 6}, {6, 5}, {1, 2}, {2, 1}};
  std::vector<int> usable;
  for (int i = 0; i < 8; ++i)
    if (cv::countNonZero(m == pairs[i][0]) > 0) usable.push_back(i);
  if (usable.empty()) return;
  const auto& pr =
      pairs[usable[static_cast<std::size_t>(rng.below(static_cast<int>(usable.size())))]];
  const cv::Point at = random_pixel_of(m, pr[0], rng);
  const int radius = static_cast<int>(m.cols * rng.uniform(0.15, 0.4));
  const cv::Mat area = blob(m.size(), at, radius, rng) & fov;
  const cv::Mat from = m == pr[0];
  if (pr[0] <= cecd::kBlurredTissue) {
    m.setTo(pr[1], from & area);
    return;
  }
  // Small objects flip whole; a large foam or excreta field only where the blob lies.
  cv::Mat comps, stats, centroids;
  const int n = cv::connectedComponentsWithStats(from, comps, stats, centroids, 8, CV_32S);
  const double big = 0.15 * cv::countNonZero(fov);
  std::vector<bool> touched(static_cast<std::size_t>(n), false);
  for (int y = 0; y < m.rows; ++y)
    for (int x = 0; x < m.cols; ++x)
      if (area.at<std::uint8_t>(y, x))
        touched[static_cast<std::size_t>(comps.at<int>(y, x))] = true;
  for (int c = 1; c < n; ++c)
    if (stats.at<int>(c, cv::CC_STAT_AREA) > big) touched[static_cast<std::size_t>(c)] = false;
  m.setTo(pr[1], from & area);
  for (int y = 0; y < m.rows; ++y)
    for (int x = 0; x < m.cols; ++x) {
      const int c = comps.at<int>(y, x);
      if (c > 0 && touched[static_cast<std::size_t>(c)])
        m.at<std::uint8_t>(y, x) = static_cast<std::uint8_t>(pr[1]);
    }
}

// Small lesions (under 0.6% of the field of view) overlooked.
void miss_small_lesions(cv::Mat& m, long long fov_px, double rate, SynthRng& rng) {
  cv::Mat labels, stats, centroids;
  const int n =
      cv::connectedComponentsWithStats(m == cecd::kLesion, labels, stats, centroids, 8, CV_32S);
  const cv::Mat kernel = cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(7, 7));
  for (int i = 1; i < n; ++i) {
    if (stats.at<int>(i, cv::CC_STAT_AREA) > 0.006 * static_cast<double>(fov_px)) continue;
    if (!rng.chance(rate)) continue;
    cv::Mat comp = labels == i;
    for (int pass = 0; pass < 4 && cv::countNonZero(comp & (m == cecd::kLesion)) > 0; ++pass)
      fill_from_neighbours(m, comp, cecd::kLesion, kernel);
  }
}

}  // namespace

SimulatedLabel AnnotatorSim::label(const std::string& frame_id, const cv::Mat& truth,
                                   int truth_cd) const {
  if (truth.empty() || truth.type() != CV_8UC1)
    throw Error("frame " + frame_id, "simulated annotator needs an 8-bit class mask");
  SynthRng rng(mix_seed(mix_seed(seed_, hash_text(profile_.user)), hash_text(frame_id)));
  SimulatedLabel out;
  cv::Mat m = truth.clone();
  const cv::Mat fov = truth != cecd::kBackground;
  const long long fov_px = cv::countNonZero(fov);

  miss_small_lesions(m, fov_px, profile_.miss_lesion, rng);
  if (rng.chance(profile_.swap_rate)) swap_classes(m, fov, rng);
  const int edits = rng.below(static_cast<int>(std::lround(2 * profile_.jitter_regions)) + 1);
  for (int i = 0; i < edits; ++i) jitter_boundary(m, fov, profile_.max_jitter_px, rng);
  m.setTo(cecd::kBackground, ~fov);  // nobody paints outside the field of view
  out.mask = m;

  // A borderline frame is called the other way far more often than a plain one.
  const MaskShares s = mask_shares(truth);
  const CdRule rule;
  const double to_inv = std::abs(s.invisible - rule.invisible_share);
  const double to_blur = std::abs(s.blurred - rule.blur_share);
  const double near = std::max(0.0, 1.0 - std::min(to_inv, to_blur) / 0.1);
  out.cd = truth_cd;
  if (rng.chance(profile_.cd_flip + 0.35 * near)) {
    if (truth_cd == cecd::kClear)
      out.cd = to_inv < to_blur ? cecd::kInvisible : cecd::kBlur;
    else if (truth_cd == cecd::kInvisible)
      out.cd = cecd::kBlur;
    else
      out.cd = to_inv < to_blur ? cecd::kInvisible : cecd::kClear;
  }

  int classes = 0;
  for (int c = 1; c < 8; ++c) classes += cv::countNonZero(truth == c) > 0 ? 1 : 0;
  const double t =
      profile_.seconds_per_frame * (0.55 + 0.15 * classes) * std::exp(0.35 * rng.normal());
  out.time_spent_s = std::round(std::clamp(t, 5.0, 900.0) * 10) / 10;
  return out;
}

double mask_agreement(const cv::Mat& a, const cv::Mat& b) {
  if (a.size() != b.size() || a.type() != CV_8UC1 || b.type() != CV_8UC1)
    throw Error("mask_agreement", "masks must be 8-bit and the same size");
  const cv::Mat any = (a != 0) | (b != 0);
  const long long n = cv::countNonZero(any);
  if (n == 0) return 1.0;
  return static_cast<double>(cv::countNonZero((a == b) & any)) / static_cast<double>(n);
}

}  // namespace excap
