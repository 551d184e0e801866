// The random-SIGKILL harness: the real programs (`excap extract`, `excap
// train`, the studio's autosave path) are killed with SIGKILL at seeded random
// moments spread over an uninterrupted run's duration, then checked: every
// file on disk complete, the run resumable, and the completed result equal to
// an uninterrupted one. A kill before or after the work is still a valid round:
// every assertion holds whatever the moment. Figures go to stdout.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "autosave_pattern.h"
#include "common/fsutil.h"
#include "common/safetensors.h"
#include "media/imageio.h"
#include "stage1/stage1.h"
#include "support/project_builder.h"
#include "support/test_video.h"
#include "test_support.h"

extern char** environ;

using namespace excap;
using Clock = std::chrono::steady_clock;

namespace {

constexpr double kCompletionLimitS = 300;  // a completing run that takes longer is a hang

// Starts argv[0] (a path) in its own process group, stdin from /dev/null,
// stdout and stderr appended to `log`.
pid_t spawn(const std::vector<std::string>& argv, const fs::path& log) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, argv[0].c_str(), &fa, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  REQUIRE_MESSAGE(rc == 0, "cannot start " << argv[0] << ": " << std::strerror(rc));
  return pid;
}

struct Ending {
  bool killed = false;  // the harness's SIGKILL ended it
  int exit_code = -1;   // when it exited by itself
  double seconds = 0;
};

// Waits for the child up to `kill_after_s`, then SIGKILLs its process group.
Ending wait_or_kill(pid_t pid, double kill_after_s) {
  const auto t0 = Clock::now();
  const auto deadline = t0 + std::chrono::duration<double>(kill_after_s);
  int status = 0;
  Ending e;
  for (;;) {
    if (::waitpid(pid, &status, WNOHANG) == pid) break;
    if (Clock::now() >= deadline) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      e.killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (WIFEXITED(status)) e.exit_code = WEXITSTATUS(status);
  e.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return e;
}

// Runs argv to completion (a hang is killed and fails the test); returns its wall time.
double run_to_end(const std::vector<std::string>& argv, const fs::path& log) {
  const Ending e = wait_or_kill(spawn(argv, log), kCompletionLimitS);
  std::string out;
  std::error_code ec;
  if (fs::exists(log, ec)) out = read_file(log);
  REQUIRE_MESSAGE(!e.killed, argv[1] << " did not finish in " << kCompletionLimitS << " s\n"
                                     << out);
  REQUIRE_MESSAGE(e.exit_code == 0, argv[1] << " exited " << e.exit_code << "\n" << out);
  return e.seconds;
}

// What one harness did, printed for the reliability note.
struct Figures {
  explicit Figures(std::string n) : name(std::move(n)) {}
  std::string name;
  int rounds = 0, kills = 0, finished_before_kill = 0, losses = 0;
  void count(const Ending& e) {
    ++rounds;
    if (e.killed)
      ++kills;
    else
      ++finished_before_kill;
  }
  void print(const std::string& extra = "") const {
    std::cout << "[kill] " << name << ": rounds " << rounds << ", kills " << kills
              << ", finished before the kill " << finished_before_kill << ", losses " << losses
              << extra << "\n";
  }
};

// Every file or folder under `dir` whose name marks an unfinished write.
std::vector<std::string> temp_files(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().filename().string().find(".tmp") != std::string::npos)
      out.push_back(e.path().string());
  return out;
}

// Every line of a JSON-lines file is a JSON object (no torn line); returns them.
std::vector<nlohmann::json> jsonl_lines(const fs::path& path) {
  std::vector<nlohmann::json> out;
  std::error_code ec;
  if (!fs::exists(path, ec)) return out;
  const std::string text = read_file(path);
  CHECK_MESSAGE((text.empty() || text.back() == '\n'), path.string() << " ends in a torn line");
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    CHECK_MESSAGE(j.is_object(), path.string() << ": not a JSON object: " << line);
    out.push_back(std::move(j));
  }
  return out;
}

void check_logs(const fs::path& project) {
  std::error_code ec;
  if (!fs::is_directory(project / "log", ec)) return;
  for (const auto& e : fs::directory_iterator(project / "log")) jsonl_lines(e.path());
}

}  // namespace

// ---------------------------------------------------------------- extract

