// Child processes run from argument vectors: arguments arrive verbatim (no
// shell), exit codes, signals, timeouts and unstartable programs are reported.
#include <doctest/doctest.h>

#include <chrono>

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
