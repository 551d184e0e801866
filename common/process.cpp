#include "common/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>

#include "common/error.h"

extern char** environ;

namespace excap {
namespace {

// A pipe whose ends close themselves; O_CLOEXEC keeps them out of other children.
struct Pipe {
  int fd[2] = {-1, -1};
  explicit Pipe(const std::string& program) {
    if (::pipe2(fd, O_CLOEXEC) != 0)
      throw Error(program, std::string("cannot create a pipe: ") + std::strerror(errno));
  }
  ~Pipe() { close_both(); }
  void close_end(int i) {
    if (fd[i] >= 0) ::close(fd[i]);
    fd[i] = -1;
  }
  void close_both() { close_end(0), close_end(1); }
};

// The child's environment, built before fork(): setenv() is not safe after it.
std::vector<std::string> child_environment(const ProcessOptions& o) {
  std::map<std::string, std::string> vars;
  for (char** e = environ; e && *e; ++e) {
    const std::string kv = *e;
    const auto eq = kv.find('=');
    if (eq != std::string::npos) vars[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : o.env) vars[k] = v;
  std::vector<std::string> out;
  for (const auto& [k, v] : vars) out.push_back(k + "=" + v);
  return out;
}

// Runs in the forked child: only async-signal-safe calls until exec.
[[noreturn]] void exec_child(char* const* argv, char* const* envp, const char* dir, int out_fd,
                             int err_fd, int status_fd, bool own_group) {
  if (own_group) ::setpgid(0, 0);
  int null_fd = ::open("/dev/null", O_RDONLY);
  if (null_fd >= 0) ::dup2(null_fd, 0);
  ::dup2(out_fd, 1);
  ::dup2(err_fd, 2);
  if (dir && ::chdir(dir) != 0) {
    int e = errno;
    (void)!::write(status_fd, &e, sizeof e);
    ::_exit(127);
  }
  if (envp)
    ::execvpe(argv[0], argv, envp);
  else
    ::execvp(argv[0], argv);
  int e = errno;
  (void)!::write(status_fd, &e, sizeof e);
  ::_exit(127);
}

// Reads both pipes until they close or the deadline passes; true on timeout.
bool drain(int out_fd, int err_fd, double timeout_s, std::string* out, std::string* err) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  std::string* sinks[2] = {out, err};
  char buf[65536];
  while (fds[0].fd >= 0 || fds[1].fd >= 0) {
    int wait_ms = -1;
    if (timeout_s > 0) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return true;
      wait_ms = static_cast<int>(left.count()) + 1;
    }
    const int n = ::poll(fds, 2, wait_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
      if (got > 0)
        sinks[i]->append(buf, static_cast<std::size_t>(got));
      else if (got == 0 || errno != EINTR)
        fds[i].fd = -1;
    }
  }
  return false;
}

ProcessResult wait_child(pid_t pid, bool timed_out) {
  ProcessResult r;
  r.timed_out = timed_out;
  if (timed_out) ::kill(-pid, SIGKILL);  // the child leads its own group when a timeout is set
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  return r;
}

// The argument vector and environment of a child, held as exec needs them.
struct ExecArgs {
  std::vector<char*> args;
  std::vector<std::string> env_store;
  std::vector<char*> envp;
  ExecArgs(const std::vector<std::string>& argv, const ProcessOptions& o) {
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    if (o.env.empty()) return;
    env_store = child_environment(o);
    for (auto& kv : env_store) envp.push_back(kv.data());
    envp.push_back(nullptr);
  }
};

// Forks and execs argv writing to out_fd/err_fd; returns once the program runs
// (the status pipe closes on exec) or throws Error with why it could not start.
pid_t spawn(const std::vector<std::string>& argv, const ProcessOptions& o, Pipe& out, Pipe& err,
            bool own_group) {
  if (argv.empty() || argv[0].empty()) throw Error("run_process", "no program given");
  const std::string& program = argv[0];
  ExecArgs ea(argv, o);
  const std::string dir = o.working_dir.string();
  Pipe status(program);
  const pid_t pid = ::fork();
  if (pid < 0) throw Error(program, std::string("cannot fork: ") + std::strerror(errno));
  if (pid == 0)
    exec_child(ea.args.data(), ea.envp.empty() ? nullptr : ea.envp.data(),
               dir.empty() ? nullptr : dir.c_str(), out.fd[1],
               o.merge_stderr ? out.fd[1] : err.fd[1], status.fd[1], own_group);
  if (own_group) ::setpgid(pid, pid);  // also here, so the group exists whoever runs first
  out.close_end(1), err.close_end(1), status.close_end(1);
  int child_errno = 0;
  ssize_t got = 0;
  while ((got = ::read(status.fd[0], &child_errno, sizeof child_errno)) < 0 && errno == EINTR) {
  }
  if (got == static_cast<ssize_t>(sizeof child_errno)) {
    wait_child(pid, false);
    const std::string where = dir.empty() ? "" : " in " + dir;
    throw Error(program, "cannot start" + where + ": " + std::strerror(child_errno));
  }
  return pid;
}

ProcessResult result_of_status(int status) {
  ProcessResult r;
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  return r;
}

}  // namespace

ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& o) {
  const std::string program = argv.empty() ? "run_process" : argv[0];
  Pipe out(program), err(program);
  const pid_t pid = spawn(argv, o, out, err, /*own_group=*/o.timeout_s > 0);
  std::string out_text, err_text;
  const bool timed_out = drain(out.fd[0], err.fd[0], o.timeout_s, &out_text, &err_text);
  ProcessResult r = wait_child(pid, timed_out);
  r.out = std::move(out_text);
  r.err = std::move(err_text);
  return r;
}

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const ProcessOptions& options) {
  ProcessOptions o = options;
  o.merge_stderr = true;
  const std::string program = argv.empty() ? "ChildProcess" : argv[0];
  Pipe out(program), unused(program);
  pid_ = spawn(argv, o, out, unused, /*own_group=*/true);
  const int fd = out.fd[0];
  out.fd[0] = -1;  // the reader thread owns it now
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  reader_ = std::thread([this, fd] { watch(fd); });
}

