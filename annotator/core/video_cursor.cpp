#include "annotator/core/video_cursor.h"

#include <algorithm>

#include "common/error.h"
#include "media/video.h"

namespace excap::annotator {

VideoCursor::VideoCursor(const fs::path& path, long long frame_count, std::size_t cache_frames)
    : path_(path), cache_frames_(std::max<std::size_t>(cache_frames, 2)) {
  reader_ = std::make_unique<VideoReader>(path);
  fps_ = reader_->fps();
  size_ = reader_->size();
  frame_count_ = std::max<long long>(frame_count, 1);
  snap_.busy = true;
  worker_ = std::thread([this] { run(); });
}

VideoCursor::~VideoCursor() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  worker_.join();
}

void VideoCursor::request(long long index) {
  index = std::clamp<long long>(index, 0, frame_count_ - 1);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    snap_.requested = index;
    if (snap_.index != index) snap_.busy = true;
  }
  wake_.notify_all();
}

VideoCursor::Snapshot VideoCursor::snapshot() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return snap_;
}

VideoCursor::Snapshot VideoCursor::wait(long long index) {
  request(index);
  std::unique_lock<std::mutex> lock(mutex_);
  served_.wait(lock, [&] { return !snap_.busy || stop_; });
  return snap_;
}

void VideoCursor::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_) {
    wake_.wait(lock, [&] { return stop_ || snap_.busy; });
    if (stop_) break;
    const long long target = snap_.requested;
    lock.unlock();
    cv::Mat frame;
    std::string error;
    auto hit = cache_.find(target);
    if (hit != cache_.end()) {
      frame = hit->second;
    } else {
      try {
        if (target < reader_->position()) reader_ = std::make_unique<VideoReader>(path_);
        // Decode one frame at a time so a newer request can cut a long walk short.
        while (reader_->position() <= target) {
          const long long i = reader_->position();
          cv::Mat f;
          if (!reader_->read_at(i, f)) {
            error = "the stream ends at frame " + std::to_string(reader_->position());
            break;
          }
          if (i + static_cast<long long>(cache_frames_) > target) {
            cache_[i] = f;
            while (cache_.size() > cache_frames_) cache_.erase(cache_.begin());
          }
          if (i == target) frame = f;
          std::lock_guard<std::mutex> peek(mutex_);
          if (stop_ || snap_.requested < target) break;  // user went back: serve that first
        }
      } catch (const Error& e) {
        error = e.what();
      }
    }
    lock.lock();
    if (!frame.empty()) {
      snap_.index = target;
      snap_.bgr = frame;
    }
    snap_.error = error;
    if (snap_.requested == target || !error.empty()) {
      snap_.busy = false;
      served_.notify_all();
    }
  }
  served_.notify_all();
}

}  // namespace excap::annotator
