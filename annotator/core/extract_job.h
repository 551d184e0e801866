// Stage-I extraction on a worker thread for the Clips workspace: the worker
// publishes a small progress snapshot under a mutex, the UI copies it each
// frame; errors come back as a message, never an abort.
#pragma once
#include <atomic>
#include <mutex>
#include <string>
#include <thread>

#include "stage1/stage1.h"

namespace excap::annotator {

class ExtractJob {
 public:
  struct Progress {
    bool running = false, finished = false, cancelled = false;
    long long done = 0, total = 0;
    std::string error;
    ExtractReport report;
  };
  ExtractJob() = default;
  ~ExtractJob();  // cancels and joins
  ExtractJob(const ExtractJob&) = delete;
  ExtractJob& operator=(const ExtractJob&) = delete;

  // Starts extract_frames(project, opt) unless a job is running.
  bool start(const Project& project, ExtractOptions opt);
  void cancel() { cancel_ = true; }
  Progress progress() const;
  void join();

 private:
  mutable std::mutex mutex_;
  Progress progress_;
  std::atomic<bool> cancel_{false};
  std::thread worker_;
};

}  // namespace excap::annotator