ChildProcess::~ChildProcess() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!result_) ::kill(-pid_, SIGKILL);
  }
  stop_ = true;
  if (reader_.joinable()) reader_.join();
}

std::string ChildProcess::take_output() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string s = std::move(pending_);
  pending_.clear();
  return s;
}

std::optional<ProcessResult> ChildProcess::poll() {
  std::lock_guard<std::mutex> lock(mutex_);
  return result_;
}

ProcessResult ChildProcess::wait() {
  if (reader_.joinable()) reader_.join();
  std::lock_guard<std::mutex> lock(mutex_);
  return *result_;
}

void ChildProcess::cancel(double grace_s, int first_signal) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (result_) return;
  cancelled_ = true;
  ::kill(-pid_, first_signal);
  const auto at = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(std::max(0.0, grace_s)));
  if (!kill_at_ || at < *kill_at_) kill_at_ = at;
}

// Reads the pipe in short polls; between them reaps the child without
// blocking and sends SIGKILL to the group once a cancel's grace has passed.
// After the child ended, output still buffered (or written by what is left of
// its group) is read for at most a second, then the result is published.
void ChildProcess::watch(int fd) {
  char buf[65536];
  bool open = true;
  std::optional<int> status;
  Clock::time_point drain_until;
  for (;;) {
    int st = 0;
    if (!status && ::waitpid(pid_, &st, WNOHANG) == pid_) {
      status = st;
      drain_until = Clock::now() + std::chrono::seconds(1);
      if (cancelled_) ::kill(-pid_, SIGKILL);  // a cancelled run leaves nothing behind
    }
    if (status && (!open || Clock::now() >= drain_until || stop_)) break;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!status && kill_at_ && Clock::now() >= *kill_at_) {
        ::kill(-pid_, SIGKILL);
        kill_at_.reset();
      }
    }
    if (!open) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    pollfd p = {fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const ssize_t got = ::read(fd, buf, sizeof buf);
    if (got > 0) {
      std::lock_guard<std::mutex> lock(mutex_);
      pending_.append(buf, static_cast<std::size_t>(got));
    } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
      open = false;
    }
  }
  ::close(fd);
  std::lock_guard<std::mutex> lock(mutex_);
  result_ = result_of_status(*status);
}

bool program_available(const std::string& program) {
  if (program.empty()) return false;
  if (program.find('/') != std::string::npos) return ::access(program.c_str(), X_OK) == 0;
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    std::size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    const std::string d = end > start ? dirs.substr(start, end - start) : ".";
    const fs::path candidate = fs::path(d) / program;
    std::error_code ec;
    if (fs::is_regular_file(candidate, ec) && ::access(candidate.c_str(), X_OK) == 0) return true;
    start = end + 1;
  }
  return false;
}

std::string describe_exit(const ProcessResult& r) {
  if (r.timed_out) return "timed out and was killed";
  if (r.signal != 0)
    return std::string("killed by signal ") + std::to_string(r.signal) + " (" +
           ::strsignal(r.signal) + ")";
  return "exited with status " + std::to_string(r.exit_code);
}

}  // namespace excap
