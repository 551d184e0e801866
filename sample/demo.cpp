#include "sample/demo.h"

#include <algorithm>
#include <chrono>
#include <iomanip>
#include <sstream>

#include "common/error.h"
#include "curation/adjudication.h"
#include "curation/agreement.h"
#include "curation/split.h"
#include "report/agreement_report.h"
#include "report/eval_report.h"
#include "sample/sample.h"
#include "stage1/stage1.h"
#include "store/project.h"
#include "store/validate.h"
#include "trainer/pack.h"
#include "trainer/run_eval.h"
#include "trainer/train.h"
#include "triage/triage.h"

namespace excap {

namespace {

const char* const kRun = "demo-mtcsn";
const char* const kSplit = "main";

// Reports one stage: its title when it starts, its wall time when it ends
// (also when it throws, so the time of a failing stage is still shown).
class Stage {
 public:
  Stage(const DemoProgress& progress, const std::string& title)
      : progress_(progress), t0_(std::chrono::steady_clock::now()) {
    if (progress_) progress_({DemoEvent::Kind::StageBegin, title, 0});
  }
  ~Stage() {
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    if (progress_) progress_({DemoEvent::Kind::StageEnd, "", s});
  }
  Stage(const Stage&) = delete;
  Stage& operator=(const Stage&) = delete;

  // One event per line of `text` (a trailing newline ends the last line).
  void say(const std::string& text) const {
    if (!progress_) return;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) progress_({DemoEvent::Kind::Line, line, 0});
  }

 private:
  const DemoProgress& progress_;
  std::chrono::steady_clock::time_point t0_;
};

std::string fixed_str(double v, int digits) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << v;
  return s.str();
}

SampleSummary stage_sample(const DemoOptions& o, const DemoProgress& p, DemoSummary& sum) {
  Stage s(p, "stage 0 + I: synthetic capsule videos, import, clips, extraction, two annotators");
  const SampleSummary sample =
      write_sample(o.dir, o.synth, [&](const std::string& line) { s.say(line); });
  std::ostringstream t;
  t << sample.patients.size() << " videos, " << sample.video_frames << " video frames, "
    << sample.extracted << " frames extracted (" << sample.duplicates_skipped
    << " near-duplicates dropped)\n"
    << "ground-truth CD over the extracted frames: clear " << sample.truth_cd[0] << ", blur "
    << sample.truth_cd[1] << ", invisible " << sample.truth_cd[2];
  s.say(t.str());
  sum.project = sample.project;
  sum.videos = static_cast<long long>(sample.patients.size());
  sum.video_frames = sample.video_frames;
  sum.extracted = sample.extracted;
  sum.duplicates_skipped = sample.duplicates_skipped;
  sum.truth_cd = sample.truth_cd;
  return sample;
}

void stage_validate(const Project& project, const DemoProgress& p) {
  Stage s(p, "validate");
  const auto problems = validate_project(project.root());
  for (const auto& pr : problems) s.say(pr.file + ": " + pr.reason);
  if (!problems.empty()) throw Error(project.root().string(), "the demo project is not valid");
  s.say(project.root().string() + " is valid");
}

void stage_agreement(const Project& project, const DemoOptions& o, const DemoProgress& p) {
  Stage s(p, "stage III: agreement between the two annotators");
  AgreementOptions ao;
  ao.auto_accept_iou = o.auto_accept_iou;
  const AgreementReport report = compute_agreement(project, ao);
  const fs::path dir = project.root() / "reports" / "agreement";
  write_agreement_report(project, report, dir);
  s.say(agreement_summary(report));
  s.say("report: " + (dir / "agreement.md").string());
}

