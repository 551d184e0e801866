// Child processes from an argument vector: the program and its arguments reach
// execvp() as they are, never through /bin/sh, so a file name holding quotes,
// spaces or `;` is one argument and nothing else.
#pragma once
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/fsutil.h"

namespace excap {

struct ProcessOptions {
  fs::path working_dir;      // empty: the caller's
  double timeout_s = 0;      // > 0: the child (and its process group) is killed after this long
  bool merge_stderr = true;  // stderr goes to ProcessResult::out, interleaved as written
  std::vector<std::pair<std::string, std::string>> env;  // variables set or replaced in the child
};

struct ProcessResult {
  int exit_code = -1;  // the status passed to exit(); -1 when the child died of a signal
  int signal = 0;      // the signal that ended the child, 0 when it exited
  bool timed_out = false;
  std::string out;  // stdout (and stderr when merged)
  std::string err;  // stderr when not merged
  bool ok() const { return exit_code == 0 && signal == 0 && !timed_out; }
};

// Runs argv[0] (searched in PATH when it has no '/') with argv[1..], stdin
// from /dev/null, and waits for it. Throws Error naming the program when it
// cannot be started (not found, not executable, bad working directory).
ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options = {});

// True when `program` would be found by run_process (PATH lookup, executable).
bool program_available(const std::string& program);

// One line describing how a finished child ended, for error messages.
std::string describe_exit(const ProcessResult& r);

// A child that runs while the caller goes on (the studio's runs): started like
// run_process (argument vector, no shell, stdin from /dev/null) but as the
// leader of its own process group, its stdout and stderr merged into one pipe
// that a reader thread drains. Nothing here blocks but wait(): take_output()
// and poll() return at once, cancel() sends a signal and returns.
class ChildProcess {
 public:
  // Starts argv; throws Error naming the program when it cannot be started.
  // ProcessOptions::timeout_s and merge_stderr are not used (always merged).
  explicit ChildProcess(const std::vector<std::string>& argv, const ProcessOptions& options = {});
  ~ChildProcess();  // a child still running is killed (its group, SIGKILL) and reaped
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // The output read since the last call (possibly a part of a line).
  std::string take_output();
  // The result once the child has ended and its output is all read; nothing
  // while it runs. ProcessResult::out stays empty: the text comes by take_output().
  std::optional<ProcessResult> poll();
  ProcessResult wait();  // blocks until poll() would answer
  // Sends `first_signal` to the child's group; a group still alive `grace_s`
  // later gets SIGKILL (from the reader thread). Ignored once the child ended.
  void cancel(double grace_s = 5.0, int first_signal = SIGTERM);
  bool cancel_requested() const { return cancelled_; }

 private:
  using Clock = std::chrono::steady_clock;
  void watch(int fd);  // the reader thread: output, escalation, reaping

  pid_t pid_ = -1;
  mutable std::mutex mutex_;
  std::string pending_;
  std::optional<ProcessResult> result_;
  std::optional<Clock::time_point> kill_at_;
  std::atomic<bool> cancelled_{false}, stop_{false};
  std::thread reader_;
};

}  // namespace excap
