// Image files: frames (8-bit BGR) and masks (8-bit class index), read with a
// check and written atomically. Errors name the file and the reason.
#pragma once
#include <opencv2/core.hpp>

#include "common/fsutil.h"

namespace excap {

cv::Mat read_frame(const fs::path& path);  // 8-bit BGR; throws Error
// 8-bit single channel; palette PNGs are read as their palette indices (a
// colour listed twice reads as its lowest index) and gray PNGs under 8 bits as
// their stored values (1-bit: 0 and 1), not scaled to 0..255.
cv::Mat read_mask(const fs::path& path);
// Reads only the header: width/height without decoding pixels (PNG/JPEG via OpenCV fallback).
cv::Size image_size(const fs::path& path);
void write_png_atomic(const fs::path& path, const cv::Mat& image, int compression = 1);
std::vector<std::uint8_t> encode_png(const cv::Mat& image, int compression = 1);

// Values outside the schema (and not the ignore index) in `mask`: count and first.
struct MaskCheck {
  long long bad_pixels = 0;
  int first_bad_value = -1;
};
MaskCheck check_mask_values(const cv::Mat& mask, int num_classes, int ignore_index);

}  // namespace excap
