#include "bench/label_world.h"

#include <algorithm>
#include <cmath>
#include <set>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "curation/split.h"
#include "media/imageio.h"
#include "sample/sample.h"
#include "store/prelabel.h"
#include "trainer/pack.h"
#include "trainer/run_eval.h"
#include "trainer/train.h"
#include "triage/prelabel.h"

namespace excap::trainer {

namespace {

const char* const kExpert = "expert";  // the sample project's expert (sample/sample.cpp)

}  // namespace

LabelWorld make_label_world(const fs::path& out, const SynthOptions& synth, const BenchLog& log) {
  const SampleSummary s = write_sample(out, synth, log);
  set_prelabels(s.project, true, kExpert);
  LabelWorld w;
  w.root = s.project;
  w.truth_dir = s.truth;
  w.truth = truth_from_folder(s.truth);
  const Project p = Project::open(s.project);
  w.frames = p.load_frames();
  for (const auto& f : w.frames)
    if (std::find(w.patients.begin(), w.patients.end(), f.patient) == w.patients.end())
      w.patients.push_back(f.patient);
  return w;
}

std::vector<std::string> frames_of(const LabelWorld& w, const std::vector<std::string>& patients) {
  const std::set<std::string> want(patients.begin(), patients.end());
  std::vector<std::string> out;
  for (const auto& f : w.frames)
    if (want.count(f.patient)) out.push_back(f.id);
  return out;
}

TruthLabel truth_of(const LabelWorld& w, const std::string& frame) {
  auto t = w.truth(frame);
  if (!t) throw Error(w.truth_dir.string(), "no ground truth for frame " + frame);
  return *t;
}

void oracle_label(const LabelWorld& w, const std::vector<std::string>& ids) {
  const Project p = Project::open(w.root);
  for (const auto& id : ids) {
    if (p.load_final(id)) continue;
    const TruthLabel t = truth_of(w, id);
    // The mask first, the record last: the record is what makes the label final.
    write_png_atomic(p.final_mask_path(id), t.mask);
    FinalLabel f;
    f.frame = id;
    f.cd = t.cd;
    f.source = "repainted";
    f.expert = kExpert;
    f.time = now_iso8601();
    p.save_final(f);
  }
}

void save_frame_split(const LabelWorld& w, const std::string& name,
                      const std::map<std::string, std::vector<std::string>>& subsets) {
  const Project p = Project::open(w.root);
  Split s;
  s.name = name;
  s.created = now_iso8601();
  s.stratify = "none";
  s.group = "patient";
  for (const auto& [subset, ids] : subsets) {
    s.subset_names.push_back(subset);
    std::vector<std::string> sorted = ids;
    std::sort(sorted.begin(), sorted.end());
    s.subsets[subset] = sorted;
  }
  s.ratios.assign(s.subset_names.size(), 1.0 / static_cast<double>(s.subset_names.size()));
  for (const auto& c : p.meta().schema.cd) s.cd_names.push_back(c.name);
  for (const auto& t : p.meta().schema.tissue) s.tissue_names.push_back(t.name);
  save_split(p, s, /*overwrite=*/true);
}

void train_on_split(const LabelWorld& w, const std::string& split, const std::string& run,
                    const LabelModelOptions& m, std::uint64_t seed) {
  const Project p = Project::open(w.root);
  PackOptions po;
  po.split = split;
  po.size = m.size;
  const auto packed = pack_split(p, po);
  int train_frames = 0;
  for (const auto& sub : packed)
    if (sub.subset == "train") train_frames = sub.count;
  TrainConfig cfg;
  cfg.run = run;
  cfg.split = split;
  cfg.val_subset.clear();  // no validation: the latest checkpoint is the model
  cfg.size = m.size;
  cfg.model.arch = model::Arch::Mtcsn;
  cfg.model.backbone = m.backbone;
  cfg.iters = m.iters;
  cfg.batch = std::max(1, std::min(m.batch, train_frames));
  cfg.threads = m.threads;
  cfg.device = m.device;
  cfg.seed = seed;
  cfg.val_interval = m.iters;
  cfg.log_interval = std::max(1, m.iters);
  const TrainOutcome out = train(w.root, cfg);
  if (out.status != TrainOutcome::Status::Finished)
    throw Error(out.run_dir.string(), "training did not finish: " + out.message);
}

TestScores score_test(const LabelWorld& w, const std::string& run, const LabelModelOptions& m) {
  EvalOptions eo;
  eo.run = run;
  eo.subset = "test";
  eo.checkpoint = "latest";
  eo.device = m.device;
  eo.threads = m.threads;
  const EvalResult r = evaluate_run(w.root, eo);
  return {r.seg.mIoU, r.cls.accuracy, static_cast<int>(r.data.ids.size())};
}

void prelabel_frames(const LabelWorld& w, const std::string& run, const std::string& frames,
                     const LabelModelOptions& m) {
  PrelabelOptions o;
  o.run = run;
  o.checkpoint = "latest";
  o.frames = frames;
  o.device = m.device;
  o.threads = m.threads;
  o.user = kExpert;
  run_prelabel(w.root, o);
}

nlohmann::json world_settings_json(const SynthOptions& synth, const LabelModelOptions& m) {
  return {{"patients", synth.patients},
          {"seconds", synth.seconds},
          {"fps", synth.fps},
          {"frame_size", synth.size},
          {"sample_seed", synth.seed},
          {"backbone", m.backbone},
          {"size", m.size},
          {"iters", m.iters},
          {"batch", m.batch},
          {"device", m.device}};
}

double mean_of(const std::vector<double>& v) {
  if (v.empty()) return 0;
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

double sd_of(const std::vector<double>& v) {
  if (v.size() < 2) return 0;
  const double m = mean_of(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(v.size() - 1));
}

}  // namespace excap::trainer
