#include "store/lock.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "store/change.h"

namespace excap {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

// A lock file nobody could parse (its holder died between creating and
// filling it) is stale once it is this old.
constexpr double kUnreadableStaleS = 60;
// A takeover marker left by a taker that died mid-takeover is removed after this.
constexpr double kTakeoverStaleS = 30;

struct Entry {
  std::recursive_timed_mutex mutex;
  int depth = 0;  // re-entrant holds by the owning thread
  std::string token;
  std::string command;
};

std::mutex g_registry_mutex;
std::map<std::string, std::shared_ptr<Entry>> g_registry;

std::shared_ptr<Entry> registry_entry(const std::string& key) {
  std::lock_guard<std::mutex> g(g_registry_mutex);
  auto& e = g_registry[key];
  if (!e) e = std::make_shared<Entry>();
  return e;
}

std::string canonical_key(const fs::path& root) {
  std::error_code ec;
  fs::path p = fs::weakly_canonical(fs::absolute(root), ec);
  return (ec ? fs::absolute(root) : p).string();
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown-host";
  return buf;
}

std::string random_token() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::ostringstream s;
  s << std::hex << rng() << rng();
  return s.str();
}

bool process_alive(long pid) {
  if (pid <= 0) return false;
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

double age_s(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return std::difftime(std::time(nullptr), st.st_mtime);
}

std::string describe(const LockHolder& h) {
  if (h.pid == 0) return "an unreadable lock file (time " + h.time + ")";
  return "'" + h.command + "' (pid " + std::to_string(h.pid) + " on " + h.host + ", since " +
         h.time + ")";
}

// True when the holder is a process of this host that no longer runs, or the
// file stayed unreadable too long: its lock can be taken over.
bool is_stale(const fs::path& path, const LockHolder& h) {
  if (h.pid == 0) return age_s(path) > kUnreadableStaleS;
  if (h.host != host_name()) return false;                  // another machine: only its owner knows
  if (h.pid == static_cast<long>(::getpid())) return true;  // this process does not hold it
  return !process_alive(h.pid);
}

// Removes the stale lock whose token is `token`, unless another waiter
// already did; takeovers are serialised by a second exclusive file so that
// no taker removes a lock that a live process created in the meantime.
void take_over(const fs::path& root, const std::string& token) {
  const fs::path marker = lock_path(root).string() + ".takeover";
  int fd = ::open(marker.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    if (errno == EEXIST && age_s(marker) > kTakeoverStaleS) ::unlink(marker.c_str());
    return;  // someone else is taking it over; the caller retries
  }
  ::close(fd);
  const auto now = read_lock_holder(root);
  if (now && now->token == token) ::unlink(lock_path(root).c_str());
  ::unlink(marker.c_str());
}

// One attempt to create the lock file; false when it exists. The file appears
// whole or not at all: its text is written to a private file first, then
// hard-linked to the lock's name (link() fails when that name exists), so a
// process killed at any point never leaves an empty lock that others must
// wait out.
bool try_create(const fs::path& path, const LockHolder& me) {
  const std::string text = json{{"format", "excap-lock"}, {"host", me.host}, {"pid", me.pid},
                                {"command", me.command},  {"time", me.time}, {"token", me.token}}
                               .dump() +
                           "\n";
  const fs::path own = path.string() + "." + std::to_string(me.pid) + "." + me.token + ".new";
  int fd = ::open(own.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    throw Error(path.string(),
                std::string("cannot create the project lock: ") + std::strerror(errno));
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) {
    ::unlink(own.c_str());
    throw Error(path.string(), "cannot write the project lock");
  }
  const int rc = ::link(own.c_str(), path.c_str());
  const int err = errno;
  ::unlink(own.c_str());
  if (rc == 0) return true;
  if (err == EEXIST) return false;
  throw Error(path.string(), std::string("cannot create the project lock: ") + std::strerror(err));
}

void take_file_lock(const fs::path& root, const LockHolder& me, Clock::time_point deadline,
                    double timeout_s) {
  const fs::path path = lock_path(root);
  auto pause = std::chrono::milliseconds(5);
  while (!try_create(path, me)) {
    const auto holder = read_lock_holder(root);
    if (!holder) continue;  // released just now
    if (is_stale(path, *holder)) {
      take_over(root, holder->token);
      continue;
    }
    if (Clock::now() >= deadline) {
      std::ostringstream s;
      s << "the project is locked by " << describe(*holder) << "; waited " << timeout_s
        << " s (set EXCAP_LOCK_TIMEOUT to wait longer). If that process is gone, remove "
        << path.string();
      throw Error(root.string(), s.str());
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(200));
  }
}

}  // namespace

