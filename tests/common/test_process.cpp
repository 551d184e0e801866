// Child processes run from argument vectors: arguments arrive verbatim (no
// shell), exit codes, signals, timeouts and unstartable programs are reported.
#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <thread>

#include "common/error.h"
#include "common/process.h"
#include "test_support.h"

using namespace excap;

TEST_CASE("an argument with shell syntax reaches the child verbatim and runs nothing") {
  test::ScratchDir tmp("process-quote");
  const std::string nasty = "a';touch pwned;'.mp4";
  ProcessOptions o;
  o.working_dir = tmp.path();
  const auto r = run_process({"printf", "%s|%s", nasty, "two words"}, o);
  CHECK(r.ok());
  CHECK(r.out == nasty + "|two words");
  CHECK_FALSE(fs::exists(tmp / "pwned"));
  CHECK(fs::is_empty(tmp.path()));
}

TEST_CASE("stdout and stderr are merged or kept apart, and the working folder is honoured") {
  test::ScratchDir tmp("process-streams");
  const std::vector<std::string> argv = {"sh", "-c", "echo out; echo err >&2; pwd"};
  ProcessOptions o;
  o.working_dir = tmp.path();
  const auto merged = run_process(argv, o);
  CHECK(merged.out.find("out\n") != std::string::npos);
  CHECK(merged.out.find("err\n") != std::string::npos);
  CHECK(merged.out.find(fs::canonical(tmp.path()).string()) != std::string::npos);
  o.merge_stderr = false;
  const auto apart = run_process(argv, o);
  CHECK(apart.out.find("err") == std::string::npos);
  CHECK(apart.err == "err\n");
}

TEST_CASE("a non-zero exit, a signal and extra environment variables are reported") {
  const auto r = run_process({"sh", "-c", "exit 3"});
  CHECK_FALSE(r.ok());
  CHECK(r.exit_code == 3);
  CHECK(r.signal == 0);
  CHECK(describe_exit(r).find("status 3") != std::string::npos);
  const auto killed = run_process({"sh", "-c", "kill -9 $$"});
  CHECK(killed.signal == 9);
  CHECK_FALSE(killed.ok());
  ProcessOptions o;
  o.env = {{"EXCAP_PROCESS_TEST", "x y;z"}};
  CHECK(run_process({"sh", "-c", "printf %s \"$EXCAP_PROCESS_TEST\""}, o).out == "x y;z");
}

TEST_CASE("a program that cannot start throws an Error naming it") {
  CHECK_THROWS_WITH_AS(run_process({"excap-no-such-program-xyz", "a"}),
                       doctest::Contains("excap-no-such-program-xyz"), Error);
  ProcessOptions o;
  o.working_dir = "/nonexistent/folder";
  CHECK_THROWS_WITH_AS(run_process({"true"}, o), doctest::Contains("/nonexistent/folder"), Error);
  CHECK_THROWS_AS(run_process({}), Error);
  CHECK(program_available("sh"));
  CHECK_FALSE(program_available("excap-no-such-program-xyz"));
}

TEST_CASE("a timeout kills the child and its children") {
  ProcessOptions o;
  o.timeout_s = 0.3;
  const auto start = std::chrono::steady_clock::now();
  // The inner sleep inherits stdout: without a group kill the read would wait 30 s.
  const auto r = run_process({"sh", "-c", "sleep 30 & sleep 30"}, o);
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(r.timed_out);
  CHECK_FALSE(r.ok());
  CHECK(took < 10.0);
  CHECK(describe_exit(r).find("timed out") != std::string::npos);
}

namespace {

// Polls `done` every 10 ms, at most `limit_s` (a bound against a hang, not a timing check).
template <class F>
bool wait_until(F done, double limit_s = 30.0) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(limit_s);
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

// Whether process `pid` still runs (a zombie waiting for its reaper does not).
bool process_alive(long pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(stat, text)) return false;
  const auto close = text.rfind(')');
  return close != std::string::npos && close + 2 < text.size() && text[close + 2] != 'Z';
}

}  // namespace

TEST_CASE("a child process's output arrives while it runs, and its exit code at the end") {
  ChildProcess child({"sh", "-c", "echo one; sleep 30"});
  std::string seen;
  REQUIRE(wait_until([&] {
    seen += child.take_output();
    return seen.find("one\n") != std::string::npos;
  }));
  CHECK_FALSE(child.poll().has_value());  // still sleeping: output came before the end
  child.cancel(5.0);
  const ProcessResult r = child.wait();
  CHECK(r.signal == SIGTERM);
  CHECK(child.cancel_requested());

  ChildProcess done({"sh", "-c", "echo bye; echo oops >&2; exit 7"});
  const ProcessResult e = done.wait();
  CHECK(e.exit_code == 7);
  CHECK(e.signal == 0);
  const std::string out = done.take_output();
  CHECK(out.find("bye\n") != std::string::npos);
  CHECK(out.find("oops\n") != std::string::npos);
  CHECK(done.poll().has_value());
  CHECK_FALSE(done.cancel_requested());
}

TEST_CASE("cancelling a child process ends its whole process group") {
  // The grandchild prints its pid; it would outlive a kill of the shell alone.
  ChildProcess child({"sh", "-c", "sleep 30 & echo $!; wait"});
  std::string seen;
  REQUIRE(wait_until([&] {
    seen += child.take_output();
    return seen.find('\n') != std::string::npos;
  }));
  const long grandchild = std::stol(seen);
  CHECK(process_alive(grandchild));
  child.cancel(5.0);
  const ProcessResult r = child.wait();
  CHECK_FALSE(r.ok());
  CHECK(wait_until([&] { return !process_alive(grandchild); }));
}

TEST_CASE("a child process that ignores SIGTERM is killed after the grace period") {
  ChildProcess child({"sh", "-c", "trap '' TERM; echo ready; sleep 30; echo survived"});
  std::string seen;
  REQUIRE(wait_until([&] {
    seen += child.take_output();
    return seen.find("ready") != std::string::npos;
  }));
  child.cancel(0.2);
  const ProcessResult r = child.wait();
  CHECK(r.signal == SIGKILL);
  CHECK(child.take_output().find("survived") == std::string::npos);
}

TEST_CASE("a crashing child process is reported as killed by its signal") {
  ChildProcess child({"sh", "-c", "echo before; kill -SEGV $$"});
  const ProcessResult r = child.wait();
  CHECK(r.signal == SIGSEGV);
  CHECK(r.exit_code == -1);
  CHECK_FALSE(r.ok());
  CHECK(describe_exit(r).find("signal 11") != std::string::npos);
  CHECK(child.take_output() == "before\n");
}

TEST_CASE("a child process that cannot start throws an Error naming it") {
  CHECK_THROWS_WITH_AS(ChildProcess({"excap-no-such-program-xyz"}),
                       doctest::Contains("excap-no-such-program-xyz"), Error);
  CHECK_THROWS_AS(ChildProcess({}), Error);
}
