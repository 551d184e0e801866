// `excap triage VIDEO --run DIR/runs/NAME --out OUT` (`excap bench triage` is in cmd_bench.cpp).
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/triage_args.h"
#include "common/error.h"
#include "common/text.h"
#include "stage1/stage1.h"
#include "triage/triage.h"

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
    std::cerr << "triage: " << printable(t.video.string()) << " with run '"
              << printable(model.run_dir.filename().string()) << "' (" << model.config.model.arch
              << "/" << model.config.model.backbone << ", "
              << printable(model.weights.parent_path().filename().string()) << ")\n";
  trainer::TriageResult r = trainer::run_triage(t, model);
  if (!o.quiet && tty) std::cerr << "\n";
  trainer::write_triage_outputs(r, o.out);
  for (const auto& w : r.warnings) std::cerr << "triage: warning: " << printable(w) << "\n";
  std::cout << (r.interrupted ? "interrupted: " : "") << "triaged " << r.processed << " of "
            << r.planned << " frames in " << hms(r.wall_s) << " ("
            << (r.wall_s > 0 ? r.processed / r.wall_s : 0.0) << " frames/s, " << r.device << ", "
            << r.fold.folded_pairs << " conv+BN folded); kept " << r.kept << " (quota " << r.quota
            << ")\n"
            << "wrote " << printable((fs::path(o.out) / "frames.csv").string())
            << ", summary.json, timeline.png, "
            << "contact_sheet.png\n";
  return r.interrupted ? 130 : 0;
}

}  // namespace

void register_triage_commands(CLI::App& app, Registry& reg) {
  auto o = std::make_shared<TriageCli>();
  CLI::App* sub = app.add_subcommand(
      "triage", "Mark the clear, informative frames of a whole video with a trained model");
  add_triage_options(sub, *o);
  sub->add_option("--keep", o->keep, "Share of the triaged frames to keep at most (quota)")
      ->check(CLI::Range(0.0, 1.0));
  sub->add_option("--min-gap", o->min_gap, "Seconds between two kept frames, at least")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--min-visible", o->min_visible,
                  "Clear tissue + lesion share of the field of view a kept frame needs")
      ->check(CLI::Range(0.0, 1.0));
  sub->add_option("--lesion-weight", o->lesion_weight, "Extra weight of lesion pixels in the score")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--out", o->out,
                  "Output folder (frames.csv, summary.json, timeline.png, contact_sheet.png)")
      ->required();
  sub->add_flag("--quiet", o->quiet, "No progress line");
  reg.add(sub, [o] { return run_triage_command(*o); });
}

}  // namespace excap::cli