void stage_adjudication(const Project& project, const DemoOptions& o, const fs::path& truth,
                        const DemoProgress& p, DemoSummary& sum) {
  Stage s(p,
          "stage III: adjudication (auto-accept, then a simulated expert with the ground truth)");
  AutoAcceptOptions aa;
  aa.iou_threshold = o.auto_accept_iou;
  aa.by = "demo";
  const AutoAcceptResult accepted = auto_accept(project, aa);
  std::ostringstream t;
  t << "auto-accepted " << accepted.accepted
    << " frames (same CD, mask mIoU >= " << o.auto_accept_iou << "); " << accepted.cd_differs
    << " differ in CD, " << accepted.below_threshold << " below the threshold\n";
  const SimulatedExpertResult expert =
      simulated_expert(project, "expert", truth_from_folder(truth));
  t << "the expert settled " << expert.decided << " frames:";
  for (const auto& [source, n] : expert.by_source) t << " " << source << " " << n;
  sum.final_labels = static_cast<long long>(project.final_frames().size());
  t << "\nfinal labels: " << sum.final_labels << " of " << project.load_frames().size()
    << " frames";
  s.say(t.str());
  sum.auto_accepted = accepted.accepted;
  sum.expert_decided = expert.decided;
}

void stage_split(const Project& project, const DemoProgress& p, DemoSummary& sum) {
  Stage s(p, "split: stratified by clearness degree, grouped by patient");
  SplitOptions so;
  so.name = kSplit;
  so.ratios = {0.6, 0.2, 0.2};
  Split split;
  try {
    split = make_split(project, so, final_mask_histogram(project));
  } catch (const Error& e) {
    // Few patients cannot always carry every CD into every subset: say so and
    // fall back to the paper's frame-level stratification.
    s.say("grouped by patient is impossible here: " + e.reason() +
          "\nfalling back to --group none (the paper's split)");
    so.group = "none";
    split = make_split(project, so, final_mask_histogram(project));
  }
  save_split(project, split);
  s.say(split_table(split));
  for (const auto& w : split.warnings) s.say("warning: " + w);
  sum.split_group = split.group;
  for (const auto& [name, ids] : split.subsets) sum.split_sizes[name] = ids.size();
}

void stage_pack(const Project& project, const DemoOptions& o, const DemoProgress& p) {
  Stage s(p, "pack the split into safetensors (" + std::to_string(o.size) + "x" +
                 std::to_string(o.size) + ")");
  trainer::PackOptions po;
  po.split = kSplit;
  po.size = o.size;
  for (const auto& sub : trainer::pack_split(project, po))
    s.say(sub.subset + ": " + std::to_string(sub.count) + " frames -> " + sub.path.string());
}

std::string train_line(const trainer::TrainProgress& pr) {
  std::ostringstream t;
  t << "iter " << pr.iter << "/" << pr.iters << "  " << std::fixed << std::setprecision(2)
    << pr.it_per_s << " it/s  loss " << (pr.losses.count("loss") ? pr.losses.at("loss") : 0.0)
    << "  val";
  for (const auto& [k, v] : pr.val) t << " " << k << " " << std::setprecision(3) << v;
  return t.str();
}

void stage_train(const Project& project, const DemoOptions& o, const DemoProgress& p,
                 DemoSummary& sum) {
  Stage s(p, "train MTCSN (" + o.backbone + " backbone, " + std::to_string(o.iters) +
                 " iterations, batch " + std::to_string(o.batch) + ")");
  trainer::TrainConfig cfg;
  cfg.run = kRun;
  cfg.split = kSplit;
  cfg.size = o.size;
  cfg.model.arch = model::Arch::Mtcsn;
  cfg.model.backbone = o.backbone;
  cfg.iters = o.iters;
  cfg.batch = o.batch;
  cfg.threads = o.threads;
  cfg.val_interval = std::max(1, o.iters / 4);
  trainer::TrainHooks hooks;
  hooks.progress = [&](const trainer::TrainProgress& pr) {
    if (pr.event == "val") s.say(train_line(pr));
  };
  const trainer::TrainOutcome out = trainer::train(project.root(), cfg, hooks);
  if (out.status != trainer::TrainOutcome::Status::Finished)
    throw Error(out.run_dir.string(), "training did not finish: " + out.message);
  std::ostringstream t;
  t << "best checkpoint at iteration " << out.best_iter << " (validation score "
    << std::setprecision(3) << out.best_score << "), " << out.threads << " threads on "
    << out.device;
  s.say(t.str());
  sum.best_iter = out.best_iter;
  sum.best_score = out.best_score;
}

