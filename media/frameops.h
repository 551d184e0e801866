// Per-frame operations of stage I: frame ids, the perceptual hash used to drop
// near-duplicates, and the field of view (detect it, blank what lies outside).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace excap {

// "<video>_<index>", the index zero-padded to at least 6 digits
// (frame_id("v1", 42) == "v1_000042"); longer indices keep all their digits.
std::string frame_id(const std::string& video_id, long long source_index);

// dHash (difference hash): the frame is converted to grey, resized with area
// averaging to 9x8, and bit (8*y + x) is 1 when pixel (x+1, y) is brighter
// than pixel (x, y). Two frames whose hashes differ in few bits look alike at
// thumbnail scale; the Hamming distance is the near-duplicate measure
// (0 = identical thumbnails, 64 = opposite). Accepts BGR, BGRA or grey 8-bit.
std::uint64_t perceptual_hash(const cv::Mat& bgr);
int hash_distance(std::uint64_t a, std::uint64_t b);   // Hamming distance, 0..64
std::string hash_hex(std::uint64_t h);                 // 16 lower-case hex digits
std::uint64_t parse_hash_hex(const std::string& hex);  // inverse; throws Error when malformed

// The part of the frame the capsule's optics see: a circle (the usual case)
// or a polygon (manual override for unusual videos). Coordinates in pixels.
struct FieldOfView {
  enum Kind { Circle, Polygon } kind = Circle;
  double cx = 0, cy = 0, r = 0;
  std::vector<cv::Point2f> polygon;
  // 8-bit mask of `size`: 255 inside the field of view, 0 outside.
  cv::Mat mask(cv::Size size) const;
};

// Detects the circular field of view from a sample of frames of one video
// (all the same size). The per-pixel maximum over the sample shows the whole
// lit disc; the overlay text in the corners is thin and disconnected from
// it, so it is removed by a morphological opening and by keeping only the
// largest bright component, whose circle is then fitted robustly.
// A disc cut by straight edges (readers that crop it top and bottom) comes
// back as a Polygon: the circle intersected with the lit box. Content that
// fills the whole frame gives the whole frame. Throws Error when the sample
// is empty or no plausible disc is found.
FieldOfView detect_fov(const std::vector<cv::Mat>& sample_frames);

// Sets every pixel outside the field of view to black (in place).
void blank_outside_fov(cv::Mat& bgr, const FieldOfView& fov);

}  // namespace excap
