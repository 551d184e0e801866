// `excap triage VIDEO --run DIR/runs/NAME --out OUT` and `excap bench triage`.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "common/error.h"
#include "stage1/stage1.h"
#include "triage/triage.h"
#include "bench/triage_bench.h"

namespace excap::cli {

namespace {

std::atomic<bool> g_interrupt{false};
void on_sigint(int) { g_interrupt.store(true); }

// SIGINT sets the flag for the duration of one command; a second Ctrl-C
// after the first one was seen falls back to the default (kill).
class InterruptScope {
 public:
  InterruptScope() {
    g_interrupt.store(false);
    previous_ = std::signal(SIGINT, on_sigint);
  }
  ~InterruptScope() { std::signal(SIGINT, previous_); }

 private:
  void (*previous_)(int);
};

struct TriageCli {
  std::string video, run, out, checkpoint = "best", device = "auto", channels_last = "auto",
                                   precision = "auto";
  int every = 0, batch = 0, threads = 0;
  double fps = 0, keep = 0.1, min_gap = 1.0, min_visible = 0.25, lesion_weight = 1.0;
  bool no_fold = false, quiet = false;
  // bench only
  long long frames = 64;
  bool no_variants = false, no_peak = false;
  std::string python = "/usr/bin/python3", python_script, json_out;
};

void add_common(CLI::App* sub, TriageCli& o) {
  sub->add_option("video", o.video, "Video file (any file OpenCV/FFmpeg decodes; need not be imported)")
      ->required();
  sub->add_option("--run", o.run, "Trained run folder: PROJECT/runs/NAME")->required();
  sub->add_option("--checkpoint", o.checkpoint, "best | latest | path to a weights .safetensors");
  auto* every = sub->add_option("--every", o.every, "Every N-th frame (default: every frame)")
                    ->check(CLI::PositiveNumber);
  sub->add_option("--fps", o.fps, "Frames per second to triage (stage I's rule: nearest frame)")
      ->check(CLI::PositiveNumber)
      ->excludes(every);
  sub->add_option("--batch", o.batch, "Frames per inference batch (default 16 on CPU, 128 on CUDA)")
      ->check(CLI::PositiveNumber);
  sub->add_option("--threads", o.threads, "Inference threads (default: all hardware threads)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--device", o.device, "auto | cpu | cuda | cuda:N");
  sub->add_option("--channels-last", o.channels_last, "auto | on | off (auto: on for CUDA only)")
      ->check(CLI::IsMember({"auto", "on", "off"}));
  sub->add_option("--precision", o.precision, "auto | fp32 | fp16 (auto: fp16 on CUDA)")
      ->check(CLI::IsMember({"auto", "fp32", "fp16"}));
  sub->add_flag("--no-fold", o.no_fold, "Do not fold batch norm into the convolutions");
}

trainer::TriageOptions triage_options(const TriageCli& o) {
  trainer::TriageOptions t;
  t.video = o.video;
  t.run_dir = o.run;
  t.checkpoint = o.checkpoint;
  t.every_n = o.every;
  t.fps = o.fps;
  t.rule.keep = o.keep;
  t.rule.min_gap_s = o.min_gap;
  t.rule.min_visible = o.min_visible;
  t.rule.lesion_weight = o.lesion_weight;
  t.batch = o.batch;
  t.threads = o.threads;
  t.device = o.device;
  t.channels_last = o.channels_last;
  t.precision = o.precision;
  t.fold_bn = !o.no_fold;
  return t;
}

std::string hms(double s) { return format_time(s).substr(0, 8); }

int run_triage_command(const TriageCli& o) {
  trainer::TriageOptions t = triage_options(o);
  InterruptScope interrupt;
  t.cancel = &g_interrupt;
  const bool tty = ::isatty(STDERR_FILENO);
  if (!o.quiet)
    t.progress = [tty](const trainer::TriageProgress& p) {
      std::fprintf(stderr, "%striage: %lld/%lld frames  %.1f frames/s  elapsed %s  ETA %s%s",
                   tty ? "\r" : "", p.done, p.total, p.frames_per_s, hms(p.elapsed_s).c_str(),
                   hms(p.eta_s).c_str(), tty ? "  " : "\n");
      std::fflush(stderr);
    };
  trainer::TriageModel model = trainer::load_triage_model(t.run_dir, t.checkpoint);
  if (!o.quiet)
    std::cerr << "triage: " << t.video.string() << " with run '" << model.run_dir.filename().string() << "' ("
              << model.config.model.arch << "/" << model.config.model.backbone << ", "
              << model.weights.parent_path().filename().string() << ")\n";
  trainer::TriageResult r = trainer::run_triage(t, model);
  if (!o.quiet && tty) std::cerr << "\n";
  trainer::write_triage_outputs(r, o.out);
  for (const auto& w : r.warnings) std::cerr << "triage: warning: " << w << "\n";
  std::cout << (r.interrupted ? "interrupted: " : "") << "triaged " << r.processed << " of " << r.planned
            << " frames in " << hms(r.wall_s) << " (" << (r.wall_s > 0 ? r.processed / r.wall_s : 0.0)
            << " frames/s, " << r.device << ", " << r.fold.folded_pairs << " conv+BN folded); kept " << r.kept
            << " (quota " << r.quota << ")\n"
            << "wrote " << (fs::path(o.out) / "frames.csv").string() << ", summary.json, timeline.png, "
            << "contact_sheet.png\n";
  return r.interrupted ? 130 : 0;
}

fs::path default_script() {
  const char* rel = "scripts/bench_triage_reference.py";
  std::error_code ec;
#ifdef EXCAP_SOURCE_DIR
  if (fs::exists(fs::path(EXCAP_SOURCE_DIR) / rel, ec)) return fs::path(EXCAP_SOURCE_DIR) / rel;
#endif
  if (fs::exists(rel, ec)) return fs::absolute(rel);
  // build-*/bin/excap -> the source tree beside the build folder.
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path p = exe.parent_path().parent_path().parent_path() / rel;
    if (fs::exists(p, ec)) return p;
  }
  return rel;
}

int run_bench_command(const TriageCli& o) {
  trainer::BenchTriageOptions b;
  b.triage = triage_options(o);
  b.frames = o.frames;
  b.variants = !o.no_variants;
  b.conv_peak = !o.no_peak;
  b.python = o.python;
  b.python_script = o.python_script.empty() ? default_script() : fs::path(o.python_script);
  std::error_code ec;
  if (!b.python.empty() && !fs::exists(b.python, ec)) b.python.clear();
  const trainer::BenchTriageResult r = trainer::bench_triage(b);
  std::cout << trainer::format_bench_triage(r);
  if (!o.json_out.empty()) atomic_write(o.json_out, trainer::bench_triage_json(r).dump(2) + "\n");
  return 0;
}

}  // namespace

