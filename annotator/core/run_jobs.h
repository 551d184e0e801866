// Runs started from the studio (no ImGui): `excap train | eval | prelabel |
// triage` as a child process (common/process.h), so the studio never waits
// on LibTorch and survives a child that crashes. A RunJob builds the argument
// vector from a small form, reads the child's progress lines ("[ 12/100]" of
// train, "eval: 3/10 frames", "prelabel: 3/10 frames", "triage: 12/300
// frames"), keeps the last lines of its output, and offers to resume a train
// run that was cancelled or failed once it has a checkpoint. update() is
// cheap and never blocks: the UI calls it every frame.
#pragma once
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/fsutil.h"
#include "common/process.h"

namespace excap::annotator {

enum class RunKind { Train, Eval, Prelabel, Triage };
const char* to_string(RunKind kind);  // "train", "eval", "prelabel", "triage"

// What the Runs panel asks for; fields a kind does not use are ignored.
struct RunForm {
  RunKind kind = RunKind::Train;
  std::string run;  // runs/<run>: trained (train) or read (the others)
  // train
  std::string split;
  std::string model = "mtcsn";
  std::string backbone = "resnet18";
  int iters = 1000;  // 0: the command's default
  int size = 0;      // packed size, 0: the command's default
  // eval, prelabel, triage
  std::string checkpoint = "best";
  std::string subset = "test";  // eval
  std::string user;             // prelabel: who asks (--user)
  std::string video;            // triage: the video file
  // all
  std::string device = "auto";
  int threads = 0;                 // 0: all
  std::vector<std::string> extra;  // further arguments, passed as they are (one each)
};

// The arguments after the program for `form` on the project at `project`;
// `resume`: `train DIR --run NAME --resume` (device, threads, and iters when
// resume_iters > 0). Throws Error naming the missing or unsafe field.
std::vector<std::string> run_arguments(const fs::path& project, const RunForm& form,
                                       bool resume = false, int resume_iters = 0);

// Where triage from the studio writes: DIR/triage/videos/<video stem>, which
// the Results workspace lists (results_model.h, triage_folders).
fs::path studio_triage_folder(const fs::path& project, const std::string& video);

// `name` in the folder of the running executable (the studio's `excap`);
// throws Error saying where it looked when it is absent or not executable.
fs::path sibling_program(const std::string& name);

struct RunProgress {
  long long done = 0, total = 0;
};
// The progress of one output line, nullopt for any other line.
std::optional<RunProgress> parse_progress_line(const std::string& line);

enum class JobStatus { Idle, Running, Done, Failed, Cancelled };
const char* to_string(JobStatus status);

struct JobState {
  JobStatus status = JobStatus::Idle;
  RunForm form;
  bool resumed = false;
  std::string command;  // the command line, for the log (arguments quoted when needed)
  long long done = 0, total = 0;
  double elapsed_s = 0;
  double eta_s = -1;                  // -1: not known yet
  std::vector<std::string> log_tail;  // the last lines of output, oldest first
  std::string message;                // how it ended ("exited with status 2: ...")
  bool can_resume = false;            // a cancelled or failed train run with a checkpoint
  bool cancelling = false;            // cancel sent, not ended yet
  double fraction() const { return total > 0 ? double(done) / double(total) : 0.0; }
};

class RunJob {
 public:
  // `program`: the `excap` to run; empty: sibling_program("excap"), looked up at start().
  explicit RunJob(fs::path project, fs::path program = {}, std::size_t tail_lines = 200);
  ~RunJob();  // a child still running is killed with its group
  RunJob(const RunJob&) = delete;
  RunJob& operator=(const RunJob&) = delete;

  // Starts the run of `form`. Throws Error (the form, or the program cannot
  // start) and starts nothing when a run is already going.
  void start(const RunForm& form);
  // Resumes the last train run (state().can_resume) with `--resume`;
  // iters > 0 replaces the saved length. Throws Error when there is none.
  void resume(int iters = 0);
  // Asks the run to stop: SIGINT to its group (the commands save and stop
  // on Ctrl-C), SIGKILL when it is still there `grace_s` later.
  void cancel(double grace_s = 15.0);
  // Reads new output and the exit without blocking. True once when a run
  // has just ended (the caller reloads its results).
  bool update();
  // Blocks until the running child ends (tests, shutdown), then update()s.
  void wait();
  bool running() const { return child_ != nullptr; }
  long pid() const { return child_ ? static_cast<long>(child_->pid()) : -1; }  // -1: none
  const JobState& state() const { return state_; }
  const fs::path& project() const { return project_; }

 private:
  using Clock = std::chrono::steady_clock;
  void launch(const RunForm& form, std::vector<std::string> args, bool resumed);
  void take_lines();
  void add_line(std::string line);
  void finish(const ProcessResult& r);

  fs::path project_, program_;
  std::size_t tail_lines_;
  std::unique_ptr<ChildProcess> child_;
  JobState state_;
  std::deque<std::string> tail_;
  std::string partial_;  // output after the last newline
  Clock::time_point started_;
  std::optional<Clock::time_point> first_progress_at_;
  long long first_progress_done_ = 0;
};

}  // namespace excap::annotator
