#include "annotator/core/run_jobs.h"

#include <unistd.h>

#include <cctype>
#include <csignal>
#include <regex>

#include "common/error.h"
#include "common/ids.h"

namespace excap::annotator {

const char* to_string(RunKind kind) {
  switch (kind) {
    case RunKind::Train:
      return "train";
    case RunKind::Eval:
      return "eval";
    case RunKind::Prelabel:
      return "prelabel";
    case RunKind::Triage:
      return "triage";
  }
  return "?";
}

const char* to_string(JobStatus status) {
  switch (status) {
    case JobStatus::Idle:
      return "idle";
    case JobStatus::Running:
      return "running";
    case JobStatus::Done:
      return "done";
    case JobStatus::Failed:
      return "failed";
    case JobStatus::Cancelled:
      return "cancelled";
  }
  return "?";
}

namespace {

void require_field(const std::string& value, const char* field) {
  if (value.empty()) throw Error(field, "is empty: fill it in before starting the run");
}

// The options every kind shares: device and threads.
void add_device(std::vector<std::string>& a, const RunForm& f) {
  if (!f.device.empty() && f.device != "auto") a.insert(a.end(), {"--device", f.device});
  if (f.threads > 0) a.insert(a.end(), {"--threads", std::to_string(f.threads)});
}

std::vector<std::string> train_arguments(const fs::path& dir, const RunForm& f) {
  require_field(f.split, "split");
  require_safe_id(f.split, "split");
  std::vector<std::string> a = {"train", dir.string(), "--split", f.split,      "--run",
                                f.run,   "--model",    f.model,   "--backbone", f.backbone};
  if (f.iters > 0) a.insert(a.end(), {"--iters", std::to_string(f.iters)});
  if (f.size > 0) a.insert(a.end(), {"--size", std::to_string(f.size)});
  return a;
}

std::vector<std::string> kind_arguments(const fs::path& dir, const RunForm& f) {
  switch (f.kind) {
    case RunKind::Train:
      return train_arguments(dir, f);
    case RunKind::Eval:
      require_safe_id(f.subset, "subset");
      return {"eval",     dir.string(), "--run",        f.run,
              "--subset", f.subset,     "--checkpoint", f.checkpoint};
    case RunKind::Prelabel:
      require_field(f.user, "user");
      return {"prelabel", dir.string(), "--run",        f.run,
              "--user",   f.user,       "--checkpoint", f.checkpoint};
    case RunKind::Triage:
      require_field(f.video, "video");
      return {"triage",       f.video,      "--run", (dir / "runs" / f.run).string(),
              "--checkpoint", f.checkpoint, "--out", studio_triage_folder(dir, f.video).string()};
  }
  return {};
}

// The command line as a reader would type it: arguments with spaces or quotes in quotes.
std::string display_command(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) {
    const bool plain = !a.empty() && a.find_first_of(" \t'\"\\$;&|<>") == std::string::npos;
    s += (s.empty() ? "" : " ") + (plain ? a : "'" + a + "'");
  }
  return s;
}

}  // namespace

std::vector<std::string> run_arguments(const fs::path& dir, const RunForm& f, bool resume,
                                       int resume_iters) {
  require_field(f.run, "run");
  require_safe_id(f.run, "run");
  std::vector<std::string> a;
  if (resume) {
    if (f.kind != RunKind::Train) throw Error(to_string(f.kind), "only a train run resumes");
    a = {"train", dir.string(), "--run", f.run, "--resume"};
    if (resume_iters > 0) a.insert(a.end(), {"--iters", std::to_string(resume_iters)});
  } else {
    a = kind_arguments(dir, f);
  }
  add_device(a, f);
  if (!resume) a.insert(a.end(), f.extra.begin(), f.extra.end());
  return a;
}

fs::path studio_triage_folder(const fs::path& project, const std::string& video) {
  std::string stem = fs::path(video).stem().string();
  for (char& c : stem)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') c = '_';
  if (stem.empty()) stem = "video";
  return project / "triage" / "videos" / stem;
}

fs::path sibling_program(const std::string& name) {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) throw Error(name, "cannot find the running program (/proc/self/exe unreadable)");
  const fs::path p = self.parent_path() / name;
  if (::access(p.c_str(), X_OK) != 0)
    throw Error(name, "not found next to " + self.string() + " (looked for " + p.string() + ")");
  return p;
}