namespace {

std::vector<std::string> extract_argv(const fs::path& project) {
  return {test::built_binary("excap"),
          "extract",
          project.string(),
          "--every",
          "1",
          "--dedupe",
          "0",
          "--quiet"};
}

// What must hold after any kill: frames.json parses, every record's PNG
// exists and decodes, ids are unique.
void check_extract_state(const fs::path& dir) {
  std::vector<Frame> frames;
  REQUIRE_NOTHROW(frames = Project::open(dir).load_frames());
  std::set<std::string> ids;
  for (const auto& f : frames) {
    CHECK_MESSAGE(ids.insert(f.id).second, "duplicate frame id " << f.id);
    CHECK_MESSAGE(fs::exists(dir / f.file), f.file << " is named in frames.json but absent");
    CHECK_NOTHROW(read_frame(dir / f.file));
  }
}

// Frames of `got` that are missing or differ (record or pixels) from `want`'s.
int frame_differences(const fs::path& want, const fs::path& got) {
  const auto a = Project::open(want).load_frames();
  const auto b = Project::open(got).load_frames();
  std::map<std::string, Frame> by_id;
  for (const auto& f : b) by_id[f.id] = f;
  CHECK(a.size() == b.size());
  int differ = 0;
  for (const auto& f : a) {
    auto it = by_id.find(f.id);
    const bool same =
        it != by_id.end() && it->second.clip == f.clip &&
        it->second.source_index == f.source_index && it->second.phash == f.phash &&
        it->second.file == f.file &&
        cv::norm(read_frame(want / f.file), read_frame(got / f.file), cv::NORM_INF) == 0;
    if (!same) ++differ;
  }
  return differ + static_cast<int>(b.size() > a.size() ? b.size() - a.size() : 0);
}

// PNGs in frames/ that no record names.
std::vector<std::string> orphan_frames(const fs::path& dir) {
  std::set<std::string> named;
  for (const auto& f : Project::open(dir).load_frames())
    named.insert(fs::path(f.file).filename().string());
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir / "frames"))
    if (!named.count(e.path().filename().string())) out.push_back(e.path().string());
  return out;
}

// The checks on a completed extraction: valid, no orphan or temp file, the
// frame set (records and pixels) equal to the uninterrupted one's. Returns the losses.
int check_extract_complete(const fs::path& ref, const fs::path& dir) {
  check_extract_state(dir);
  std::string out;
  CHECK_MESSAGE(
      test::run_command({test::built_binary("excap"), "validate", dir.string()}, &out) == 0, out);
  const auto orphans = orphan_frames(dir);
  CHECK_MESSAGE(orphans.empty(), "orphan: " << (orphans.empty() ? "" : orphans.front()));
  const auto temps = temp_files(dir);
  CHECK_MESSAGE(temps.empty(), "left behind: " << (temps.empty() ? "" : temps.front()));
  check_logs(dir);
  const int losses = frame_differences(ref, dir);
  CHECK(losses == 0);
  return losses;
}

}  // namespace

// Series of killed runs on one project; a run that finishes before its kill
// ends the series (checked like the final run), and the next starts afresh.
TEST_CASE(
    "SIGKILL during extract: every state consistent, the completed set equals an "
    "uninterrupted extraction") {
  test::ScratchDir tmp("kill-extract");
  const fs::path video = tmp / "exam.mkv";
  test::write_test_video(video, {640, 25});
  {
    Project p = Project::create(tmp / "base", cecd_schema(), {{"u", Role::Engineer}});
    const Video v = import_video(p, video, "Test Patient", "u");
    add_clip(p, v.id, 0, 300, "u", "");
    add_clip(p, v.id, 310, 640, "u", "");
  }
  const fs::path ref = tmp / "ref", dir = tmp / "killed";
  fs::copy(tmp / "base", ref, fs::copy_options::recursive);
  fs::copy(tmp / "base", dir, fs::copy_options::recursive);
  const double whole_s = run_to_end(extract_argv(ref), tmp / "ref.log");
  REQUIRE(Project::open(ref).load_frames().size() == 630);

  Figures fig("extract");
  int series = 1;
  std::mt19937 rng(20240612);
  std::uniform_real_distribution<double> when(0, whole_s);
  for (int round = 0; round < 24 && fig.kills < 12; ++round) {
    const Ending e = wait_or_kill(spawn(extract_argv(dir), tmp / "killed.log"), when(rng));
    fig.count(e);
    check_extract_state(dir);
    if (e.killed) continue;
    CHECK(e.exit_code == 0);
    fig.losses += check_extract_complete(ref, dir);
    fs::remove_all(dir);
    fs::copy(tmp / "base", dir, fs::copy_options::recursive);
    ++series;
  }
  run_to_end(extract_argv(dir), tmp / "killed.log");
  fig.losses += check_extract_complete(ref, dir);
  fig.print(", series " + std::to_string(series) + ", uninterrupted run " +
            std::to_string(whole_s) + " s");
}