void register_triage_commands(CLI::App& app, Registry& reg) {
  auto o = std::make_shared<TriageCli>();
  CLI::App* sub = app.add_subcommand(
      "triage", "Mark the clear, informative frames of a whole video with a trained model");
  add_common(sub, *o);
  sub->add_option("--keep", o->keep, "Share of the triaged frames to keep at most (quota)")
      ->check(CLI::Range(0.0, 1.0));
  sub->add_option("--min-gap", o->min_gap, "Seconds between two kept frames, at least")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--min-visible", o->min_visible,
                  "Clear tissue + lesion share of the field of view a kept frame needs")
      ->check(CLI::Range(0.0, 1.0));
  sub->add_option("--lesion-weight", o->lesion_weight, "Extra weight of lesion pixels in the score")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--out", o->out, "Output folder (frames.csv, summary.json, timeline.png, contact_sheet.png)")
      ->required();
  sub->add_flag("--quiet", o->quiet, "No progress line");
  reg.add(sub, [o] { return run_triage_command(*o); });

  CLI::App* bench = group(app, "bench", "Benchmarks")
                        ->add_subcommand("triage", "Triage speed next to a PyTorch eager + OpenCV Python peer");
  auto ob = std::make_shared<TriageCli>();
  add_common(bench, *ob);
  bench->add_option("--frames", ob->frames, "Frames per timed run (0: the whole video)")
      ->check(CLI::NonNegativeNumber);
  bench->add_flag("--no-variants", ob->no_variants, "Skip the BN-unfolded and channels-last runs");
  bench->add_flag("--no-peak", ob->no_peak, "Skip the 3x3 convolution peak measurement");
  bench->add_option("--python", ob->python, "Interpreter of the Python peer (empty: skip it)");
  bench->add_option("--python-script", ob->python_script, "Default: scripts/bench_triage_reference.py");
  bench->add_option("--json", ob->json_out, "Also write the figures as JSON here");
  reg.add(bench, [ob] { return run_bench_command(*ob); });
}

}  // namespace excap::cli
