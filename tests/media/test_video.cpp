// Sampling frames for the field of view: exact indices in one sequential pass.
#include <doctest/doctest.h>

#include <fstream>
#include <string>

#include <opencv2/videoio.hpp>

#include "common/error.h"
#include "media/video.h"
#include "support/test_video.h"
#include "test_support.h"

using namespace excap;
using excap::test::ScratchDir;

namespace {

// True when this OpenCV can write H.264 into `ext`'s container.
bool can_write_avc1(const fs::path& path) {
  cv::VideoWriter w(path.string(), cv::CAP_FFMPEG, cv::VideoWriter::fourcc('a', 'v', 'c', '1'), 10,
                    cv::Size(64, 64));
  return w.isOpened();
}

std::vector<long long> decoded_indices(const std::vector<cv::Mat>& frames) {
  std::vector<long long> out;
  for (const auto& f : frames) out.push_back(test::decode_test_index(f));
  return out;
}

}  // namespace

TEST_CASE("sample_indices spreads the indices evenly, each frame at most once") {
  CHECK(sample_indices(4, 80) == std::vector<long long>{10, 30, 50, 70});
  CHECK(sample_indices(16, 80).front() == 2);
  CHECK(sample_indices(16, 80).back() == 77);
  CHECK(sample_indices(16, 5) == std::vector<long long>{0, 1, 2, 3, 4});
  CHECK(sample_indices(16, 16).size() == 16);
  CHECK(sample_indices(0, 80).empty());
  CHECK(sample_indices(16, 0).empty());
  for (long long total : {17LL, 31LL, 1000LL, 432000LL}) {
    CAPTURE(total);
    const auto idx = sample_indices(16, total);
    REQUIRE(idx.size() == 16);
    for (std::size_t i = 1; i < idx.size(); ++i) CHECK(idx[i] > idx[i - 1]);
    CHECK(idx.back() < total);
  }
}

TEST_CASE("sample_frames gives exactly the frames at sample_indices, whatever the container") {
  ScratchDir tmp("media-sample");
  // H.264 in MPEG-TS: the container seek finds no frame at all there, so a
  // seek-based sampler falls back to other frames; FFV1 when H.264 is absent.
  const bool avc1 = can_write_avc1(tmp / "probe.mp4");
  std::vector<std::pair<std::string, std::string>> kinds = {{"FFV1", ".mkv"}};
  if (avc1) kinds = {{"avc1", ".ts"}, {"avc1", ".mp4"}, {"FFV1", ".mkv"}};
  for (const auto& [fourcc, ext] : kinds) {
    CAPTURE(fourcc);
    CAPTURE(ext);
    const fs::path video = tmp / ("v" + ext);
    test::write_test_video(video, {80, 10, fourcc});
    const auto frames = sample_frames(video, 16, 80);
    CHECK(decoded_indices(frames) == sample_indices(16, 80));
    // The same file, sampled again, gives the very same pixels.
    const auto again = sample_frames(video, 16, 80);
    REQUIRE(again.size() == frames.size());
    for (std::size_t i = 0; i < frames.size(); ++i)
      CHECK(cv::norm(frames[i], again[i], cv::NORM_INF) == 0);
  }
}

TEST_CASE("sample_frames keeps what a stream shorter than its recorded length has") {
  ScratchDir tmp("media-sample-short");
  const fs::path video = tmp / "v.mkv";
  test::write_test_video(video, {80, 10});
  // Indices 25 and 75 exist, the other 14 lie past the end.
  CHECK(decoded_indices(sample_frames(video, 16, 800)) == std::vector<long long>{25, 75});
  // Every index past the end: the first frames stand in.
  const auto first = decoded_indices(sample_frames(video, 16, 100000));
  REQUIRE(first.size() == 16);
  for (long long i = 0; i < 16; ++i) CHECK(first[static_cast<std::size_t>(i)] == i);
  CHECK_THROWS_AS(sample_frames(tmp / "missing.mkv", 16, 80), Error);
}

TEST_CASE("sample_frames skips indices lost in a corrupt stretch and keeps the rest exact") {
  ScratchDir tmp("media-sample-corrupt");
  const fs::path video = tmp / "v.mkv";  // MKV timestamps keep frames after the damage in place
  test::write_test_video(video, {60, 10});
  {  // scribble over 5% of the file in the middle
    std::fstream io(video, std::ios::in | std::ios::out | std::ios::binary);
    const auto size = static_cast<long long>(fs::file_size(video));
    io.seekp(size * 45 / 100);
    for (long long i = 0; i < size / 20; ++i) io.put(static_cast<char>((i * 131 + 7) & 0xff));
  }
  std::vector<long long> got;
  REQUIRE_NOTHROW(got = decoded_indices(sample_frames(video, 30, 60)));
  CHECK(got.size() < 30);       // the damaged stretch is missing
  std::vector<long long> away;  // away from the damage (about frames 27-36)
  for (long long i : got)
    if (i < 20 || i >= 40) away.push_back(i);
  std::vector<long long> expected;
  for (long long i : sample_indices(30, 60))
    if (i < 20 || i >= 40) expected.push_back(i);
  CHECK(away == expected);
}
