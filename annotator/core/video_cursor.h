// Frame-accurate random access to a video for the Clips workspace, decoded on
// a worker thread so scrubbing never blocks the UI. dataset's VideoReader only
// reads forward (frame-exact by design, no container seek), so a step back
// comes from a small cache of recent frames, and a longer jump back reopens
// the file and decodes forward.
#pragma once
#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <opencv2/core.hpp>

#include "common/fsutil.h"

namespace excap {
class VideoReader;
}

namespace excap::annotator {

class VideoCursor {
 public:
  struct Snapshot {
    long long index = -1;  // frame shown by `bgr`; -1 before the first decode
    cv::Mat bgr;
    long long requested = 0;
    bool busy = false;  // decoding towards `requested`
    std::string error;  // e.g. the stream ended before `requested`
  };

  // Opens the file (throws Error) and starts decoding frame 0.
  VideoCursor(const fs::path& path, long long frame_count, std::size_t cache_frames = 48);
  ~VideoCursor();
  VideoCursor(const VideoCursor&) = delete;
  VideoCursor& operator=(const VideoCursor&) = delete;

  // Asks for a frame; the newest request wins. Clamped to [0, frame_count).
  void request(long long index);
  Snapshot snapshot() const;
  // Blocks until the request is served (tests, screenshots).
  Snapshot wait(long long index);
  double fps() const { return fps_; }
  long long frame_count() const { return frame_count_; }
  cv::Size size() const { return size_; }

 private:
  void run();
  fs::path path_;
  double fps_ = 0;
  long long frame_count_ = 0;
  cv::Size size_;
  std::size_t cache_frames_;
  std::unique_ptr<VideoReader> reader_;  // worker thread only
  std::map<long long, cv::Mat> cache_;   // worker thread only
  mutable std::mutex mutex_;
  std::condition_variable wake_, served_;
  Snapshot snap_;
  bool stop_ = false;
  std::thread worker_;
};

}  // namespace excap::annotator
