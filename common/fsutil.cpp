#include "common/fsutil.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <random>
#include <sstream>

#include "common/error.h"

namespace excap {
namespace {

bool g_fault_before_rename = false;

std::string errno_text() { return std::strerror(errno); }

void write_all(int fd, const char* data, std::size_t size, const fs::path& path) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(path.string(), "write failed: " + errno_text());
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

void fsync_dir(const fs::path& dir) {
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;  // some file systems do not allow it; the rename is still atomic
  ::fsync(fd);
  ::close(fd);
}

std::string temp_suffix() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::ostringstream s;
  s << ".tmp-" << ::getpid() << "-" << std::hex << rng();
  return s.str();
}

}  // namespace

void set_atomic_write_fault_for_tests(bool fail_before_rename) {
  g_fault_before_rename = fail_before_rename;
}

fs::path write_temp_beside(const fs::path& path, std::string_view bytes) {
  const fs::path dir = path.parent_path();
  if (!dir.empty()) ensure_dir(dir);
  const fs::path tmp = path.string() + temp_suffix();
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(path.string(), "cannot create temporary file: " + errno_text());
  try {
    write_all(fd, bytes.data(), bytes.size(), path);
    if (::fsync(fd) != 0) throw Error(path.string(), "fsync failed: " + errno_text());
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  ::close(fd);
  return tmp;
}

void rename_into_place(const fs::path& tmp, const fs::path& path) {
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string why = errno_text();
    ::unlink(tmp.c_str());
    throw Error(path.string(), "rename failed: " + why);
  }
  fsync_dir(path.parent_path());
}

void atomic_write(const fs::path& path, std::string_view bytes) {
  const fs::path tmp = write_temp_beside(path, bytes);
  if (g_fault_before_rename) {
    throw Error(path.string(), "simulated crash before rename (test hook)");
  }
  rename_into_place(tmp, path);
}

void atomic_write(const fs::path& path, const std::vector<std::uint8_t>& bytes) {
  atomic_write(path, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

namespace {

void require_regular_file(const fs::path& path) {
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (fs::exists(st) && !fs::is_regular_file(st))
    throw Error(path.string(), "is not a regular file (a folder, device or pipe is never read)");
}

}  // namespace

std::string read_file(const fs::path& path) {
  // Opening a pipe would wait for a writer forever, a device would never end.
  require_regular_file(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::error_code ec;
    if (!fs::exists(path, ec)) throw Error(path.string(), "file not found");
    throw Error(path.string(), "cannot open for reading");
  }
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) throw Error(path.string(), "read failed");
  return s.str();
}

std::vector<std::uint8_t> read_bytes(const fs::path& path) {
  std::string s = read_file(path);
  return std::vector<std::uint8_t>(s.begin(), s.end());
}

void append_line(const fs::path& path, std::string_view line) {
  if (!path.parent_path().empty()) ensure_dir(path.parent_path());
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(path.string(), "cannot open log: " + errno_text());
  std::string buf(line);
  buf.push_back('\n');
  try {
    write_all(fd, buf.data(), buf.size(), path);
    ::fsync(fd);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
}

void ensure_dir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(dir.string(), "cannot create folder: " + ec.message());
}

namespace {

// The pid in a "<name>.tmp-<pid>-<hex>" file name, or 0.
long temp_file_pid(const std::string& name) {
  const std::size_t at = name.rfind(".tmp-");
  if (at == std::string::npos) return 0;
  return std::strtol(name.c_str() + at + 5, nullptr, 10);
}

bool temp_file_stale(const fs::directory_entry& e) {
  constexpr double kOrphanAfterS = 3600;
  const long pid = temp_file_pid(e.path().filename().string());
  struct stat st {};
  const bool old = ::stat(e.path().c_str(), &st) == 0 &&
                   std::difftime(std::time(nullptr), st.st_mtime) > kOrphanAfterS;
  if (old || pid <= 0) return true;
  if (pid == ::getpid()) return false;  // ours: a write in progress on another thread
  return ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

}  // namespace

int remove_stale_temp_files(const fs::path& dir) {
  int removed = 0;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return 0;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.find(".tmp-") != std::string::npos && e.is_regular_file() && temp_file_stale(e)) {
      fs::remove(e.path(), ec);
      if (!ec) ++removed;
    }
  }
  return removed;
}

std::string now_iso8601() {
  std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace excap
