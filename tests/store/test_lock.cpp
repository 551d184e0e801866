// The project lock and changes with their audit entry (store/lock.h, store/change.h).
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "store/change.h"
#include "store/lock.h"
#include "test_support.h"

using namespace excap;
using nlohmann::json;

namespace {

Project make_project(const test::ScratchDir& tmp) {
  return Project::create(tmp / "p", cecd_schema(), {{"a", Role::Annotator}, {"x", Role::Expert}});
}

std::string this_host() {
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

void write_holder(const fs::path& root, const std::string& host, long pid) {
  atomic_write(lock_path(root), json{{"format", "excap-lock"},
                                     {"host", host},
                                     {"pid", pid},
                                     {"command", "import"},
                                     {"time", "2026-01-01T00:00:00Z"},
                                     {"token", "t0"}}
                                    .dump());
}

// A pid that no process has: a child that has exited and been reaped.
long dead_pid() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return pid;
}

std::vector<std::string> log_lines(const fs::path& path) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::exists(path, ec)) return out;
  std::string text = read_file(path), line;
  for (char c : text) {
    if (c == '\n') {
      out.push_back(line);
      line.clear();
    } else {
      line += c;
    }
  }
  return out;
}

}  // namespace

TEST_CASE("the lock file names its holder and goes when released") {
  test::ScratchDir tmp("lock-1");
  Project p = make_project(tmp);
  {
    const ProjectLock lock = ProjectLock::acquire(p.root(), "import", 1);
    const auto holder = read_lock_holder(p.root());
    REQUIRE(holder);
    CHECK(holder->pid == ::getpid());
    CHECK(holder->host == this_host());
    CHECK(holder->command == "import");
    CHECK(!holder->time.empty());
  }
  CHECK_FALSE(fs::exists(lock_path(p.root())));
}

TEST_CASE("a live holder makes a waiter give up after the timeout, naming the holder") {
  test::ScratchDir tmp("lock-2");
  Project p = make_project(tmp);
  write_holder(p.root(), this_host(), static_cast<long>(::getppid()));  // the parent runs
  const auto t0 = std::chrono::steady_clock::now();
  const std::string expected = "locked by 'import' (pid " + std::to_string(::getppid());
  CHECK_THROWS_WITH_AS(ProjectLock::acquire(p.root(), "clips add", 0.3),
                       doctest::Contains(expected.c_str()), Error);
  CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(300));
  CHECK(fs::exists(lock_path(p.root())));  // never removed from under its holder
}

TEST_CASE("a stale lock of a dead process on this host is taken over") {
  test::ScratchDir tmp("lock-3");
  Project p = make_project(tmp);
  write_holder(p.root(), this_host(), dead_pid());
  const ProjectLock lock = ProjectLock::acquire(p.root(), "assign", 5);
  CHECK(read_lock_holder(p.root())->pid == ::getpid());
  CHECK(read_lock_holder(p.root())->command == "assign");
}

TEST_CASE("a lock held on another host is not taken over, even if its pid is free here") {
  test::ScratchDir tmp("lock-4");
  Project p = make_project(tmp);
  write_holder(p.root(), "another-host.example", dead_pid());
  CHECK_THROWS_WITH_AS(ProjectLock::acquire(p.root(), "assign", 0.2),
                       doctest::Contains("another-host.example"), Error);
}

TEST_CASE("EXCAP_LOCK_TIMEOUT sets the wait and a bad value is refused") {
  ::setenv("EXCAP_LOCK_TIMEOUT", "2.5", 1);
  CHECK(lock_timeout_s() == 2.5);
  ::setenv("EXCAP_LOCK_TIMEOUT", "-1", 1);
  CHECK_THROWS_WITH_AS(lock_timeout_s(), doctest::Contains("EXCAP_LOCK_TIMEOUT"), Error);
  ::setenv("EXCAP_LOCK_TIMEOUT", "soon", 1);
  CHECK_THROWS_AS(lock_timeout_s(), Error);
  ::unsetenv("EXCAP_LOCK_TIMEOUT");
  CHECK(lock_timeout_s() == 30);
}

