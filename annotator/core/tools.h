// Mask tools. Each works on an 8-bit class-index mask in place and returns the
// rectangle it may have changed (empty when it changed nothing), which the
// document turns into an undo diff and the canvas into a texture upload.
// No ImGui or GL here: every tool is tested on small synthetic masks.
#pragma once
#include <cstdint>
#include <vector>

#include <opencv2/core.hpp>

namespace excap::annotator {

constexpr std::uint8_t kUnlabeled = 255;

// Paints every pixel whose centre lies within `radius` of the segment p0-p1
// (radius 0 paints the pixels the segment passes through, one per step).
// The eraser is this with value kUnlabeled.
cv::Rect paint_segment(cv::Mat& mask, cv::Point p0, cv::Point p1, int radius, std::uint8_t value);

// Fills the closed polygon (OpenCV's fillPoly rule, 8-connected edges included).
cv::Rect fill_polygon(cv::Mat& mask, const std::vector<cv::Point>& polygon, std::uint8_t value);

// Replaces the 4-connected region of equal value around `seed` with `value`.
cv::Rect flood_fill(cv::Mat& mask, cv::Point seed, std::uint8_t value);

// Sets every unlabeled pixel (kUnlabeled) to `value`; `within` (optional,
// 8-bit, non-zero = allowed) restricts it, e.g. to the field of view.
cv::Rect fill_unlabeled(cv::Mat& mask, std::uint8_t value, const cv::Mat& within = cv::Mat());

// Sets every pixel outside the field of view (fov == 0) to `background`.
cv::Rect fill_outside_fov(cv::Mat& mask, const cv::Mat& fov, std::uint8_t background);

// Every 8-connected region of one labeled class smaller than `min_pixels`
// takes the class most common on its outer border (ties: the lower id);
// regions with no labeled neighbour, and unlabeled regions, stay as they are.
cv::Rect remove_islands(cv::Mat& mask, int min_pixels);

// Superpixels of a frame, computed once per frame. With OpenCV's contrib
// (ximgproc) this is SLIC; without it a regular grid of the same cell size,
// so the tool still works (documented fallback).
class Superpixels {
 public:
  Superpixels() = default;
  // `region_size` in pixels (SLIC's region_size); `bgr` is the frame.
  static Superpixels compute(const cv::Mat& bgr, int region_size = 20, float ruler = 10.f);
  bool empty() const { return labels_.empty(); }
  const cv::Mat& labels() const { return labels_; }  // CV_32S, one id per pixel
  int count() const { return count_; }
  bool slic() const { return slic_; }
  // Paints the superpixels under a disc of `radius` around `p` (with the
  // mask's value), returns the changed rectangle.
  cv::Rect paint(cv::Mat& mask, cv::Point p, int radius, std::uint8_t value) const;
  cv::Rect bounds(int id) const { return bounds_[static_cast<std::size_t>(id)]; }

 private:
  cv::Mat labels_;
  int count_ = 0;
  bool slic_ = false;
  std::vector<cv::Rect> bounds_;
};

// GrabCut from a rough loop around an object: pixels inside the loop are
// "probably foreground", the band around it (`margin` pixels) is background;
// the pixels GrabCut keeps as foreground are set to `value`. `within`
// (optional) limits the result, e.g. to the field of view.
cv::Rect grabcut_region(cv::Mat& mask, const cv::Mat& bgr, const std::vector<cv::Point>& loop,
                        std::uint8_t value, int margin = 10, int iterations = 4,
                        const cv::Mat& within = cv::Mat());

}  // namespace excap::annotator
