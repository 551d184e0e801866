// The project lock: every read-modify-write of shared project state (videos,
// clips, frames, assignments, final labels, splits, local.json, labels) runs
// while it is held. It is a file created exclusively (O_CREAT|O_EXCL, as git's
// index.lock), so it also works on a network drive where advisory locks may
// not; the file names its holder (host, pid, command, time). A lock whose
// holder is a dead process on this host is taken over; otherwise a waiter
// gives up after a timeout with a message naming the holder.
//
// Within one process the lock is re-entrant for the thread that holds it, and
// other threads of the process wait for it as another process would.
#pragma once
#include <optional>
#include <string>

#include "common/fsutil.h"

namespace excap {

struct LockHolder {
  std::string host;
  long pid = 0;
  std::string command;  // what the holder is doing, e.g. "import"
  std::string time;     // when it took the lock (UTC)
  std::string token;    // random; a holder removes only its own lock file
};

// Seconds a command waits for the lock: $EXCAP_LOCK_TIMEOUT when set (a
// number >= 0), else 30.
double lock_timeout_s();

// The lock file's path in project folder `root`.
fs::path lock_path(const fs::path& root);

// Who holds the lock of `root` now, if anyone (a lock file that cannot be
// parsed yields a holder with only `time` from the file's mtime).
std::optional<LockHolder> read_lock_holder(const fs::path& root);

class ProjectLock {
 public:
  // Takes the lock of project folder `root` for `command`, waiting up to
  // `timeout_s`; throws Error naming the holder when it is not free by then.
  // Once held, a change that a crash interrupted is finished first (see
  // store/change.h), so the holder always sees a consistent project.
  static ProjectLock acquire(const fs::path& root, const std::string& command, double timeout_s);
  static ProjectLock acquire(const fs::path& root, const std::string& command) {
    return acquire(root, command, lock_timeout_s());
  }

  ProjectLock(ProjectLock&& other) noexcept;
  ProjectLock& operator=(ProjectLock&&) = delete;
  ProjectLock(const ProjectLock&) = delete;
  ProjectLock& operator=(const ProjectLock&) = delete;
  ~ProjectLock();

  void release();  // idempotent
  bool held() const { return held_; }
  const fs::path& root() const { return root_; }

 private:
  ProjectLock(fs::path root, std::string key) : root_(std::move(root)), key_(std::move(key)) {}
  fs::path root_;
  std::string key_;  // the canonical root: the in-process registry's key
  bool held_ = false;
};

}  // namespace excap