void stage_eval(const Project& project, const DemoOptions& o, const DemoProgress& p,
                DemoSummary& sum) {
  Stage s(p, "evaluate on the held-out test subset");
  trainer::EvalOptions eo;
  eo.run = kRun;
  eo.subset = "test";
  eo.threads = o.threads;
  const trainer::EvalResult r = trainer::evaluate_run(project.root(), eo);
  const fs::path run_dir = project.run_dir(eo.run);
  trainer::write_eval_files(run_dir, r, /*write_predictions_tensor=*/false);
  const fs::path report = trainer::write_eval_report(run_dir, r, project.meta().schema);
  s.say(std::to_string(r.data.ids.size()) + " test frames: CD accuracy " +
        fixed_str(100 * r.cls.accuracy, 1) + "%, macro F1 " + fixed_str(100 * r.cls.f1, 1) +
        "%; tissue aAcc " + fixed_str(100 * r.seg.aAcc, 1) + "%, mIoU " +
        fixed_str(100 * r.seg.mIoU, 1) + "%");
  s.say("report: " + report.string());
  sum.test_frames = static_cast<long long>(r.data.ids.size());
  sum.cd_accuracy = r.cls.accuracy;
  sum.cd_f1 = r.cls.f1;
  sum.tissue_aAcc = r.seg.aAcc;
  sum.tissue_mIoU = r.seg.mIoU;
  sum.eval_report = report;
}

// The video of a test-subset patient: with the split grouped by patient, the
// model never saw any of its frames.
std::string held_out_video(const Project& project, const Split& split) {
  const auto& test_ids = split.subsets.at("test");
  for (const auto& f : project.load_frames())
    if (!test_ids.empty() && f.id == test_ids.front()) return f.video;
  throw Error(project.split_path(kSplit).string(), "empty test subset");
}

void stage_triage(const Project& project, const DemoOptions& o, const DemoProgress& p,
                  DemoSummary& sum) {
  Stage s(p, "triage: mark the clear, informative frames of a whole video");
  const Split split = load_split(project, kSplit);
  const std::string video_id = held_out_video(project, split);
  trainer::TriageOptions to;
  to.video = video_source(project, video_id);
  to.run_dir = project.run_dir(kRun);
  to.threads = o.threads;
  const trainer::TriageResult r = trainer::run_triage(to);
  const fs::path out = o.dir / "triage";
  trainer::write_triage_outputs(r, out);
  std::ostringstream t;
  t << to.video.string() << " (video " << video_id << ", "
    << (split.group == "patient" ? "held out from training" : "its frames may be in training")
    << "): " << r.processed << " frames processed, " << r.kept << " kept (quota " << r.quota
    << ")\n"
    << (out / "frames.csv").string() << ", " << (out / "timeline.png").string() << ", "
    << (out / "contact_sheet.png").string();
  s.say(t.str());
  sum.triage_video = video_id;
  sum.triage_processed = r.processed;
  sum.triage_kept = r.kept;
  sum.triage_dir = out;
}

}  // namespace

DemoSummary run_demo(const DemoOptions& o, const DemoProgress& progress) {
  DemoSummary sum;
  const SampleSummary sample = stage_sample(o, progress, sum);
  const Project project = Project::open(sample.project);
  stage_validate(project, progress);
  stage_agreement(project, o, progress);
  stage_adjudication(project, o, sample.truth, progress, sum);
  stage_split(project, progress, sum);
  stage_pack(project, o, progress);
  stage_train(project, o, progress, sum);
  stage_eval(project, o, progress, sum);
  stage_triage(project, o, progress, sum);
  return sum;
}

}  // namespace excap
