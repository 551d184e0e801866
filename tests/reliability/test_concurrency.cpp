// Concurrency harness: several real `excap` processes write one project at
// the same time (import, clips add, extract, assign, adjudicate), round after
// round; after each round nothing may be lost or doubled, ids stay unique,
// every change has its audit line and the project validates clean.
#include <doctest/doctest.h>

#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/process.h"
#include "common/sha256.h"
#include "store/validate.h"
#include "support/project_builder.h"
#include "test_support.h"

using namespace excap;
using namespace excap::test;
using json = nlohmann::json;

namespace {

constexpr int kClipFrames = 6;      // each process's clip; clips of one video never overlap
constexpr double kLimitS = 300;     // a child running longer is a hang, and a failure
const char* kLockTimeoutS = "120";  // generous: waiting for the lock is not a failure

struct Imported {
  fs::path file;
  std::string name;  // patient name as given on the command line
  std::string sha;
};

struct WantClip {
  std::string video;
  long long start = 0, end = 0;
};

// What the harness expects of the project, what it ran and what it found.
class Harness {
 public:
  Harness(fs::path root, fs::path media, int procs)
      : root_(std::move(root)), media_(std::move(media)), procs_(procs) {
    secret_ = Project::open(root_).load_local().value("pseudonym_secret", "");
  }
  void round(int r);
  void check();
  void summary(std::ostream& os, int rounds) const;
  std::size_t losses() const;
  std::string findings() const;
  const std::vector<std::string>& failures() const { return failures_; }
  int commands() const { return commands_; }

 private:
  std::vector<ProcessResult> run_all(const std::vector<std::vector<std::string>>& cmds);
  std::string import_phase(int r);
  std::vector<std::string> clips_phase(const std::string& video);
  void extract_phase(const std::vector<std::string>& clips);
  void label_assigned();
  void check_videos(const std::vector<json>& log);
  void check_clips(const std::vector<json>& log);
  void check_frames(const std::vector<json>& log);
  void check_curation(const std::vector<json>& log);
  void check_valid();
  void check_leftovers();
  std::vector<json> audit_lines();
  void loss(const std::string& kind, const std::string& what) { losses_[kind].insert(what); }
  std::string user(int k) const { return k % 2 ? "b" : "a"; }

  fs::path root_, media_;
  int procs_;
  std::string secret_;
  std::string excap_ = built_binary("excap");
  std::vector<Imported> imported_;
  std::vector<WantClip> clips_;
  std::map<std::string, int> extract_runs_;  // clip -> extract commands that exited 0
  std::set<std::string> labelled_;           // frames both annotators labelled
  // Distinct findings by command: a loss seen again in a later round counts once.
  std::map<std::string, std::set<std::string>> losses_;
  std::vector<std::string> failures_;
  int commands_ = 0;
};

std::string first_line(const std::string& s) {
  std::string line = s.substr(0, s.find('\n'));
  return line.size() > 200 ? line.substr(0, 200) + "..." : line;
}

// Starts every command at once (one thread waits for each), then waits for all.
std::vector<ProcessResult> Harness::run_all(const std::vector<std::vector<std::string>>& cmds) {
  std::vector<ProcessResult> results(cmds.size());
  ProcessOptions o;
  o.timeout_s = kLimitS;
  o.env = {{"EXCAP_LOCK_TIMEOUT", kLockTimeoutS}};
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < cmds.size(); ++i)
    threads.emplace_back([&, i] {
      try {
        results[i] = run_process(cmds[i], o);
      } catch (const std::exception& e) {
        results[i].out = e.what();
      }
    });
  for (auto& t : threads) t.join();
  for (std::size_t i = 0; i < cmds.size(); ++i) {
    ++commands_;
    if (results[i].ok()) continue;
    failures_.push_back(cmds[i][1] + " (" + describe_exit(results[i]) +
                        "): " + first_line(results[i].out));
  }
  return results;
}