namespace {

// The pid of a process that has ended (started, waited for and reaped).
long dead_pid() {
  const pid_t pid = spawn({"/bin/true"}, "/dev/null");
  int status = 0;
  ::waitpid(pid, &status, 0);
  return static_cast<long>(pid);
}

}  // namespace

// A kill during frames.json's atomic write leaves its temp file beside it:
// the next extraction removes it, but never a live writer's.
TEST_CASE("extract removes the frames.json temp of a writer killed mid-write") {
  test::ScratchDir tmp("kill-extract-temp");
  const fs::path video = tmp / "exam.mkv";
  test::write_test_video(video, {20, 10});
  Project p = Project::create(tmp / "proj", cecd_schema(), {{"u", Role::Engineer}});
  add_clip(p, import_video(p, video, "Test Patient", "u").id, 0, 20, "u", "");
  const fs::path dead = p.root() / ("frames.json.tmp-" + std::to_string(dead_pid()) + "-1f");
  const fs::path live = p.root() / ("frames.json.tmp-" + std::to_string(::getpid()) + "-2f");
  std::ofstream(dead) << "[";
  std::ofstream(live) << "[";
  run_to_end(extract_argv(p.root()), tmp / "extract.log");
  CHECK_FALSE(fs::exists(dead));
  CHECK(fs::exists(live));
}

// ---------------------------------------------------------------- train

#ifdef EXCAP_TEST_HAVE_MODEL_PROGRAM
namespace {

constexpr int kTrainIters = 30;

std::vector<std::string> train_argv(const fs::path& project, const std::string& run, bool resume,
                                    int iters = kTrainIters) {
  std::vector<std::string> a = {test::built_binary("excap"),
                                "train",
                                project.string(),
                                "--split",
                                "syn",
                                "--size",
                                "32",
                                "--model",
                                "mtcsn",
                                "--backbone",
                                "tiny",
                                "--device",
                                "cpu",
                                "--threads",
                                "1",
                                "--seed",
                                "7",
                                "--iters",
                                std::to_string(iters),
                                "--val-interval",
                                "5",
                                "--log-interval",
                                "1",
                                "--run",
                                run};
  if (resume) a.push_back("--resume");
  return a;
}

fs::path latest_weights(const fs::path& run_dir) {
  const auto j = nlohmann::json::parse(read_file(run_dir / "checkpoints/latest.json"));
  return run_dir / "checkpoints" / j.at("folder").get<std::string>() / "weights.safetensors";
}

// After any kill: the log has no torn line and the latest checkpoint, when
// there is one, is complete.
void check_run_state(const fs::path& run_dir) {
  jsonl_lines(run_dir / "metrics.jsonl");
  std::error_code ec;
  if (!fs::exists(run_dir / "checkpoints/latest.json", ec)) return;
  fs::path w;
  REQUIRE_NOTHROW(w = latest_weights(run_dir));
  CHECK_NOTHROW(safetensors::read(w));
  CHECK_NOTHROW(read_file(w.parent_path() / "state.json"));
  CHECK(fs::exists(w.parent_path() / "optimizer.pt"));
}

// Tensors of the two final weight files that differ in dtype, shape or bytes.
int weight_differences(const fs::path& a_run, const fs::path& b_run) {
  const auto a = safetensors::read(latest_weights(a_run));
  const auto b = safetensors::read(latest_weights(b_run));
  CHECK(a.tensors.size() == b.tensors.size());
  int differ = 0;
  for (const auto& [name, t] : a.tensors) {
    auto it = b.tensors.find(name);
    if (it == b.tensors.end() || it->second.dtype() != t.dtype() ||
        it->second.shape() != t.shape() ||
        std::memcmp(it->second.data(), t.data(), t.nbytes()) != 0)
      ++differ;
  }
  return differ;
}

// The loss of each iteration, the last line for it winning (a resumed run repeats some).
std::map<int, double> loss_curve(const fs::path& run_dir) {
  std::map<int, double> out;
  for (const auto& j : jsonl_lines(run_dir / "metrics.jsonl"))
    if (j.contains("loss") && j.contains("iter"))
      out[j["iter"].get<int>()] = j["loss"].get<double>();
  return out;
}

// The checks on a completed run: at its last iteration, no temp file, the
// loss of every iteration and the final weights equal the uninterrupted run's
// (runs.md: a resumed run matches an uninterrupted one). Returns the losses.
int check_train_complete(const fs::path& project, const fs::path& run) {
  check_run_state(run);
  CHECK(nlohmann::json::parse(read_file(run / "checkpoints/latest.json"))["iter"].get<int>() ==
        kTrainIters);
  const auto temps = temp_files(run);
  CHECK_MESSAGE(temps.empty(), "left behind: " << (temps.empty() ? "" : temps.front()));
  const auto want = loss_curve(project / "runs/ref"), got = loss_curve(run);
  CHECK(want.size() == static_cast<std::size_t>(kTrainIters));
  int curve_differences = 0;
  for (const auto& [it, loss] : want)
    if (!got.count(it) || got.at(it) != loss) ++curve_differences;
  CHECK(curve_differences == 0);
  const int weights_differ = weight_differences(project / "runs/ref", run);
  CHECK(weights_differ == 0);
  return curve_differences + weights_differ;
}

}  // namespace

