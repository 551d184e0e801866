#include "bench/prelabel_effort.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "curation/assign.h"
#include "media/imageio.h"
#include "store/prelabel.h"

namespace excap::trainer {

namespace {

const char* const kRun = "prelabel-effort";
const char* const kSplit = "prelabel-effort";

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string fixed(double v, int decimals) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", decimals, v);
  return b;
}

void check_options(const PrelabelEffortOptions& o) {
  validate_synth_options(o.synth);
  if (o.held_out < 1 || o.held_out >= o.synth.patients)
    throw Error("--held-out", "must be 1.." + std::to_string(o.synth.patients - 1) +
                                  " (fewer than --patients), got " + std::to_string(o.held_out));
  if (o.frames < 0) throw Error("--frames", "must be >= 0, got " + std::to_string(o.frames));
  if (o.model.iters < 1) throw Error("--iters", "must be >= 1");
}

// The labeled part: every frame of the training patients, or `frames` of them drawn by the seed.
std::vector<std::string> labeled_part(const PrelabelEffortOptions& o, const LabelWorld& w,
                                      PrelabelEffortResult& r) {
  const auto n_train = static_cast<std::ptrdiff_t>(w.patients.size()) - o.held_out;
  if (n_train < 1)
    throw Error(w.root.string(), "the sample has " + std::to_string(w.patients.size()) +
                                     " patients with frames; none is left to train on");
  r.train_patients.assign(w.patients.begin(), w.patients.begin() + n_train);
  r.held_out_patients.assign(w.patients.begin() + n_train, w.patients.end());
  std::vector<std::string> ids = frames_of(w, r.train_patients);
  if (o.frames > 0 && o.frames < static_cast<int>(ids.size())) {
    SeededRng rng(o.seed);
    rng.shuffle(ids);
    ids.resize(static_cast<std::size_t>(o.frames));
  }
  return ids;
}

FrameEffort compare_frame(const LabelWorld& w, const Project& p, const std::string& id,
                          const std::string& patient) {
  const TruthLabel t = truth_of(w, id);
  const auto s = load_suggestion(p, kRun, id);
  if (!s) throw Error(suggestion_json_path(p, kRun, id).string(), "no suggestion was written");
  const cv::Mat suggested = read_mask(suggestion_mask_path(p, kRun, id));
  if (suggested.size() != t.mask.size())
    throw Error(suggestion_mask_path(p, kRun, id).string(), "size differs from the truth mask");
  const cv::Mat fov = t.mask != 0;
  FrameEffort f;
  f.frame = id;
  f.patient = patient;
  f.fov_pixels = cv::countNonZero(fov);
  f.scratch_pixels = pixels_to_change(empty_start_mask(fov), t.mask, fov);
  f.prelabel_pixels = pixels_to_change(suggested, t.mask, fov);
  f.truth_cd = t.cd;
  f.suggested_cd = s->cd;
  f.uncertainty = uncertainty_score(*s);
  return f;
}

void summarise(PrelabelEffortResult& r) {
  std::vector<long long> scratch, pre;
  for (const auto& f : r.frames) {
    scratch.push_back(f.scratch_pixels);
    pre.push_back(f.prelabel_pixels);
    ++r.cd_scratch;  // no CD is chosen in an empty label
    if (f.suggested_cd != f.truth_cd) ++r.cd_prelabel;
  }
  r.scratch = effort_stats(scratch);
  r.prelabel = effort_stats(pre);
  r.ratio = r.scratch.total > 0 ? static_cast<double>(r.prelabel.total) / r.scratch.total : 0;
}

}  // namespace

cv::Mat empty_start_mask(const cv::Mat& fov) {
  cv::Mat m(fov.size(), CV_8UC1, cv::Scalar(0));  // background outside the field of view
  m.setTo(255, fov);                              // "not yet labeled" inside it
  return m;
}

long long pixels_to_change(const cv::Mat& start, const cv::Mat& truth, const cv::Mat& fov) {
  if (start.size() != truth.size() || fov.size() != truth.size())
    throw Error("pixels_to_change", "masks of different sizes");
  return cv::countNonZero((start != truth) & (fov != 0));
}

EffortStats effort_stats(const std::vector<long long>& v) {
  EffortStats s;
  if (v.empty()) return s;
  for (long long x : v) s.total += x;
  s.mean = static_cast<double>(s.total) / static_cast<double>(v.size());
  std::vector<long long> sorted = v;
  std::sort(sorted.begin(), sorted.end());
  const std::size_t n = sorted.size();
  s.median = n % 2 ? static_cast<double>(sorted[n / 2])
                   : (static_cast<double>(sorted[n / 2 - 1]) + sorted[n / 2]) / 2.0;
  return s;
}

