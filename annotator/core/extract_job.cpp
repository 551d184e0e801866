#include "annotator/core/extract_job.h"

#include <exception>

namespace excap::annotator {

ExtractJob::~ExtractJob() {
  cancel();
  join();
}

void ExtractJob::join() {
  if (worker_.joinable()) worker_.join();
}

bool ExtractJob::start(const Project& project, ExtractOptions opt) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (progress_.running) return false;
    progress_ = Progress{};
    progress_.running = true;
  }
  join();
  cancel_ = false;
  opt.cancel = &cancel_;
  opt.progress = [this](long long done, long long total) {
    std::lock_guard<std::mutex> lock(mutex_);
    progress_.done = done;
    progress_.total = total;
  };
  worker_ = std::thread([this, project, opt] {
    Progress result;
    try {
      result.report = extract_frames(project, opt);
    } catch (const std::exception& e) {
      result.error = e.what();
    }
    std::lock_guard<std::mutex> lock(mutex_);
    progress_.running = false;
    progress_.finished = true;
    progress_.cancelled = cancel_.load();
    progress_.error = result.error;
    progress_.report = result.report;
  });
  return true;
}

ExtractJob::Progress ExtractJob::progress() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return progress_;
}

}  // namespace excap::annotator