// Series of killed runs, each resumed with --resume once it has a checkpoint
// (before that, the first command again); a run that finishes before its kill
// ends the series, checked like the final one, and the next series is a new run.
TEST_CASE("SIGKILL during train: resume completes, checkpoint loads, log whole, same weights") {
  test::ScratchDir tmp("kill-train");
  test::SyntheticSetOptions o;
  o.size = 32;
  o.train = 16, o.val = 4, o.test = 4;
  test::make_synthetic_project(tmp.path(), "syn", o);
  run_to_end(
      {test::built_binary("excap"), "pack", tmp.path().string(), "--split", "syn", "--size", "32"},
      tmp / "pack.log");
  const double whole_s = run_to_end(train_argv(tmp.path(), "ref", false), tmp / "ref.log");

  Figures fig("train");
  int series = 1;
  auto run_name = [&] { return "killed-" + std::to_string(series); };
  auto has_checkpoint = [&] {
    return fs::exists(tmp / "runs" / run_name() / "checkpoints/latest.json");
  };
  std::mt19937 rng(612);
  std::uniform_real_distribution<double> when(0, whole_s);
  for (int round = 0; round < 20 && fig.kills < 8; ++round) {
    const Ending e = wait_or_kill(
        spawn(train_argv(tmp.path(), run_name(), has_checkpoint()), tmp / "k.log"), when(rng));
    fig.count(e);
    check_run_state(tmp / "runs" / run_name());
    if (e.killed) continue;
    CHECK_MESSAGE(e.exit_code == 0, read_file(tmp / "k.log"));
    fig.losses += check_train_complete(tmp.path(), tmp / "runs" / run_name());
    ++series;
  }
  run_to_end(train_argv(tmp.path(), run_name(), has_checkpoint()), tmp / "k.log");
  fig.losses += check_train_complete(tmp.path(), tmp / "runs" / run_name());
  std::string out;
  CHECK_MESSAGE(test::run_command({test::built_binary("excap"), "eval", tmp.path().string(),
                                   "--run", run_name(), "--device", "cpu", "--threads", "1"},
                                  &out) == 0,
                out);
  CHECK(fig.losses == 0);
  fig.print(", series " + std::to_string(series) + ", uninterrupted run " +
            std::to_string(whole_s) + " s");
}

// A kill during config.json's atomic write leaves its temp in the run folder;
// the run's next start (fresh or resumed) removes it.
TEST_CASE("train removes the config.json temp of a run killed mid-write") {
  test::ScratchDir tmp("kill-train-temp");
  test::SyntheticSetOptions o;
  o.size = 32;
  o.train = 8, o.val = 4, o.test = 4;
  test::make_synthetic_project(tmp.path(), "syn", o);
  run_to_end(
      {test::built_binary("excap"), "pack", tmp.path().string(), "--split", "syn", "--size", "32"},
      tmp / "pack.log");
  const fs::path run = tmp / "runs/r";
  ensure_dir(run);
  std::ofstream(run / "config.json.tmp-1234-5f") << "{";
  auto argv = train_argv(tmp.path(), "r", false, 2);
  run_to_end(argv, tmp / "train.log");
  CHECK(temp_files(run).empty());
  std::ofstream(run / "config.json.tmp-1234-6f") << "{";
  argv.push_back("--resume");
  run_to_end(argv, tmp / "train.log");
  CHECK(temp_files(run).empty());
}
#endif

// ---------------------------------------------------------------- studio autosave