TEST_CASE("the lock is re-entrant for its thread, other threads wait for it") {
  test::ScratchDir tmp("lock-5");
  Project p = make_project(tmp);
  auto outer = ProjectLock::acquire(p.root(), "outer", 1);
  {
    const ProjectLock inner = ProjectLock::acquire(p.root(), "inner", 1);
    CHECK(read_lock_holder(p.root())->command == "outer");
  }
  CHECK(fs::exists(lock_path(p.root())));  // the inner release keeps the outer hold
  std::atomic<int> result{0};
  std::thread other([&] {
    try {
      ProjectLock::acquire(p.root(), "other", 0.2);
      result = 1;
    } catch (const Error& e) {
      result = std::string(e.what()).find("'outer'") != std::string::npos ? 2 : 3;
    }
  });
  other.join();
  CHECK(result == 2);
  outer.release();
  CHECK_FALSE(fs::exists(lock_path(p.root())));
  std::thread later([&] { result = ProjectLock::acquire(p.root(), "later", 1).held() ? 4 : 5; });
  later.join();
  CHECK(result == 4);
}

TEST_CASE("processes that read-modify-write under the lock lose no update") {
  test::ScratchDir tmp("lock-6");
  Project p = make_project(tmp);
  const fs::path counter = p.root() / "counter.txt";
  atomic_write(counter, "0");
  constexpr int kProcs = 4, kRounds = 40;
  std::vector<pid_t> kids;
  for (int k = 0; k < kProcs; ++k) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      int code = 0;
      try {
        for (int i = 0; i < kRounds; ++i) {
          const ProjectLock lock = ProjectLock::acquire(p.root(), "count", 60);
          const int n = std::stoi(read_file(counter));
          std::this_thread::sleep_for(std::chrono::microseconds(200));  // widen the race
          atomic_write(counter, std::to_string(n + 1));
        }
      } catch (...) {
        code = 1;
      }
      ::_exit(code);
    }
    kids.push_back(pid);
  }
  for (pid_t pid : kids) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  CHECK(read_file(counter) == std::to_string(kProcs * kRounds));
  CHECK_FALSE(fs::exists(lock_path(p.root())));
}

TEST_CASE("a change lands its files and one audit line, an uncommitted change lands nothing") {
  test::ScratchDir tmp("lock-7");
  Project p = make_project(tmp);
  const ProjectLock lock = ProjectLock::acquire(p.root(), "test", 1);
  {
    Change c(lock, p, "a", "add_clip");
    c.save_clips({Clip{"v001-c1", "v001", 0, 10, "a", "n"}});
  }  // destroyed uncommitted
  CHECK(p.load_clips().empty());
  CHECK(log_lines(p.root() / "log" / "a.jsonl").empty());
  Change c(lock, p, "a", "add_clip");
  c.save_clips({Clip{"v001-c1", "v001", 0, 10, "a", "n"}});
  c.write(p.root() / "splits" / "s.json", std::string("{}"));
  c.commit(json{{"clip", "v001-c1"}});
  CHECK(p.load_clips().size() == 1);
  CHECK(read_file(p.root() / "splits" / "s.json") == "{}");
  const auto lines = log_lines(p.root() / "log" / "a.jsonl");
  REQUIRE(lines.size() == 1);
  const json entry = json::parse(lines[0]);
  CHECK(entry["action"] == "add_clip");
  CHECK(entry["clip"] == "v001-c1");
  CHECK(entry["change"].is_string());
  CHECK_FALSE(fs::exists(journal_path(p.root())));
}

TEST_CASE("a change whose audit log cannot be written refuses before writing anything") {
  test::ScratchDir tmp("lock-8");
  Project p = make_project(tmp);
  // A folder where the log file should be: unwritable even for root.
  fs::create_directories(p.root() / "log" / "a.jsonl");
  const ProjectLock lock = ProjectLock::acquire(p.root(), "test", 1);
  CHECK_THROWS_WITH_AS(Change(lock, p, "a", "add_clip"), doctest::Contains("audit log"), Error);
  CHECK_THROWS_WITH_AS(Change(lock, p, "../../evil", "add_clip"), doctest::Contains("not allowed"),
                       Error);
  CHECK(p.load_clips().empty());
}

