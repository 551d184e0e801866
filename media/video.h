// Video probing and frame-exact sequential decoding (OpenCV's FFmpeg backend).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "common/fsutil.h"

namespace excap {

struct VideoInfo {
  double fps = 0;
  long long frames = 0;  // decodable frames (counted when the container does not say)
  int width = 0, height = 0;
  std::string codec;  // FourCC as text, e.g. "FFV1", "avc1", "mp4v"
  double duration_s = 0;
};

// Opens the file and decodes its first frame; throws Error naming the file
// and the reason when it cannot be opened or decoded. When `count_frames`
// is set the frames are counted by decoding the whole stream (exact even
// when the container's count is missing or wrong); otherwise the
// container's count is used and counting happens only when it is missing.
VideoInfo probe_video(const fs::path& path, bool count_frames = true);

// Reads frames strictly in order. Frame index i is the i-th decoded frame
// from the start of the stream, the same numbering a plain frame-by-frame
// read gives. We never use the container seek: OpenCV's FFmpeg seek derives
// frame numbers from timestamps, which drift for streams with B-frames or a
// non-zero start time, and stage I promises frame-exact positions.
class VideoReader {
 public:
  explicit VideoReader(const fs::path& path);  // throws Error when it cannot open
  ~VideoReader();
  VideoReader(const VideoReader&) = delete;
  VideoReader& operator=(const VideoReader&) = delete;

  double fps() const;
  cv::Size size() const;
  long long position() const { return next_; }  // index of the next frame to decode

  // Decodes frames up to `index` (which must be >= position()) and returns
  // frame `index` in `bgr`. False when the stream ends or breaks first
  // (at_end(); position() then tells where it stopped), or when the decoder
  // lost that very frame (see gaps()).
  bool read_at(long long index, cv::Mat& bgr);
  bool read(cv::Mat& bgr) { return read_at(next_, bgr); }
  // Decodes and drops frames up to (not including) `index`; false at the end.
  bool skip_to(long long index);
  bool at_end() const { return ended_; }

  // Frame numbers follow the presentation timestamps: when a corrupt stretch
  // makes the decoder drop frames, the timestamps jump and the frames after
  // the gap keep their true numbers. Each gap is [first lost, first after).
  const std::vector<std::pair<long long, long long>>& gaps() const { return gaps_; }

 private:
  bool grab_next();  // grabs the frame numbered next_ (after any gap); false at the end
  struct Impl;
  std::unique_ptr<Impl> impl_;
  long long next_ = 0;
  bool ended_ = false;
  bool held_ = false;  // a frame past a gap is grabbed but not yet consumed
  double first_ms_ = -1;
  std::vector<std::pair<long long, long long>> gaps_;
};

// The frame indices sample_frames keeps: `count` evenly spread over
// [0, total_frames), the middle of each of `count` equal stretches; every
// frame once when there are fewer than `count`. Strictly increasing.
std::vector<long long> sample_indices(int count, long long total_frames);

// The frames at sample_indices(count, total_frames), for field-of-view
// detection, decoded in one sequential pass with VideoReader: the same file
// always gives the same frames, whatever the container index or the
// decoder's threads do (a container seek lands on other frames, or none,
// in MPEG-TS and MPEG-PS files). Frames the stream lacks (it ends early, a
// corrupt stretch) are left out; when it ends before the first index, the
// first `count` frames are used. Throws Error when the file cannot be opened.
std::vector<cv::Mat> sample_frames(const fs::path& path, int count, long long total_frames);

}  // namespace excap