namespace {

constexpr const char* kUser = "a";

struct JournalState {
  std::map<std::string, long long> last_submitted, last_written;
  std::map<std::string, std::set<long long>> submitted;
};

JournalState read_journal(const fs::path& path) {
  JournalState j;
  std::error_code ec;
  if (!fs::exists(path, ec)) return j;
  std::istringstream in(read_file(path));
  char kind = 0;
  std::string frame;
  long long v = 0;
  while (in >> kind >> frame >> v) {
    if (kind == 's') {
      j.last_submitted[frame] = std::max(j.last_submitted[frame], v);
      j.submitted[frame].insert(v);
    } else {
      j.last_written[frame] = std::max(j.last_written[frame], v);
    }
  }
  return j;
}

std::vector<std::string> driver_argv(const fs::path& project, const fs::path& journal, int edits) {
  return {test::built_binary("excap_kill_autosave_driver"),
          project.string(),
          kUser,
          journal.string(),
          std::to_string(edits),
          "3"};
}

// What the harness knows across rounds: each frame's version on disk and
// every version ever submitted for it.
struct AutosaveTracker {
  std::map<std::string, long long> on_disk;
  std::map<std::string, std::set<long long>> submitted;
  long long unsaved = 0;  // most edits submitted but not on disk, at the last check
};

// After a kill, per frame: the JSON and the PNG are each one whole version
// (never torn), the JSON no older than the last write reported done (else a
// lost edit) nor than before the round, the mask no older than the JSON (it
// is written first) and a version that was submitted. Returns the losses.
int check_autosave_state(const fs::path& dir, const JournalState& j, AutosaveTracker& t) {
  int losses = 0;
  t.unsaved = 0;
  for (const auto& [id, versions] : j.submitted)
    t.submitted[id].insert(versions.begin(), versions.end());
  const Project p = Project::open(dir);
  for (const auto& f : p.load_frames()) {
    const std::string& id = f.id;
    long long json_v = 0;
    std::optional<LabelRecord> rec;
    REQUIRE_NOTHROW(rec = p.load_label(kUser, id));
    if (rec) {
      json_v = static_cast<long long>(rec->time_spent_s);
      CHECK_MESSAGE((rec->cd && *rec->cd == json_v % 3), id << ": CD of another version");
    }
    const long long before = t.on_disk[id];
    const long long written = j.last_written.count(id) ? j.last_written.at(id) : 0;
    const long long submitted = j.last_submitted.count(id) ? j.last_submitted.at(id) : 0;
    if (json_v < std::max(before, written)) ++losses;
    CHECK_MESSAGE(json_v >= std::max(before, written),
                  id << ": version " << json_v << " on disk, " << written << " written");
    const fs::path mask = p.label_mask_path(kUser, id);
    if (fs::exists(mask)) {
      cv::Mat m;
      REQUIRE_NOTHROW(m = read_mask(mask));
      const auto mv = test::mask_version(m);
      REQUIRE_MESSAGE(mv.has_value(), mask.string() << " is no whole version");
      CHECK(*mv >= json_v);
      CHECK(t.submitted[id].count(*mv) == 1);
    } else {
      CHECK(!rec);
    }
    t.unsaved = std::max(t.unsaved, std::max(submitted, before) - json_v);
    t.on_disk[id] = json_v;
  }
  return losses;
}

}  // namespace

TEST_CASE(
    "SIGKILL during studio autosave: label JSON and mask always whole, no written edit "
    "lost") {
  test::ScratchDir tmp("kill-autosave");
  const fs::path dir = tmp / "proj";
  test::make_studio_project(dir, 2, 96, {kUser});
  AutosaveTracker t;
  const double whole_s = run_to_end(driver_argv(dir, tmp / "j0", 150), tmp / "driver.log");
  CHECK(check_autosave_state(dir, read_journal(tmp / "j0"), t) == 0);
  CHECK(t.unsaved == 0);  // an uninterrupted run writes everything

  Figures fig("studio autosave");
  std::mt19937 rng(1206);
  std::uniform_real_distribution<double> when(0, whole_s);
  long long most_unsaved = 0;
  for (int round = 1; round <= 20; ++round) {
    const fs::path journal = tmp / ("j" + std::to_string(round));
    fig.count(wait_or_kill(spawn(driver_argv(dir, journal, 150), tmp / "driver.log"), when(rng)));
    fig.losses += check_autosave_state(dir, read_journal(journal), t);
    most_unsaved = std::max(most_unsaved, t.unsaved);
    check_logs(dir);
  }
  const fs::path last = tmp / "jlast";
  run_to_end(driver_argv(dir, last, 10), tmp / "driver.log");
  CHECK(check_autosave_state(dir, read_journal(last), t) == 0);
  CHECK(t.unsaved == 0);
  const auto temps = temp_files(dir);
  CHECK_MESSAGE(temps.empty(), "left behind: " << (temps.empty() ? "" : temps.front()));
  CHECK(fig.losses == 0);
  fig.print(", most edits submitted but not yet on disk at a kill " + std::to_string(most_unsaved));
}