// N imports of N distinct videos; returns the id of one video imported now.
std::string Harness::import_phase(int r) {
  std::vector<std::vector<std::string>> cmds;
  std::vector<Imported> batch;
  for (int k = 0; k < procs_; ++k) {
    const int index = r * procs_ + k;
    Imported im;
    im.file = media_ / ("r" + std::to_string(r) + "v" + std::to_string(k) + ".mkv");
    im.name = "patient-" + std::to_string(index);
    // Another frame count gives another file: every video has its own sha256.
    write_test_video(im.file, {procs_ * kClipFrames + index, 10});
    im.sha = sha256_file(im.file);
    batch.push_back(im);
    cmds.push_back({excap_, "import", root_.string(), im.file.string(), "--patient", im.name,
                    "--user", user(k)});
  }
  const auto results = run_all(cmds);
  std::string shas;
  for (std::size_t k = 0; k < batch.size(); ++k)
    if (results[k].ok()) imported_.push_back(batch[k]), shas += batch[k].sha + " ";
  for (const auto& v : Project::open(root_).load_videos())
    if (shas.find(v.sha256) != std::string::npos) return v.id;
  return "";
}

// N non-overlapping clips of one video, all at once; returns their ids by start.
std::vector<std::string> Harness::clips_phase(const std::string& video) {
  std::vector<std::vector<std::string>> cmds;
  for (int k = 0; k < procs_; ++k)
    cmds.push_back({excap_, "clips", "add", root_.string(), "--video", video, "--from",
                    std::to_string(k * kClipFrames), "--to", std::to_string((k + 1) * kClipFrames),
                    "--user", user(k)});
  const auto results = run_all(cmds);
  for (int k = 0; k < procs_; ++k)
    if (results[k].ok()) clips_.push_back({video, k * kClipFrames, (k + 1) * kClipFrames});
  std::map<long long, std::string> by_start;
  for (const auto& c : Project::open(root_).load_clips())
    if (c.video == video) by_start.emplace(c.start, c.id);
  std::vector<std::string> ids;
  for (const auto& [start, id] : by_start) ids.push_back(id);
  return ids;
}

// Two processes per clip: the same clip extracted twice at once, and other
// clips at the same time.
void Harness::extract_phase(const std::vector<std::string>& clips) {
  std::vector<std::vector<std::string>> cmds;
  std::vector<std::string> of;
  for (int k = 0; k < procs_; ++k) {
    if (static_cast<std::size_t>(k / 2) >= clips.size()) break;
    of.push_back(clips[k / 2]);
    cmds.push_back({excap_, "extract", root_.string(), "--clip", of.back(), "--every", "1",
                    "--quiet", "--user", user(k)});
  }
  const auto results = run_all(cmds);
  // Exit 3 (some frames failed) is a failure, yet its run is audited as well.
  for (std::size_t k = 0; k < cmds.size(); ++k)
    if (results[k].ok() || (results[k].exit_code == 3 && !results[k].timed_out))
      ++extract_runs_[of[k]];
}

// Both annotators give every assigned frame the same label, so auto-accept
// has work; written here, sequentially: labels are per-user files.
void Harness::label_assigned() {
  const Project p = Project::open(root_);
  const cv::Mat mask = planted_mask(kVideoSize);
  for (const auto& [frame, users] : p.load_assignments()) {
    if (labelled_.count(frame)) continue;
    for (const auto& u : users) add_label(p, u, frame, 0, mask);
    labelled_.insert(frame);
  }
}

