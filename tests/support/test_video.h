// Test videos for stage I, written at test time with cv::VideoWriter: a lit
// disc on black with an overlay in the corners, a random 9x8 grey grid (so
// neighbouring frames have distant dHashes) and the frame index as 16 black
// or white blocks, readable back after a lossy codec.
#pragma once
#include <cstdint>
#include <random>
#include <string>

#include <doctest/doctest.h>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "common/fsutil.h"

namespace excap::test {

constexpr int kVideoSize = 160;
constexpr int kIndexBlock = 8;  // pixels per index bit block

// Frames in [static_from, static_to) repeat frame static_from exactly.
struct TestVideoSpec {
  int frames = 60;
  double fps = 10;
  std::string fourcc = "FFV1";  // lossless: decoded pixels equal what was written
  long long static_from = -1, static_to = -1;
};

inline cv::Mat test_frame(long long index) {
  cv::Mat f = cv::Mat::zeros(kVideoSize, kVideoSize, CV_8UC3);
  const cv::Point c(kVideoSize / 2, kVideoSize / 2);
  const int r = kVideoSize * 45 / 100;
  cv::Mat disc = cv::Mat::zeros(f.size(), CV_8U);
  cv::circle(disc, c, r, cv::Scalar(255), cv::FILLED);
  std::mt19937 rng(static_cast<unsigned>(index * 7919 + 13));
  cv::Mat grid(8, 9, CV_8UC3);
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 9; ++x)
      grid.at<cv::Vec3b>(y, x) =
          cv::Vec3b(static_cast<uchar>(60 + rng() % 150), static_cast<uchar>(60 + rng() % 150),
                    static_cast<uchar>(60 + rng() % 150));
  cv::Mat big;
  cv::resize(grid, big, f.size(), 0, 0, cv::INTER_NEAREST);
  big.copyTo(f, disc);
  // 16 index bits, 4x4 blocks in the middle of the disc.
  const int x0 = c.x - 2 * kIndexBlock, y0 = c.y - 2 * kIndexBlock;
  for (int b = 0; b < 16; ++b) {
    const bool on = (index >> b) & 1;
    cv::rectangle(
        f,
        cv::Rect(x0 + (b % 4) * kIndexBlock, y0 + (b / 4) * kIndexBlock, kIndexBlock, kIndexBlock),
        on ? cv::Scalar(255, 255, 255) : cv::Scalar(0, 0, 0), cv::FILLED);
  }
  // The reader's overlay: bright text in the corners, outside the disc.
  cv::putText(f, std::to_string(index), cv::Point(2, 12), cv::FONT_HERSHEY_PLAIN, 0.9,
              cv::Scalar(255, 255, 255), 1);
  cv::putText(f, "CAM", cv::Point(kVideoSize - 30, kVideoSize - 4), cv::FONT_HERSHEY_PLAIN, 0.9,
              cv::Scalar(0, 255, 0), 1);
  return f;
}

inline long long decode_test_index(const cv::Mat& f) {
  const int c = kVideoSize / 2;
  const int x0 = c - 2 * kIndexBlock, y0 = c - 2 * kIndexBlock;
  long long v = 0;
  for (int b = 0; b < 16; ++b) {
    const cv::Rect cell(x0 + (b % 4) * kIndexBlock + 2, y0 + (b / 4) * kIndexBlock + 2,
                        kIndexBlock - 4, kIndexBlock - 4);
    if (cv::mean(f(cell))[1] > 128) v |= 1LL << b;
  }
  return v;
}

// A lossy encode is not reproducible across machines or even calls: x264
// sizes its threads by the CPUs the process may use when the writer opens,
// and another thread count gives another stream. Compare decodes of one file.
inline void write_test_video(const fs::path& path, const TestVideoSpec& spec) {
  const auto& s = spec.fourcc;
  cv::VideoWriter w(path.string(), cv::CAP_FFMPEG, cv::VideoWriter::fourcc(s[0], s[1], s[2], s[3]),
                    spec.fps, cv::Size(kVideoSize, kVideoSize), true);
  REQUIRE_MESSAGE(w.isOpened(), "cannot write test video " << path.string() << " as " << s);
  for (long long i = 0; i < spec.frames; ++i) {
    const bool still = i >= spec.static_from && i < spec.static_to;
    w.write(test_frame(still ? spec.static_from : i));
  }
  w.release();
}

}  // namespace excap::test
