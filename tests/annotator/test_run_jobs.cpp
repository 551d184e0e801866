// Runs from the studio (annotator/core/run_jobs.h): argument vectors from the
// form, progress lines, and a real tiny `excap train` started, cancelled,
// crashed and resumed through RunJob, as the Runs panel drives it.
#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include "annotator/core/run_jobs.h"
#include "common/error.h"
#include "support/project_builder.h"
#include "test_support.h"

using namespace excap;
using annotator::JobStatus;
using annotator::RunForm;
using annotator::RunJob;
using annotator::RunKind;

namespace {

// Calls job.update() every 20 ms until `done` holds, at most `limit_s` (a bound
// against a hang, not a timing check). False when the bound was reached.
template <class F>
bool update_until(RunJob& job, F done, double limit_s = 300.0) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(limit_s);
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    job.update();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

// A packed 32x32 synthetic project with split "syn" (as the trainer's CLI tests make it).
void packed_project(const fs::path& dir) {
  test::SyntheticSetOptions o;
  o.size = 32;
  o.train = 12, o.val = 4, o.test = 4;
  test::make_synthetic_project(dir, "syn", o);
  std::string out;
  REQUIRE_MESSAGE(test::run_command({test::built_binary("excap"), "pack", dir.string(), "--split",
                                     "syn", "--size", "32"},
                                    &out) == 0,
                  out);
}

RunForm tiny_train(const std::string& run, int iters) {
  RunForm f;
  f.kind = RunKind::Train;
  f.run = run;
  f.split = "syn";
  f.backbone = "tiny";
  f.iters = iters;
  f.size = 32;
  f.device = "cpu";
  f.threads = 2;
  f.extra = {"--log-interval", "1"};
  return f;
}

long long latest_iter(const fs::path& run_dir) {
  return read_json_file(run_dir / "checkpoints" / "latest.json")["iter"].get<long long>();
}

}  // namespace

TEST_CASE("run jobs: each kind's argument vector comes from the form") {
  const fs::path dir = "/p/proj";
  RunForm f = tiny_train("r1", 50);
  f.extra.clear();
  CHECK(annotator::run_arguments(dir, f) ==
        std::vector<std::string>{"train", "/p/proj", "--split", "syn", "--run", "r1", "--model",
                                 "mtcsn", "--backbone", "tiny", "--iters", "50", "--size", "32",
                                 "--device", "cpu", "--threads", "2"});
  CHECK(annotator::run_arguments(dir, f, true, 80) ==
        std::vector<std::string>{"train", "/p/proj", "--run", "r1", "--resume", "--iters", "80",
                                 "--device", "cpu", "--threads", "2"});
  f.kind = RunKind::Eval;
  f.device = "auto", f.threads = 0;
  CHECK(annotator::run_arguments(dir, f) == std::vector<std::string>{"eval", "/p/proj", "--run",
                                                                     "r1", "--subset", "test",
                                                                     "--checkpoint", "best"});
  f.kind = RunKind::Prelabel;
  CHECK_THROWS_WITH_AS(annotator::run_arguments(dir, f), doctest::Contains("user"), Error);
  f.user = "alice";
  CHECK(annotator::run_arguments(dir, f) == std::vector<std::string>{"prelabel", "/p/proj", "--run",
                                                                     "r1", "--user", "alice",
                                                                     "--checkpoint", "best"});
  f.kind = RunKind::Triage;
  f.video = "/v/case 7.mp4";  // a space stays inside one argument
  CHECK(annotator::run_arguments(dir, f) ==
        std::vector<std::string>{"triage", "/v/case 7.mp4", "--run", "/p/proj/runs/r1",
                                 "--checkpoint", "best", "--out", "/p/proj/triage/videos/case_7"});
  CHECK_THROWS_AS(annotator::run_arguments(dir, f, true), Error);  // only train resumes
  f.run = "../escape";
  CHECK_THROWS_WITH_AS(annotator::run_arguments(dir, f), doctest::Contains("run"), Error);
  f.run.clear();
  CHECK_THROWS_WITH_AS(annotator::run_arguments(dir, f), doctest::Contains("run"), Error);
}

TEST_CASE("run jobs: progress lines of train, eval, prelabel and triage are read") {
  auto p = annotator::parse_progress_line("[    12/100]  12.0%  3.1 it/s  ETA 0m29s  lr 1e-2");
  REQUIRE(p);
  CHECK(p->done == 12);
  CHECK(p->total == 100);
  p = annotator::parse_progress_line("triage: 40/300 frames  12.0 frames/s  elapsed 00:00:03");
  REQUIRE(p);
  CHECK(p->done == 40);
  CHECK(p->total == 300);
  CHECK(annotator::parse_progress_line("prelabel: 3/10 frames (written 3, skipped 0)")->done == 3);
  CHECK(annotator::parse_progress_line("eval: 8/20 frames")->total == 20);
  CHECK_FALSE(annotator::parse_progress_line("run /p/runs/a: finished"));
  CHECK_FALSE(annotator::parse_progress_line("[     3/0]"));
  CHECK_FALSE(annotator::parse_progress_line("triage: 99999999999999999999/3 frames"));
}

