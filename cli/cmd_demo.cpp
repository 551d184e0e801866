// excap demo: generates the synthetic capsule sample and runs every pipeline
// stage on it end to end, printing what each stage produced.
#include <chrono>
#include <iomanip>
#include <iostream>

#include "cli/commands.h"
#include "curation/adjudication.h"
#include "curation/agreement.h"
#include "common/error.h"
#include "store/project.h"
#include "sample/sample.h"
#include "curation/split.h"
#include "store/validate.h"
#ifdef EXCAP_HAVE_TORCH
#include "trainer/pack.h"
#include "report/eval_report.h"
#include "trainer/run_eval.h"
#include "trainer/train.h"
#endif
#ifdef EXCAP_HAVE_TRIAGE
#include "stage1/stage1.h"
#include "triage/triage.h"
#endif

namespace excap::cli {

namespace {

struct DemoOptions {
  std::string dir = "excap-demo";
  SynthOptions synth = [] {
    SynthOptions o;
    o.patients = 6;  // enough patients for a split grouped by patient
    return o;
  }();
  double auto_accept_iou = 0.8;
  // Training: a tiny MTCSN by default so the demo ends in minutes on a laptop
  // CPU; --backbone resnet50 --size 240 --iters 30000 is the paper's recipe.
  std::string backbone = "tiny";
  int size = 96;
  int iters = 2000;
  int batch = 8;
  int threads = 0;
};

std::string indent(const std::string& text) {
  std::string out = "   ";
  for (std::size_t i = 0; i < text.size(); ++i) {
    out += text[i];
    if (text[i] == '\n' && i + 1 < text.size()) out += "   ";
  }
  if (!out.empty() && out.back() != '\n') out += '\n';
  return out;
}

class Stage {
 public:
  explicit Stage(const std::string& title) : t0_(std::chrono::steady_clock::now()) {
    std::cout << "\n== " << title << "\n";
  }
  ~Stage() {
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    std::cout << "   (" << std::fixed << std::setprecision(1) << s << " s)\n";
    std::cout.unsetf(std::ios::fixed);
  }