void Harness::round(int r) {
  const std::string video = import_phase(r);
  if (video.empty()) return;  // every import failed: the failures say why
  const std::vector<std::string> clips = clips_phase(video);
  extract_phase(clips);
  const std::vector<std::string> assign(
      {excap_, "assign", root_.string(), "--annotators", "a,b", "--per-frame", "2", "--by"});
  std::vector<std::vector<std::string>> cmds;
  for (int k = 0; k < procs_; ++k) cmds.push_back(assign), cmds.back().push_back(user(k));
  run_all(cmds);
  label_assigned();
  cmds.assign(procs_,
              {excap_, "adjudicate", root_.string(), "--auto-accept", "0.5", "--by", "expert"});
  run_all(cmds);
  check();
}

// Every line of every log/<user>.jsonl; a line that is not JSON is a finding.
std::vector<json> Harness::audit_lines() {
  std::vector<json> lines;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root_ / "log", ec)) {
    if (e.path().extension() != ".jsonl") continue;
    std::ifstream in(e.path());
    int n = 0;
    for (std::string l; std::getline(in, l);) {
      ++n;
      if (l.empty()) continue;
      try {
        lines.push_back(json::parse(l));
      } catch (const json::exception&) {
        loss("audit log", "log/" + e.path().filename().string() + " line " + std::to_string(n) +
                              " is not one JSON object (torn or interleaved append)");
      }
    }
  }
  return lines;
}

std::vector<json> with_action(const std::vector<json>& log, const std::string& action) {
  std::vector<json> out;
  for (const auto& l : log)
    if (l.value("action", "") == action) out.push_back(l);
  return out;
}

void Harness::check() {
  const std::vector<json> log = audit_lines();
  check_videos(log);
  check_clips(log);
  check_frames(log);
  check_curation(log);
  check_valid();
  check_leftovers();
}

// Each imported file is in videos.json once, with its own sha256 and patient;
// its source in local.json is that file; one import_video line says so.
void Harness::check_videos(const std::vector<json>& log) {
  const Project p = Project::open(root_);
  const auto videos = p.load_videos();
  const json sources = p.load_local().value("sources", json::object());
  std::map<std::string, int> ids;
  for (const auto& v : videos)
    if (++ids[v.id] == 2) loss("import", "video id " + v.id + " issued twice in videos.json");
  const auto imports = with_action(log, "import_video");
  for (const auto& im : imported_) {
    const std::string what = "video " + im.file.filename().string();
    int found = 0;
    for (const auto& v : videos) {
      if (v.sha256 != im.sha) continue;
      ++found;
      const std::string want = "p-" + hmac_sha256_hex(secret_, im.name).substr(0, 16);
      if (v.patient != want)
        loss("import", what + " (" + v.id + ") carries another patient's pseudonym");
      const std::string src = sources.value(v.id, "");
      if (src.empty() || !fs::exists(src) || sha256_file(src) != v.sha256)
        loss("import", what + " (" + v.id + "): local.json points at another file (" + src + ")");
      int lines = 0;
      for (const auto& l : imports)
        if (l.value("video", "") == v.id && l.value("sha256", "") == v.sha256) ++lines;
      if (lines != 1)
        loss("import",
             what + " (" + v.id + ") has " + std::to_string(lines) + " import_video audit lines");
    }
    if (found != 1)
      loss("import",
           what + " imported with exit 0 is in videos.json " + std::to_string(found) + " times");
  }
  if (imports.size() != videos.size())
    loss("import", std::to_string(imports.size()) + " import_video audit lines for " +
                       std::to_string(videos.size()) + " videos");
}

// Every clip added with exit 0 is there once, with one add_clip line.
void Harness::check_clips(const std::vector<json>& log) {
  const auto clips = Project::open(root_).load_clips();
  std::map<std::string, int> ids;
  for (const auto& c : clips)
    if (++ids[c.id] == 2) loss("clips add", "clip id " + c.id + " issued twice in clips.json");
  const auto adds = with_action(log, "add_clip");
  for (const auto& w : clips_) {
    const std::string what =
        "clip [" + std::to_string(w.start) + ", " + std::to_string(w.end) + ") of " + w.video;
    int found = 0;
    for (const auto& c : clips) {
      if (c.video != w.video || c.start != w.start || c.end != w.end) continue;
      ++found;
      int lines = 0;
      for (const auto& l : adds)
        if (l.value("clip", "") == c.id && l.value("start", -1LL) == c.start) ++lines;
      if (lines != 1)
        loss("clips add",
             what + " (" + c.id + ") has " + std::to_string(lines) + " add_clip audit lines");
    }
    if (found != 1)
      loss("clips add",
           what + " added with exit 0 is in clips.json " + std::to_string(found) + " times");
  }
}

