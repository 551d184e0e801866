// Child processes from an argument vector: the program and its arguments reach
// execvp() as they are, never through /bin/sh, so a file name holding quotes,
// spaces or `;` is one argument and nothing else.
#pragma once
#include <string>
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

}  // namespace excap
