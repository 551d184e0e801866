// The mask the autosave driver paints as its version-th edit, and its inverse,
// shared by the driver and the SIGKILL harness: every version is a distinct,
// whole image, so a mask on disk is recognised as exactly one complete version.
#pragma once
#include <cstdint>
#include <optional>

#include <opencv2/core.hpp>

namespace excap::test {

constexpr int kPatternBits = 20;
constexpr std::uint8_t kPatternBase = 1, kPatternZero = 2, kPatternOne = 3;

// Clear tissue everywhere, with the version's bits as 4x4 blocks of blurred
// tissue (0) or lesion (1) in a row across the middle.
inline cv::Mat version_mask(cv::Size size, long long version) {
  cv::Mat m(size, CV_8UC1, cv::Scalar(kPatternBase));
  const int y = size.height / 2 - 2, x0 = size.width / 2 - 2 * kPatternBits;
  for (int b = 0; b < kPatternBits; ++b) {
    const bool on = (version >> b) & 1;
    m(cv::Rect(x0 + 4 * b, y, 4, 4)).setTo(on ? kPatternOne : kPatternZero);
  }
  return m;
}

// The version a mask is an exact copy of, or nothing (torn, mixed or foreign).
inline std::optional<long long> mask_version(const cv::Mat& m) {
  if (m.empty() || m.type() != CV_8UC1 || m.cols < 4 * kPatternBits + 4 || m.rows < 8) return {};
  const int y = m.rows / 2 - 2, x0 = m.cols / 2 - 2 * kPatternBits;
  long long v = 0;
  for (int b = 0; b < kPatternBits; ++b)
    if (m.at<std::uint8_t>(y, x0 + 4 * b) == kPatternOne) v |= 1LL << b;
  if (cv::countNonZero(m != version_mask(m.size(), v)) != 0) return {};
  return v;
}

}  // namespace excap::test