TEST_CASE("a change refuses a path outside the project") {
  test::ScratchDir tmp("lock-9");
  Project p = make_project(tmp);
  const ProjectLock lock = ProjectLock::acquire(p.root(), "test", 1);
  Change c(lock, p, "a", "x");
  CHECK_THROWS_WITH_AS(c.write(p.root() / ".." / "elsewhere.json", std::string("{}")),
                       doctest::Contains("not inside the project"), Error);
  CHECK_THROWS_AS(c.write(tmp / "q" / "x.json", std::string("{}")), Error);
}

TEST_CASE("a change interrupted after its journal is finished by the next lock holder, once") {
  test::ScratchDir tmp("lock-10");
  Project p = make_project(tmp);
  // What a crash right after writing the journal leaves: temporaries and the journal.
  const fs::path tmp_clips = write_temp_beside(
      p.root() / "clips.json",
      document_of(std::vector<Clip>{Clip{"v001-c1", "v001", 0, 10, "a", ""}}).dump());
  atomic_write(p.root() / "frames" / "gone.png", std::string("x"));
  json line{{"time", "t"}, {"user", "a"}, {"action", "add_clip"}, {"change", "c0ffee"}};
  atomic_write(
      journal_path(p.root()),
      json{{"format", "excap-journal"},
           {"version", 1},
           {"change", "c0ffee"},
           {"writes", json::array({json::array(
                          {tmp_clips.lexically_relative(p.root()).string(), "clips.json"})})},
           {"removes", json::array({"frames/gone.png"})},
           {"log", "log/a.jsonl"},
           {"line", line.dump()}}
          .dump());
  CHECK(p.load_clips().empty());
  { const ProjectLock lock = ProjectLock::acquire(p.root(), "next", 1); }
  CHECK(p.load_clips().size() == 1);
  CHECK_FALSE(fs::exists(p.root() / "frames" / "gone.png"));
  CHECK_FALSE(fs::exists(journal_path(p.root())));
  CHECK(log_lines(p.root() / "log" / "a.jsonl").size() == 1);
  // A crash after the audit line but before the journal's removal: not appended twice.
  atomic_write(journal_path(p.root()), json{{"format", "excap-journal"},
                                            {"version", 1},
                                            {"change", "c0ffee"},
                                            {"writes", json::array()},
                                            {"removes", json::array()},
                                            {"log", "log/a.jsonl"},
                                            {"line", line.dump()}}
                                           .dump());
  { const ProjectLock lock = ProjectLock::acquire(p.root(), "next", 1); }
  CHECK(log_lines(p.root() / "log" / "a.jsonl").size() == 1);
}

TEST_CASE("temporaries of a crash before the journal change nothing and are swept as stale") {
  test::ScratchDir tmp("lock-11");
  Project p = make_project(tmp);
  const std::string before = read_file(p.root() / "clips.json");
  const fs::path dead = p.root().string() + "/clips.json.tmp-" + std::to_string(dead_pid()) + "-1";
  atomic_write(dead, std::string("{}"));
  const fs::path mine = write_temp_beside(p.root() / "videos.json", "{}");  // a live writer's
  { const ProjectLock lock = ProjectLock::acquire(p.root(), "next", 1); }
  CHECK(read_file(p.root() / "clips.json") == before);
  CHECK_FALSE(fs::exists(dead));  // swept by the lock's holder
  CHECK(fs::exists(mine));
  CHECK(remove_stale_temp_files(p.root()) == 0);
}

TEST_CASE("a change works whatever spelling of the project's path was used to open it") {
  test::ScratchDir tmp("lock-spelling");
  make_project(tmp);
  for (const std::string spelling : {"/p/", "/./p", "/p/."}) {
    const Project p = Project::open(tmp.path().string() + spelling);
    const ProjectLock lock = ProjectLock::acquire(p.root(), "test", 1);
    Change c(lock, p, "a", "assign");
    c.save_assignments({{"f1", {"a"}}});
    c.commit();
    CHECK(p.load_assignments().size() == 1);
    CHECK_FALSE(fs::exists(journal_path(p.root())));
  }
  CHECK(log_lines(tmp / "p" / "log" / "a.jsonl").size() == 3);
}
