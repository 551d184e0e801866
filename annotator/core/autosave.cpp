#include "annotator/core/autosave.h"

#include <exception>

namespace excap::annotator {

AutosaveWriter::AutosaveWriter(WriteFn write) : write_(std::move(write)) {
  worker_ = std::thread([this] { run(); });
}

AutosaveWriter::~AutosaveWriter() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  worker_.join();
}

void AutosaveWriter::submit(LabelSnapshot s) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& p : pending_)
      if (p.frame == s.frame) {
        s.became_done = s.became_done || p.became_done;
        p = std::move(s);
        return;
      }
    pending_.push_back(std::move(s));
  }
  wake_.notify_all();
}

void AutosaveWriter::flush() {
  std::unique_lock<std::mutex> lock(mutex_);
  drained_.wait(lock, [&] { return pending_.empty() && !writing_; });
}

std::vector<AutosaveWriter::Result> AutosaveWriter::take_results() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<Result> out;
  out.swap(results_);
  return out;
}

bool AutosaveWriter::busy() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return writing_ || !pending_.empty();
}

void AutosaveWriter::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return stop_ || !pending_.empty(); });
    if (pending_.empty()) break;  // stop requested and nothing left to write
    LabelSnapshot s = std::move(pending_.front());
    pending_.pop_front();
    writing_ = true;
    lock.unlock();
    Result r;
    try {
      write_(s);
    } catch (const std::exception& e) {
      r.error = e.what();
    }
    r.snapshot = std::move(s);
    lock.lock();
    results_.push_back(std::move(r));
    writing_ = false;
    if (pending_.empty()) drained_.notify_all();
  }
  drained_.notify_all();
}

}  // namespace excap::annotator
