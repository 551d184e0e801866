// `excap pack`: turns a split's frames and final labels into one packed
// safetensors file per subset (format in trainer/packed.h). Needs OpenCV.
#pragma once
#include <map>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "common/fsutil.h"

namespace excap {
class Project;
}

namespace excap::trainer {

struct PackOptions {
  std::string split;  // splits/<split>.json
  int size = 240;     // the paper resizes every frame to 240x240
  fs::path out_dir;   // empty: <project>/packed/<split>-<size>
};

struct PackedSubsetSummary {
  std::string subset;
  fs::path path;
  int count = 0;
  std::vector<long long> cd_histogram;
};

// The per-frame preprocessing of `excap pack`, shared with triage and the
// tests so the model always sees frames prepared one way. `bgr` (CV_8UC3) is
// converted to RGB and resized to size x size, INTER_AREA when it shrinks in
// both directions, else bilinear; written as packed rows to `rgb_out`
// (size * size * 3 bytes).
void pack_image(const cv::Mat& bgr, int size, std::uint8_t* rgb_out);
// Class indices never blend: nearest neighbour; size * size bytes to `mask_out`.
void pack_mask(const cv::Mat& mask, int size, std::uint8_t* mask_out);

// Reads frames/<id>.png, final/<id>.json and final/<id>.png of every frame
// listed in the split. Any missing or unreadable frame or label is counted and
// reported in one Error naming the first few; nothing is skipped in silence.
std::vector<PackedSubsetSummary> pack_split(const Project& project, const PackOptions& options);

}  // namespace excap::trainer