TEST_CASE("run jobs: a train run from the studio is cancelled, crashes, resumes and finishes") {
  test::ScratchDir dir("run_jobs_train");
  packed_project(dir.path());
  RunJob job(dir.path(), test::built_binary("excap"));
  job.start(tiny_train("studio", 100000));
  CHECK(job.running());
  CHECK(job.state().status == JobStatus::Running);
  CHECK_THROWS_AS(job.start(tiny_train("other", 5)), Error);  // one at a time

  // Progress advances, then Cancel: the run saves (Ctrl-C) and stays resumable.
  REQUIRE_MESSAGE(update_until(job, [&] { return job.state().done >= 3; }),
                  joined(job.state().log_tail));
  CHECK(job.state().total == 100000);
  const long long seen = job.state().done;
  REQUIRE(update_until(job, [&] { return job.state().done > seen; }));
  CHECK(job.state().eta_s > 0);
  job.cancel();
  CHECK(job.state().cancelling);
  job.wait();
  CHECK_FALSE(job.running());
  CHECK(job.state().status == JobStatus::Cancelled);
  CHECK_MESSAGE(job.state().message.find("cancelled") != std::string::npos, job.state().message);
  const fs::path run_dir = dir.path() / "runs" / "studio";
  REQUIRE(fs::exists(run_dir / "checkpoints" / "latest.json"));
  const long long saved = latest_iter(run_dir);
  CHECK(saved >= seen);
  CHECK(job.state().can_resume);

  // Resumed, then the child crashes (SIGSEGV to it, as a fault would): the job
  // says so, the studio's side goes on, and the run resumes from its checkpoint.
  job.resume(static_cast<int>(saved + 100000));
  CHECK(job.state().resumed);
  REQUIRE(update_until(job, [&] { return job.state().done > saved + 1; }));
  const long child_pid = job.pid();
  REQUIRE(child_pid > 0);
  ::kill(static_cast<pid_t>(child_pid), SIGSEGV);
  job.wait();
  CHECK(job.state().status == JobStatus::Failed);
  CHECK_MESSAGE(job.state().message.find("signal 11") != std::string::npos, job.state().message);
  CHECK(job.state().can_resume);

  job.resume(static_cast<int>(latest_iter(run_dir) + 2));
  job.wait();
  CHECK_MESSAGE(job.state().status == JobStatus::Done, joined(job.state().log_tail));
  CHECK(job.state().done == job.state().total);
  CHECK_FALSE(job.state().can_resume);
  const long long final_iter = latest_iter(run_dir);
  CHECK(final_iter == job.state().total);
  const std::string folder =
      read_json_file(run_dir / "checkpoints" / "latest.json")["folder"].get<std::string>();
  CHECK(fs::exists(run_dir / "checkpoints" / folder / "weights.safetensors"));

  // Eval of the finished run from the studio: progress lines, then its metrics.
  RunForm eval;
  eval.kind = RunKind::Eval;
  eval.run = "studio";
  eval.checkpoint = "latest";
  eval.device = "cpu";
  eval.threads = 2;
  job.start(eval);
  job.wait();
  CHECK_MESSAGE(job.state().status == JobStatus::Done, joined(job.state().log_tail));
  CHECK(job.state().total == 4);
  CHECK(job.state().done == 4);
  CHECK(fs::exists(run_dir / "eval" / "test" / "metrics.json"));
}

TEST_CASE("run jobs: a child that fails gives status failed with its message") {
  test::ScratchDir dir("run_jobs_fail");
  packed_project(dir.path());
  RunJob job(dir.path(), test::built_binary("excap"));
  RunForm f = tiny_train("nosplit", 5);
  f.split = "nosuchsplit";
  job.start(f);
  job.wait();
  CHECK(job.state().status == JobStatus::Failed);
  CHECK_MESSAGE(job.state().message.find("exited with status") != std::string::npos,
                job.state().message);
  CHECK_MESSAGE(job.state().message.find("nosuchsplit") != std::string::npos, job.state().message);
  CHECK_FALSE(job.state().can_resume);
  CHECK_FALSE(job.update());  // ended once, reported once

  RunJob missing(dir.path(), dir.path() / "no-such-excap");
  CHECK_THROWS_WITH_AS(missing.start(tiny_train("x", 5)), doctest::Contains("no-such-excap"),
                       Error);
  CHECK(missing.state().status == JobStatus::Idle);
}