 private:
  std::chrono::steady_clock::time_point t0_;
};

int run_demo(const DemoOptions& o) {
  const fs::path out = o.dir;
  SampleSummary sample;
  {
    Stage s("stage 0 + I: synthetic capsule videos, import, clips, extraction, two annotators");
    sample = write_sample(out, o.synth, [](const std::string& line) {
      std::cout << "   " << line << "\n";
    });
    std::cout << "   " << sample.patients.size() << " videos, " << sample.video_frames
              << " video frames, " << sample.extracted << " frames extracted ("
              << sample.duplicates_skipped << " near-duplicates dropped)\n"
              << "   ground-truth CD over the extracted frames: clear " << sample.truth_cd[0]
              << ", blur " << sample.truth_cd[1] << ", invisible " << sample.truth_cd[2] << "\n";
  }
  const Project project = Project::open(sample.project);
  {
    Stage s("validate");
    const auto problems = validate_project(project.root());
    for (const auto& p : problems) std::cout << "   " << p.file << ": " << p.reason << "\n";
    if (!problems.empty()) throw Error(project.root().string(), "the demo project is not valid");
    std::cout << "   " << project.root().string() << " is valid\n";
  }
  {
    Stage s("stage III: agreement between the two annotators");
    AgreementOptions ao;
    ao.auto_accept_iou = o.auto_accept_iou;
    const AgreementReport report = compute_agreement(project, ao);
    const fs::path dir = project.root() / "reports" / "agreement";
    write_agreement_report(project, report, dir);
    std::cout << indent(agreement_summary(report)) << "   report: " << (dir / "agreement.md").string()
              << "\n";
  }
  {
    Stage s("stage III: adjudication (auto-accept, then a simulated expert with the ground truth)");
    AutoAcceptOptions aa;
    aa.iou_threshold = o.auto_accept_iou;
    aa.by = "demo";
    const AutoAcceptResult accepted = auto_accept(project, aa);
    std::cout << "   auto-accepted " << accepted.accepted << " frames (same CD, mask mIoU >= "
              << o.auto_accept_iou << "); " << accepted.cd_differs << " differ in CD, "
              << accepted.below_threshold << " below the threshold\n";
    const SimulatedExpertResult expert =
        simulated_expert(project, "expert", truth_from_folder(sample.truth));
    std::cout << "   the expert settled " << expert.decided << " frames:";
    for (const auto& [source, n] : expert.by_source) std::cout << " " << source << " " << n;
    std::cout << "\n   final labels: " << project.final_frames().size() << " of "
              << project.load_frames().size() << " frames\n";
  }
  {
    Stage s("split: stratified by clearness degree, grouped by patient");
    SplitOptions so;
    so.name = "main";
    so.ratios = {0.6, 0.2, 0.2};
    Split split;
    try {
      split = make_split(project, so, final_mask_histogram(project));
    } catch (const Error& e) {
      // Few patients cannot always carry every CD into every subset: say so and
      // fall back to the paper's frame-level stratification.
      std::cout << "   grouped by patient is impossible here: " << e.reason()
                << "\n   falling back to --group none (the paper's split)\n";
      so.group = "none";
      split = make_split(project, so, final_mask_histogram(project));
    }
    save_split(project, split);
    std::cout << indent(split_table(split));
    for (const auto& w : split.warnings) std::cout << "   warning: " << w << "\n";
  }
#ifdef EXCAP_HAVE_TORCH
  {
    Stage s("pack the split into safetensors (" + std::to_string(o.size) + "x" +
            std::to_string(o.size) + ")");
    trainer::PackOptions po;
    po.split = "main";
    po.size = o.size;
    for (const auto& sub : trainer::pack_split(project, po))
      std::cout << "   " << sub.subset << ": " << sub.count << " frames -> " << sub.path.string()
                << "\n";
  }
  {
    Stage s("train MTCSN (" + o.backbone + " backbone, " + std::to_string(o.iters) +
            " iterations, batch " + std::to_string(o.batch) + ")");
    trainer::TrainConfig cfg;
    cfg.run = "demo-mtcsn";
    cfg.split = "main";
    cfg.size = o.size;
    cfg.model.arch = model::Arch::Mtcsn;
    cfg.model.backbone = o.backbone;
    cfg.iters = o.iters;
    cfg.batch = o.batch;
    cfg.threads = o.threads;
    cfg.val_interval = std::max(1, o.iters / 4);
    trainer::TrainHooks hooks;
    hooks.progress = [](const trainer::TrainProgress& p) {
      if (p.event != "val") return;
      std::cout << "   iter " << p.iter << "/" << p.iters << "  " << std::fixed
                << std::setprecision(2) << p.it_per_s << " it/s  loss "
                << (p.losses.count("loss") ? p.losses.at("loss") : 0.0) << "  val";
      for (const auto& [k, v] : p.val) std::cout << " " << k << " " << std::setprecision(3) << v;
      std::cout << "\n";
      std::cout.unsetf(std::ios::fixed);
    };
    const trainer::TrainOutcome out = trainer::train(project.root(), cfg, hooks);
    if (out.status != trainer::TrainOutcome::Status::Finished)
      throw Error(out.run_dir.string(), "training did not finish: " + out.message);
    std::cout << "   best checkpoint at iteration " << out.best_iter << " (validation score "
              << out.best_score << "), " << out.threads << " threads on " << out.device << "\n";
  }
  {
    Stage s("evaluate on the held-out test subset");
    trainer::EvalOptions eo;
    eo.run = "demo-mtcsn";
    eo.subset = "test";
    eo.threads = o.threads;
    const trainer::EvalResult r = trainer::evaluate_run(project.root(), eo);
    const fs::path run_dir = project.run_dir(eo.run);
    trainer::write_eval_files(run_dir, r, /*write_predictions_tensor=*/false);
    const fs::path report = trainer::write_eval_report(run_dir, r, project.meta().schema);
    std::cout << std::fixed << std::setprecision(1) << "   " << r.data.ids.size()
              << " test frames: CD accuracy " << 100 * r.cls.accuracy << "%, macro F1 "
              << 100 * r.cls.f1 << "%; tissue aAcc " << 100 * r.seg.aAcc << "%, mIoU "
              << 100 * r.seg.mIoU << "%\n";
    std::cout.unsetf(std::ios::fixed);
    std::cout << "   report: " << report.string() << "\n";
  }
#endif
#ifdef EXCAP_HAVE_TRIAGE
  {
    Stage s("triage: mark the clear, informative frames of a whole video");
    // The video of a test-subset patient: with the split grouped by patient,
    // the model never saw any of its frames.
    const Split split = load_split(project, "main");
    const auto& test_ids = split.subsets.at("test");
    std::string video_id;
    for (const auto& f : project.load_frames())
      if (!test_ids.empty() && f.id == test_ids.front()) video_id = f.video;
    if (video_id.empty()) throw Error(project.split_path("main").string(), "empty test subset");
    trainer::TriageOptions to;
    to.video = video_source(project, video_id);
    to.run_dir = project.run_dir("demo-mtcsn");
    to.threads = o.threads;
    const trainer::TriageResult r = trainer::run_triage(to);
    const fs::path out = o.dir / fs::path("triage");
    trainer::write_triage_outputs(r, out);
    std::cout << "   " << to.video.string() << " (video " << video_id << ", "
              << (split.group == "patient" ? "held out from training" : "its frames may be in training")
              << "): " << r.processed << " frames processed, " << r.kept << " kept (quota "
              << r.quota << ")\n   " << (out / "frames.csv").string() << ", "
              << (out / "timeline.png").string() << ", " << (out / "contact_sheet.png").string()
              << "\n";
  }
#endif
  std::cout << "\ndemo finished: project at " << project.root().string()
            << "\n  open it in the studio: excap-studio " << project.root().string()
            << " --user a\n";
  return 0;
}

}  // namespace

void register_demo_commands(CLI::App& app, Registry& reg) {
  auto* cmd = app.add_subcommand(
      "demo", "Generate the synthetic capsule sample and run every pipeline stage on it");
  auto o = std::make_shared<DemoOptions>();
  cmd->add_option("DIR", o->dir, "Output folder (must not exist or be empty)")
      ->capture_default_str();
  cmd->add_option("--patients", o->synth.patients, "Patients (one video each)")
      ->capture_default_str();
  cmd->add_option("--seconds", o->synth.seconds, "Length of each video")->capture_default_str();
  cmd->add_option("--fps", o->synth.fps, "Video frame rate")->capture_default_str();
  cmd->add_option("--seed", o->synth.seed, "Random seed")->capture_default_str();
  cmd->add_option("--size", o->synth.size, "Frame size in pixels")->capture_default_str();
  cmd->add_option("--auto-accept", o->auto_accept_iou,
                  "Mask mIoU at which two agreeing annotations skip the expert")
      ->capture_default_str();
  cmd->add_option("--backbone", o->backbone, "MTCSN backbone (tiny, resnet18, ..., resnet50)")
      ->capture_default_str();
  cmd->add_option("--train-size", o->size, "Training input size")->capture_default_str();
  cmd->add_option("--iters", o->iters, "Training iterations")->capture_default_str();
  cmd->add_option("--batch", o->batch, "Batch size")->capture_default_str();
  cmd->add_option("--threads", o->threads, "CPU threads (0: all)")->capture_default_str();
  reg.add(cmd, [o] { return run_demo(*o); });
}

}  // namespace excap::cli