std::optional<RunProgress> parse_progress_line(const std::string& line) {
  // train: "[    12/100]  12.0% ..."; the others: "<command>: 3/10 frames".
  static const std::regex train(R"(^\[\s*(\d+)/(\d+)\])");
  static const std::regex frames(R"(^(?:eval|prelabel|triage): (\d+)/(\d+) frames)");
  std::smatch m;
  if (!std::regex_search(line, m, train) && !std::regex_search(line, m, frames))
    return std::nullopt;
  RunProgress p;
  try {
    p.done = std::stoll(m[1].str());
    p.total = std::stoll(m[2].str());
  } catch (const std::exception&) {
    return std::nullopt;  // digits too many for a number: not a progress line
  }
  if (p.total <= 0 || p.done < 0) return std::nullopt;
  return p;
}

RunJob::RunJob(fs::path project, fs::path program, std::size_t tail_lines)
    : project_(std::move(project)), program_(std::move(program)), tail_lines_(tail_lines) {}

RunJob::~RunJob() = default;  // ChildProcess's destructor kills and reaps the group

void RunJob::start(const RunForm& form) { launch(form, run_arguments(project_, form), false); }

void RunJob::resume(int iters) {
  if (!state_.can_resume || running())
    throw Error("resume", "no cancelled or failed train run with a checkpoint to resume");
  const RunForm form = state_.form;
  launch(form, run_arguments(project_, form, true, iters), true);
}

void RunJob::launch(const RunForm& form, std::vector<std::string> args, bool resumed) {
  if (running())
    throw Error(to_string(form.kind), "a run is still going: wait for it or cancel it");
  const fs::path program = program_.empty() ? sibling_program("excap") : program_;
  args.insert(args.begin(), program.string());
  auto child = std::make_unique<ChildProcess>(args);  // throws before any state changes
  child_ = std::move(child);
  state_ = JobState{};
  state_.status = JobStatus::Running;
  state_.form = form;
  state_.resumed = resumed;
  state_.command = display_command(args);
  tail_.clear();
  partial_.clear();
  started_ = Clock::now();
  first_progress_at_.reset();
  add_line("$ " + state_.command);
}

void RunJob::cancel(double grace_s) {
  if (!child_) return;
  child_->cancel(grace_s, SIGINT);
  state_.cancelling = true;
}

void RunJob::add_line(std::string line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  if (line.empty()) return;
  if (const auto p = parse_progress_line(line)) {
    const auto now = Clock::now();
    if (!first_progress_at_ || p->done < first_progress_done_) {
      first_progress_at_ = now;  // the rate counts from the first line seen (resume: not 0)
      first_progress_done_ = p->done;
    }
    state_.done = p->done, state_.total = p->total;
    const double since = std::chrono::duration<double>(now - *first_progress_at_).count();
    const long long advanced = p->done - first_progress_done_;
    if (advanced > 0 && since > 0)
      state_.eta_s = since / double(advanced) * double(p->total - p->done);
  }
  tail_.push_back(std::move(line));
  while (tail_.size() > tail_lines_) tail_.pop_front();
}

void RunJob::take_lines() {
  partial_ += child_->take_output();
  std::size_t start = 0;
  for (std::size_t i = 0; i < partial_.size(); ++i)
    if (partial_[i] == '\n' || partial_[i] == '\r') {
      add_line(partial_.substr(start, i - start));
      start = i + 1;
    }
  partial_.erase(0, start);
  state_.log_tail.assign(tail_.begin(), tail_.end());
}

// The line that says why: the command's own "error:" line, else its last line.
void RunJob::finish(const ProcessResult& r) {
  if (!partial_.empty()) add_line(std::move(partial_));
  partial_.clear();
  state_.log_tail.assign(tail_.begin(), tail_.end());
  const bool cancelled = child_->cancel_requested();
  child_.reset();
  state_.cancelling = false;
  state_.eta_s = -1;
  std::string why;
  for (auto it = tail_.rbegin(); it != tail_.rend() && why.empty(); ++it)
    if (it->find("error:") != std::string::npos) why = *it;
  if (why.empty() && tail_.size() > 1) why = tail_.back();
  if (r.ok()) {
    state_.status = JobStatus::Done;
    state_.message = "finished";
  } else {
    state_.status = cancelled ? JobStatus::Cancelled : JobStatus::Failed;
    state_.message = (cancelled ? "cancelled, " : "") + describe_exit(r) +
                     (why.empty() || cancelled ? "" : ": " + why);
  }
  std::error_code ec;
  state_.can_resume =
      state_.form.kind == RunKind::Train && state_.status != JobStatus::Done &&
      fs::exists(project_ / "runs" / state_.form.run / "checkpoints" / "latest.json", ec);
}

bool RunJob::update() {
  if (!child_) return false;
  state_.elapsed_s = std::chrono::duration<double>(Clock::now() - started_).count();
  const auto r = child_->poll();  // read after the result: the output is complete then
  take_lines();
  if (!r) return false;
  finish(*r);
  return true;
}

void RunJob::wait() {
  if (!child_) return;
  child_->wait();
  update();
}

}  // namespace excap::annotator
