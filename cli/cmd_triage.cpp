// `excap triage VIDEO --run DIR/runs/NAME --out OUT`, and over many videos
// (folders, lists, sharded across processes: triage/batch.h, docs/triage.md).
// `excap bench triage` is in cmd_bench.cpp.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <functional>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/triage_args.h"
#include "common/error.h"
#include "common/text.h"
#include "stage1/stage1.h"
#include "triage/batch.h"
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

std::function<void(const trainer::TriageProgress&)> progress_printer(bool quiet) {
  if (quiet) return {};
  const bool tty = ::isatty(STDERR_FILENO);
  return [tty](const trainer::TriageProgress& p) {
    std::fprintf(stderr, "%striage: %lld/%lld frames  %.1f frames/s  elapsed %s  ETA %s%s",
                 tty ? "\r" : "", p.done, p.total, p.frames_per_s, hms(p.elapsed_s).c_str(),
                 hms(p.eta_s).c_str(), tty ? "  " : "\n");
    std::fflush(stderr);
  };
}

int run_single_video(const TriageCli& o) {
  trainer::TriageOptions t = triage_options(o);
  InterruptScope interrupt;
  t.cancel = &g_interrupt;
  const bool tty = ::isatty(STDERR_FILENO);
  t.progress = progress_printer(o.quiet);
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

int run_merge(const TriageCli& o) {
  if (!o.inputs.empty() || !o.shard.empty())
    throw Error("--merge", "reads the videos from OUT/videos.json: give only --out");
  const fs::path file = trainer::write_merged_summary(o.out, trainer::read_manifest(o.out));
  std::cout << "wrote " << printable(file.string()) << "\n";
  return 0;
}

int run_many_videos(const TriageCli& o, const trainer::ShardSpec& shard) {
  trainer::BatchOptions b;
  b.inputs = o.inputs;
  b.out = o.out;
  b.shard = shard;
  b.triage = triage_options(o);
  InterruptScope interrupt;
  b.triage.cancel = &g_interrupt;
  b.triage.progress = progress_printer(o.quiet);
  b.log = [](const std::string& line) { std::cerr << "triage: " << printable(line) << "\n"; };
  const trainer::BatchResult r = trainer::run_batch(b);
  using S = trainer::VideoStatus;
  std::cout << "shard " << shard.index << "/" << shard.count << ": triaged " << r.count(S::Triaged)
            << ", skipped " << r.count(S::Skipped) << " (complete), failed " << r.count(S::Failed)
            << " of its " << (r.videos.size() - r.count(S::OtherShard)) << " videos ("
            << r.videos.size() << " in all)\n";
  for (const auto& v : r.videos)
    if (v.status == S::Failed) std::cerr << "triage: error: " << printable(v.message) << "\n";
  if (r.merged)
    std::cout << "wrote " << printable((fs::path(o.out) / "summary.json").string()) << "\n";
  else if (!r.interrupted)
    std::cout << r.missing.size() << " video(s) not complete yet: summary.json is written by "
              << "the last shard to finish (or `excap triage --merge --out OUT`)\n";
  return r.interrupted ? 130 : (r.count(S::Failed) > 0 ? 1 : 0);
}

// One plain video file and no sharding keeps the single-video layout (outputs in OUT itself).
int run_triage_command(const TriageCli& o) {
  if (o.merge) return run_merge(o);
  if (o.run.empty()) throw Error("--run", "is required (the trained run: PROJECT/runs/NAME)");
  if (o.inputs.empty()) throw Error("triage", "give a video, a folder or a list of videos");
  const trainer::EnvLookup env = trainer::process_environment();
  const trainer::ShardSpec shard = trainer::resolve_shard(o.shard, env);
  std::error_code ec;
  const fs::path first = o.inputs.front();
  const bool single = o.shard.empty() && o.inputs.size() == 1 && shard.count == 1 &&
                      !fs::is_directory(first, ec) && !trainer::is_list_file(first);
  if (!single) return run_many_videos(o, shard);
  TriageCli one = o;
  one.video = o.inputs.front();
  return run_single_video(one);
}

}  // namespace

void register_triage_commands(CLI::App& app, Registry& reg) {
  auto o = std::make_shared<TriageCli>();
  CLI::App* sub = app.add_subcommand(
      "triage", "Mark the clear, informative frames of a whole video with a trained model");
  add_triage_options(sub, *o, /*many=*/true);
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
                  "Output folder (one video: frames.csv, summary.json, timeline.png, "
                  "contact_sheet.png; many: videos/NAME/ each, videos.json, merged summary.json)")
      ->required();
  sub->add_option("--shard", o->shard,
                  "I/N: triage only the videos whose sorted index modulo N is I (a SLURM job "
                  "array; torchrun's RANK/WORLD_SIZE and SLURM_PROCID/SLURM_NTASKS are read "
                  "without it)");
  sub->add_flag("--merge", o->merge,
                "Only write OUT/summary.json from the per-video summaries (all must be complete)");
  sub->add_flag("--quiet", o->quiet, "No progress line");
  reg.add(sub, [o] { return run_triage_command(*o); });
}

}  // namespace excap::cli