double lock_timeout_s() {
  const char* env = std::getenv("EXCAP_LOCK_TIMEOUT");
  if (!env || !*env) return 30;
  char* end = nullptr;
  const double v = std::strtod(env, &end);
  if (end == env || *end != '\0' || !std::isfinite(v) || v < 0 || v > 86400)
    throw Error("EXCAP_LOCK_TIMEOUT",
                "must be a number of seconds in 0..86400, not '" + std::string(env) + "'");
  return v;
}

fs::path lock_path(const fs::path& root) { return root / "project.lock"; }

std::optional<LockHolder> read_lock_holder(const fs::path& root) {
  const fs::path path = lock_path(root);
  std::string text;
  try {
    text = read_file(path);
  } catch (const Error&) {
    std::error_code ec;
    if (!fs::exists(path, ec)) return std::nullopt;
    return LockHolder{};
  }
  LockHolder h;
  try {
    const json j = json::parse(text);
    h.host = j.at("host").get<std::string>();
    h.pid = j.at("pid").get<long>();
    h.command = j.at("command").get<std::string>();
    h.time = j.at("time").get<std::string>();
    h.token = j.at("token").get<std::string>();
  } catch (const json::exception&) {
    h = LockHolder{};
    h.time = std::to_string(static_cast<long>(age_s(path))) + " s ago";
  }
  return h;
}

ProjectLock ProjectLock::acquire(const fs::path& root, const std::string& command,
                                 double timeout_s) {
  ProjectLock lock(root, canonical_key(root));
  auto entry = registry_entry(lock.key_);
  const auto deadline =
      Clock::now() + std::chrono::milliseconds(static_cast<long long>(timeout_s * 1000));
  if (!entry->mutex.try_lock_until(deadline))
    throw Error(root.string(), "the project is locked by '" + entry->command +
                                   "' in this process; waited " + std::to_string(timeout_s) + " s");
  lock.held_ = true;
  if (entry->depth++ > 0) return lock;  // this thread holds it already
  try {
    LockHolder me{host_name(), static_cast<long>(::getpid()), command, now_iso8601(),
                  random_token()};
    take_file_lock(root, me, deadline, timeout_s);
    entry->token = me.token;
    entry->command = command;
    finish_interrupted_change(root);
    remove_stale_temp_files(root);  // of project files whose writer died mid-write
  } catch (...) {
    lock.release();
    throw;
  }
  return lock;
}

ProjectLock::ProjectLock(ProjectLock&& other) noexcept
    : root_(std::move(other.root_)), key_(std::move(other.key_)), held_(other.held_) {
  other.held_ = false;
}

ProjectLock::~ProjectLock() { release(); }

void ProjectLock::release() {
  if (!held_) return;
  held_ = false;
  auto entry = registry_entry(key_);
  if (--entry->depth == 0 && !entry->token.empty()) {
    // Only our own lock file goes: one taken over by mistake stays its owner's.
    const auto holder = read_lock_holder(root_);
    if (holder && holder->token == entry->token) ::unlink(lock_path(root_).c_str());
    entry->token.clear();
  }
  entry->mutex.unlock();
}

}  // namespace excap