// frames.json holds each extracted frame once, every source frame of each
// extracted clip, a PNG for each and no other file; one extract line per run.
void Harness::check_frames(const std::vector<json>& log) {
  const Project p = Project::open(root_);
  const auto frames = p.load_frames();
  std::map<std::string, int> ids;
  std::map<std::string, std::set<long long>> of_clip;
  for (const auto& f : frames) {
    if (++ids[f.id] == 2) loss("extract", "frame " + f.id + " listed twice in frames.json");
    of_clip[f.clip].insert(f.source_index);
    if (!fs::exists(p.frame_path(f.id))) loss("extract", "frame " + f.id + " has no PNG");
  }
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root_ / "frames", ec)) {
    const std::string name = e.path().filename().string();
    if (e.path().extension() != ".png" || !ids.count(e.path().stem().string()))
      loss("extract", "frames/" + name + " is a file no frames.json entry names");
  }
  const auto extracts = with_action(log, "extract");
  for (const auto& c : p.load_clips()) {
    const auto runs = extract_runs_.find(c.id);
    if (runs == extract_runs_.end()) continue;
    if (static_cast<long long>(of_clip[c.id].size()) != c.end - c.start)
      loss("extract", "clip " + c.id + " has " + std::to_string(of_clip[c.id].size()) +
                          " distinct frames of " + std::to_string(c.end - c.start));
    int lines = 0;
    for (const auto& l : extracts) lines += l.value("clip", "") == c.id;
    if (lines != runs->second)
      loss("extract", "clip " + c.id + ": " + std::to_string(lines) + " extract audit lines for " +
                          std::to_string(runs->second) + " runs");
  }
}

// Every frame assigned to both annotators, counted once in the assign
// lines; every labelled frame auto-accepted once, in one auto-accept line.
void Harness::check_curation(const std::vector<json>& log) {
  const Project p = Project::open(root_);
  const auto assignments = p.load_assignments();
  const auto frames = p.load_frames();
  for (const auto& f : frames) {
    const auto a = assignments.find(f.id);
    if (a == assignments.end() || std::set<std::string>(a->second.begin(), a->second.end()) !=
                                      std::set<std::string>{"a", "b"})
      loss("assign", "frame " + f.id + " is not assigned to a and b");
  }
  long long counted = 0;
  for (const auto& l : with_action(log, "assign"))
    counted += l.value("new", 0LL) + l.value("topped_up", 0LL);
  if (counted != static_cast<long long>(assignments.size()))
    loss("assign", "assign audit lines count " + std::to_string(counted) + " assignments for " +
                       std::to_string(assignments.size()) + " assigned frames");
  std::map<std::string, int> accepted;
  for (const auto& l : with_action(log, "auto-accept"))
    for (const auto& f : l.value("accepted", json::array())) ++accepted[f.get<std::string>()];
  for (const auto& f : labelled_) {
    const auto fin = p.load_final(f);
    if (!fin || fin->expert != "auto")
      loss("adjudicate", "frame " + f + " agreed by both was not auto-accepted");
    if (accepted[f] != 1)
      loss("adjudicate",
           "frame " + f + " is in " + std::to_string(accepted[f]) + " auto-accept audit lines");
  }
}