PrelabelEffortResult bench_prelabel_effort(const PrelabelEffortOptions& o, const BenchLog& log) {
  check_options(o);
  const auto t0 = std::chrono::steady_clock::now();
  SynthOptions synth = o.synth;
  synth.seed = o.seed;
  const LabelWorld w = make_label_world(o.out / "sample", synth, log);
  PrelabelEffortResult r;
  r.project = w.root;
  r.run = kRun;
  const std::vector<std::string> labeled = labeled_part(o, w, r);
  r.labeled_frames = static_cast<int>(labeled.size());
  oracle_label(w, labeled);
  save_frame_split(w, kSplit, {{"train", labeled}});
  if (log)
    log("training a " + o.model.backbone + " MTCSN at " + std::to_string(o.model.size) + "x" +
        std::to_string(o.model.size) + ", " + std::to_string(o.model.iters) + " iterations, on " +
        std::to_string(labeled.size()) + " labeled frames");
  auto t = std::chrono::steady_clock::now();
  train_on_split(w, kSplit, kRun, o.model, o.seed);
  r.train_s = seconds_since(t);
  t = std::chrono::steady_clock::now();
  prelabel_frames(w, kRun, "unlabeled", o.model);
  r.prelabel_s = seconds_since(t);
  const Project p = Project::open(w.root);
  for (const auto& f : w.frames)
    if (std::find(r.held_out_patients.begin(), r.held_out_patients.end(), f.patient) !=
        r.held_out_patients.end())
      r.frames.push_back(compare_frame(w, p, f.id, f.patient));
  summarise(r);
  r.json = o.out / "prelabel_effort.json";
  r.total_s = seconds_since(t0);
  write_json_atomic(r.json, prelabel_effort_json(o, r));
  return r;
}

std::string format_prelabel_effort(const PrelabelEffortOptions& o, const PrelabelEffortResult& r) {
  std::ostringstream s;
  s << "bench prelabel-effort: " << o.model.backbone << " MTCSN, " << o.model.size << "x"
    << o.model.size << ", " << o.model.iters << " iterations on " << r.labeled_frames
    << " labeled frames of " << r.train_patients.size() << " patients (" << fixed(r.train_s, 1)
    << " s); pre-labels of " << r.frames.size() << " frames of " << r.held_out_patients.size()
    << " held-out patient(s) (" << fixed(r.prelabel_s, 1) << " s)\n";
  s << "  from scratch = the studio's empty mask: unlabeled (255) inside the field of view,\n"
       "  background outside; counted: field-of-view pixels whose start differs from the truth\n";
  char line[160];
  std::snprintf(line, sizeof line, "  %-28s %12s %12s %14s\n", "pixels to change per frame", "mean",
                "median", "total");
  s << line;
  std::snprintf(line, sizeof line, "  %-28s %12.0f %12.0f %14lld\n", "from scratch", r.scratch.mean,
                r.scratch.median, r.scratch.total);
  s << line;
  std::snprintf(line, sizeof line, "  %-28s %12.0f %12.0f %14lld\n", "from the pre-label",
                r.prelabel.mean, r.prelabel.median, r.prelabel.total);
  s << line;
  s << "  ratio pre-label / scratch (totals): " << fixed(r.ratio, 3) << " ("
    << (r.ratio <= 0.5 ? "at least halved" : "NOT halved") << "; "
    << fixed(r.ratio > 0 ? 1 / r.ratio : 0, 1) << "x fewer pixels)\n";
  s << "  CD to choose or change: from scratch " << r.cd_scratch << " of " << r.frames.size()
    << " frames (none is chosen), from the pre-label " << r.cd_prelabel << " of " << r.frames.size()
    << "\n";
  s << "  figures: " << r.json.string() << "; project (open in the studio): " << r.project.string()
    << "\n";
  return s.str();
}

nlohmann::json prelabel_effort_json(const PrelabelEffortOptions& o, const PrelabelEffortResult& r) {
  nlohmann::json frames = nlohmann::json::array();
  for (const auto& f : r.frames)
    frames.push_back({{"frame", f.frame},
                      {"patient", f.patient},
                      {"fov_pixels", f.fov_pixels},
                      {"scratch_pixels", f.scratch_pixels},
                      {"prelabel_pixels", f.prelabel_pixels},
                      {"truth_cd", f.truth_cd},
                      {"suggested_cd", f.suggested_cd},
                      {"uncertainty", f.uncertainty}});
  auto stats = [](const EffortStats& e) {
    return nlohmann::json{{"mean", e.mean}, {"median", e.median}, {"total", e.total}};
  };
  nlohmann::json settings = world_settings_json(o.synth, o.model);
  settings["seed"] = o.seed;
  settings["held_out"] = o.held_out;
  return {{"format", "excap-bench-prelabel-effort"},
          {"version", 1},
          {"settings", settings},
          {"empty_mask",
           "255 (unlabeled) inside the field of view, 0 (background) outside; the field of view "
           "is the truth's non-background pixels, and only pixels inside it are counted"},
          {"run", r.run},
          {"project", r.project.string()},
          {"train_patients", r.train_patients},
          {"held_out_patients", r.held_out_patients},
          {"labeled_frames", r.labeled_frames},
          {"frames", frames},
          {"summary",
           {{"frames", r.frames.size()},
            {"scratch", stats(r.scratch)},
            {"prelabel", stats(r.prelabel)},
            {"ratio", r.ratio},
            {"cd_scratch", r.cd_scratch},
            {"cd_prelabel", r.cd_prelabel}}},
          {"seconds", {{"train", r.train_s}, {"prelabel", r.prelabel_s}, {"total", r.total_s}}}};
}

}  // namespace excap::trainer