// Once every command has ended, no lock, journal or temporary file is left.
void Harness::check_leftovers() {
  static const std::set<std::string> known{
      "project.json", "local.json", "videos.json", "clips.json", "frames.json", "assignments.json",
      "frames",       "labels",     "final",       "splits",     "runs",        "log"};
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root_, ec))
    if (!known.count(e.path().filename().string()))
      loss("leftovers", e.path().filename().string() + " is left in the project folder");
  for (const auto& e : fs::recursive_directory_iterator(root_, ec))
    if (e.path().filename().string().find(".tmp-") != std::string::npos)
      loss("leftovers", fs::relative(e.path(), root_).string() + " is a temporary left behind");
}

void Harness::check_valid() {
  for (const auto& pr : validate_project(root_))
    loss("validate", "validate: " + pr.file + ": " + pr.reason);
  std::string out;
  if (run_command({excap_, "validate", root_.string()}, &out) != 0)
    loss("validate", "excap validate exits non-zero: " + first_line(out));
}

std::size_t Harness::losses() const {
  std::size_t n = 0;
  for (const auto& [kind, found] : losses_) n += found.size();
  return n;
}

std::string Harness::findings() const {
  std::string all;
  for (const auto& [kind, found] : losses_)
    for (const auto& f : found) all += kind + ": " + f + "\n";
  return all;
}

// The figures, then the losses by command (a few of each).
void Harness::summary(std::ostream& os, int rounds) const {
  os << "concurrency: " << rounds << " rounds x " << procs_ << " processes, " << commands_
     << " commands run, " << failures_.size() << " failed, " << losses() << " losses found\n";
  for (std::size_t i = 0; i < failures_.size() && i < 5; ++i)
    os << "  failed: " << failures_[i] << "\n";
  for (const auto& [kind, found] : losses_) {
    os << "  " << kind << ": " << found.size() << " losses\n";
    int shown = 0;
    for (const auto& f : found)
      if (shown++ < 4) os << "    " << f << "\n";
  }
}

fs::path make_project(const ScratchDir& tmp) {
  const fs::path root = tmp / "proj";
  ProjectBuilder(root)
      .users({{"a", Role::Annotator}, {"b", Role::Annotator}, {"expert", Role::Expert}})
      .build();
  fs::create_directories(tmp / "media");
  return root;
}

}  // namespace

TEST_CASE("concurrent imports, clips, extractions, assignments and adjudications lose nothing") {
  constexpr int kProcs = 4, kRounds = 3;
  ScratchDir tmp("concurrency");
  Harness h(make_project(tmp), tmp / "media", kProcs);
  for (int r = 0; r < kRounds; ++r) h.round(r);
  std::ostringstream figures;
  h.summary(figures, kRounds);
  std::cout << figures.str();
  INFO(figures.str());
  CHECK(h.commands() == kRounds * 5 * kProcs);
  CHECK(h.failures().empty());
  CHECK(h.losses() == 0);
}

TEST_CASE("the concurrency checks find a lost clip, a doubled frame and a stray PNG") {
  ScratchDir tmp("concurrency-checks");
  const fs::path root = make_project(tmp);
  Harness h(root, tmp / "media", 1);
  h.round(0);  // one process per step: nothing races
  REQUIRE(h.losses() == 0);
  REQUIRE(h.failures().empty());
  const Project p = Project::open(root);
  auto clips = p.load_clips();
  REQUIRE(clips.size() == 1);
  p.save_clips({});
  auto frames = p.load_frames();
  REQUIRE(!frames.empty());
  frames.push_back(frames.front());
  p.save_frames(frames);
  std::ofstream(root / "frames" / "v001_999999.png") << "x";
  h.check();
  const std::string all = h.findings();
  INFO(all);
  CHECK(all.find("added with exit 0 is in clips.json 0 times") != std::string::npos);
  CHECK(all.find("listed twice in frames.json") != std::string::npos);
  CHECK(all.find("frames/v001_999999.png is a file no frames.json entry names") !=
        std::string::npos);
}
