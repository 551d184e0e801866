// excap pack | train | eval | compare | bench train
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "common/error.h"
#include "common/text.h"
#include "report/compare.h"
#include "store/project.h"
#include "trainer/distributed.h"
#include "trainer/eval_result.h"
#include "trainer/run_eval.h"
#include "trainer/train.h"
#ifdef EXCAP_HAVE_OPENCV
#include "report/eval_report.h"
#include "trainer/pack.h"
#endif

namespace excap::cli {

namespace {

std::atomic<bool> g_stop{false};

extern "C" void on_sigint(int) {
  g_stop.store(true);
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C ends the process at once
}

std::string short_loss_name(const std::string& k) {
  if (k == "loss") return "loss";
  if (k.rfind("loss_", 0) == 0) return k.substr(5);
  return k;
}

void print_progress(const trainer::TrainProgress& p) {
  char b[256];
  std::ostringstream line;
  std::snprintf(b, sizeof b, "[%6d/%d] %5.1f%%  %.2f it/s  %.1f img/s  ETA %s  lr %.2e ", p.iter,
                p.iters, 100.0 * p.iter / p.iters, p.it_per_s, p.images_per_s,
                duration_text(p.eta_s).c_str(), p.lr);
  line << b;
  for (const auto& [k, v] : p.losses) {
    std::snprintf(b, sizeof b, " %s %.4f", short_loss_name(k).c_str(), v);
    line << b;
  }
  if (p.val_iter >= 0) {
    line << "  | val@" << p.val_iter;
    for (const char* k : {"accuracy", "f1", "mIoU", "mAcc"}) {
      auto it = p.val.find(k);
      if (it == p.val.end()) continue;
      std::snprintf(b, sizeof b, " %s %.3f", k, it->second);
      line << b;
    }
    std::snprintf(b, sizeof b, " (best %.3f@%d)", p.best_score, p.best_iter);
    line << b;
  }
  // Validation lines stay; loss lines overwrite each other on a terminal.
  const bool tty = ::isatty(STDERR_FILENO);
  if (tty && p.event == "log")
    std::cerr << "\r\033[K" << line.str() << std::flush;
  else
    std::cerr << (tty ? "\r\033[K" : "") << line.str() << "\n";
}

// A string option checked against `allowed` and parsed into an enum field at the edge.
template <class Enum>
void add_choice_option(CLI::App* cmd, const std::string& name, Enum& field,
                       const std::vector<std::string>& allowed,
                       Enum (*parse)(const std::string&, const std::string&),
                       const std::string& help) {
  cmd->add_option_function<std::string>(
         name, [&field, parse, name](const std::string& v) { field = parse(v, name); }, help)
      ->check(CLI::IsMember(allowed))
      ->default_str(allowed.at(static_cast<std::size_t>(field)));
}

}  // namespace

// Shared with `bench train` (cmd_bench.cpp), so both spell the model the same way.
void add_model_options(CLI::App* cmd, model::ModelConfig& m) {
  add_choice_option(cmd, "--model", m.arch, model::known_archs(), model::parse_arch,
                    "mtcsn, cls, seg_fcn, seg_aspp, hard_share, cross_stitch");
  cmd->add_option("--backbone", m.backbone, "resnet18/34/50/101, densenet121, tiny")
      ->capture_default_str();
  add_choice_option(cmd, "--fusion-pool", m.fusion_pool, model::known_fusion_pools(),
                    model::parse_fusion_pool, "cross fusion pooling: avg or max");
  cmd->add_flag("--dilated,!--no-dilated", m.dilated, "output stride 8 (default on)");
  add_choice_option(cmd, "--head-init", m.head_init, model::known_head_inits(),
                    model::parse_head_init,
                    "layers outside the backbone: mmseg (kaiming normal fan_out, N(0,0.01) for the "
                    "last layers) or libtorch (module defaults)");
}

namespace {

#ifdef EXCAP_HAVE_OPENCV
void register_pack_command(CLI::App& app, Registry& reg) {
  auto* cmd = app.add_subcommand(
      "pack", "Pack a split's frames and final labels into one safetensors file per subset");
  auto dir = std::make_shared<std::string>();
  auto opt = std::make_shared<trainer::PackOptions>();
  auto out = std::make_shared<std::string>();
  cmd->add_option("DIR", *dir, "Project folder")->required();
  cmd->add_option("--split", opt->split, "Split name (splits/NAME.json)")
      ->required()
      ->check(safe_name());
  cmd->add_option("--size", opt->size, "Square size in pixels (the paper: 240)")
      ->capture_default_str();
  cmd->add_option("--out", *out, "Output folder (default DIR/packed/SPLIT-SIZE)");
  reg.add(cmd, [=] {
    Project p = Project::open(*dir);
    trainer::PackOptions o = *opt;
    o.out_dir = *out;
    for (const auto& s : trainer::pack_split(p, o)) {
      std::cout << s.subset << ": " << s.count << " frames -> " << s.path.string() << "  (CD";
      for (std::size_t c = 0; c < s.cd_histogram.size(); ++c)
        std::cout << " " << p.meta().schema.cd[c].name << " " << s.cd_histogram[c];
      std::cout << ")\n";
    }
    return 0;
  });
}
#endif

// Every `excap train` option but DIR and --resume, bound to `cfg`; returns --iters.
CLI::Option* add_train_options(CLI::App* cmd, trainer::TrainConfig& cfg) {
  cmd->add_option("--split", cfg.split, "Split name (packed with `excap pack`)")
      ->check(safe_name());
  add_model_options(cmd, cfg.model);
  auto* iters = cmd->add_option("--iters", cfg.iters, "Iterations, >= 1 (paper: 30000)")
                    ->capture_default_str();
  cmd->add_option("--batch", cfg.batch, "Batch size, 1..4096 (paper: 8)")->capture_default_str();
  cmd->add_option("--size", cfg.size, "Input size of the packed data, 16..2048")
      ->capture_default_str();
  cmd->add_option("--lr", cfg.lr, "SGD learning rate, > 0")->capture_default_str();
  cmd->add_option("--min-lr", cfg.min_lr, "Poly decay floor")->capture_default_str();
  cmd->add_option("--alpha", cfg.alpha, "Consistency loss weight, >= 0 (paper Eq. 3)")
      ->capture_default_str();
  model::TaskWeighting& weighting = cfg.weighting;
  cmd->add_flag_callback(
      "--learned-weights", [&weighting] { weighting = model::TaskWeighting::Learned; },
      "Learn the task weights (Kendall et al. 2018) instead of fixed 1:1");
  cmd->add_flag("--augment,!--no-augment", cfg.augment, "Flips, 90-degree turns, colour jitter");
  cmd->add_flag("--sync-bn", cfg.sync_bn,
                "Batch-norm statistics over every process of a data-parallel run (SyncBN)");
  cmd->add_option("--val-interval", cfg.val_interval,
                  "Iterations between validations (0: iters/10)");
  cmd->add_option("--log-interval", cfg.log_interval, "Iterations between log lines")
      ->capture_default_str();
  cmd->add_option("--checkpoint-interval", cfg.checkpoint_interval,
                  "Iterations between checkpoints (0: the validation interval)");
  cmd->add_option("--best", cfg.best_metric,
                  "Best-checkpoint criterion: auto (mean of val accuracy and mIoU), accuracy, f1, "
                  "mIoU")
      ->capture_default_str();
  cmd->add_option("--device", cfg.device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  add_choice_option(cmd, "--amp", cfg.amp, trainer::known_amp_modes(), trainer::parse_amp_mode,
                    "Mixed precision: auto (bf16 on a CPU with bf16 instructions, none on "
                    "CUDA), off (fp32), fp16 (CUDA), bf16 (forced, even without bf16 "
                    "instructions)");
  cmd->add_option("--cpu-fast", cfg.cpu_fast,
                  "CPU speed policy: auto (bf16 where the CPU has it), channels-last (auto "
                  "with NHWC) or off")
      ->check(CLI::IsMember({"auto", "channels-last", "off"}))
      ->capture_default_str();
  cmd->add_option("--threads", cfg.threads, "CPU threads (0: all)")->capture_default_str();
  cmd->add_option("--seed", cfg.seed, "Seed of initialisation, batches and augmentation")
      ->capture_default_str();
  cmd->add_option("--init", cfg.init, "Initial weights (safetensors, loaded by name)");
  cmd->add_option("--run", cfg.run, "Run name (runs/NAME); default SPLIT-MODEL-BACKBONE")
      ->check(safe_name());
  return iters;
}

std::string number_text(double x) {
  std::ostringstream s;
  s << x;
  return s.str();
}

// The numbers of `excap train`, each in its range, before anything is read or written.
void check_train_numbers(const trainer::TrainConfig& c) {
  if (c.iters < 1) throw Error("--iters", "must be >= 1, got " + std::to_string(c.iters));
  if (c.batch < 1 || c.batch > 4096)
    throw Error("--batch", "must be 1..4096, got " + std::to_string(c.batch));
  if (c.size < 16 || c.size > 2048)
    throw Error("--size", "must be 16..2048 pixels, got " + std::to_string(c.size));
  if (!(std::isfinite(c.lr) && c.lr > 0))
    throw Error("--lr", "must be a finite number > 0, got " + number_text(c.lr));
  if (!(std::isfinite(c.alpha) && c.alpha >= 0))
    throw Error("--alpha", "must be a finite number >= 0, got " + number_text(c.alpha));
}

// Runs `excap train` in the foreground: Ctrl-C saves and stops. Returns the exit status.
int run_train(const std::string& dir, trainer::TrainConfig c, bool resume, bool iters_given) {
  if (c.run.empty()) {
    if (c.split.empty()) throw Error("train", "give --split (and optionally --run)");
    c.run = c.split + "-" + model::to_string(c.model.arch) + "-" + c.model.backbone;
  }
  if (!resume && c.split.empty()) throw Error("train", "give --split NAME");
  if (resume && !iters_given) c.iters = 0;  // keep the saved length
  std::signal(SIGINT, on_sigint);
  trainer::TrainHooks hooks;
  hooks.stop = &g_stop;
  hooks.resume = resume;
  // torchrun's or srun's environment makes this process one rank of a data-parallel run.
  hooks.launch = trainer::launch_of_process(process_environment());
  hooks.collective_timeout = trainer::collective_timeout(process_environment());
  const bool rank0 = hooks.launch.rank == 0;  // the other ranks stay quiet
  if (rank0) hooks.progress = print_progress;
  if (rank0)
    std::cerr << (resume ? "resuming" : "training") << " run '" << c.run
              << "' (Ctrl-C saves and stops)"
              << (hooks.launch.world_size > 1
                      ? " on " + std::to_string(hooks.launch.world_size) + " processes"
                      : "")
              << "\n";
  const trainer::TrainOutcome o = trainer::train(dir, c, hooks);
  std::signal(SIGINT, SIG_DFL);
  if (!rank0)
    return o.status == trainer::TrainOutcome::Status::Finished      ? 0
           : o.status == trainer::TrainOutcome::Status::Interrupted ? 130
                                                                    : 3;
  std::cerr << "\n";
  std::cout << "run " << o.run_dir.string() << ": " << o.message << " on " << o.device << " ("
            << o.threads << " threads)";
  if (o.best_iter >= 0)
    std::cout << "; best score " << o.best_score << " at iteration " << o.best_iter;
  std::cout << "\n";
  switch (o.status) {
    case trainer::TrainOutcome::Status::Finished:
      return 0;
    case trainer::TrainOutcome::Status::Interrupted:
      return 130;
    case trainer::TrainOutcome::Status::Diverged:
      std::cerr << "excap: error: " << o.message << "\n";
      return 3;
  }
  return 0;
}

void register_train_command(CLI::App& app, Registry& reg) {
  auto* cmd = app.add_subcommand("train", "Train MTCSN or a baseline on a packed split");
  auto dir = std::make_shared<std::string>();
  auto cfg = std::make_shared<trainer::TrainConfig>();
  auto resume = std::make_shared<bool>(false);
  cmd->add_option("DIR", *dir, "Project folder")->required();
  CLI::Option* iters = add_train_options(cmd, *cfg);
  cmd->add_flag("--resume", *resume, "Continue the run from its latest checkpoint");
  reg.add(cmd, [=] {
    check_train_numbers(*cfg);
    return run_train(*dir, *cfg, *resume, iters->count() > 0);
  });
}

void print_eval_summary(const trainer::EvalResult& r, const std::string& run, const fs::path& out,
                        const fs::path& report) {
  std::printf("%s on %s/%s (%zu frames, %s checkpoint, iteration %d)\n", run.c_str(),
              r.data.split.c_str(), r.subset.c_str(), r.data.ids.size(), r.checkpoint.c_str(),
              r.iteration);
  if (r.has_cls)
    std::printf("  CD: accuracy %.2f  precision %.2f  recall %.2f  F1 %.2f  (%%, macro)\n",
                100 * r.cls.accuracy, 100 * r.cls.precision, 100 * r.cls.recall, 100 * r.cls.f1);
  if (r.has_seg)
    std::printf("  tissue: aAcc %.2f  mIoU %.2f  mAcc %.2f  (%%, at the %s size)\n",
                100 * r.seg.aAcc, 100 * r.seg.mIoU, 100 * r.seg.mAcc,
                r.scored_at == trainer::ScoredAt::Original ? "original" : "packed");
  std::printf("  metrics: %s\n  report: %s\n", (out / "metrics.json").string().c_str(),
              report.string().c_str());
}

void register_eval_command(CLI::App& app, Registry& reg) {
  auto* cmd = app.add_subcommand(
      "eval", "Score a trained run on a subset; write metrics.json and report.md");
  auto dir = std::make_shared<std::string>();
  auto opt = std::make_shared<trainer::EvalOptions>();
  cmd->add_option("DIR", *dir, "Project folder")->required();
  cmd->add_option("--run", opt->run, "Run name")->required()->check(safe_name());
  cmd->add_option("--subset", opt->subset, "Subset of the run's split")
      ->check(safe_name())
      ->capture_default_str();
  cmd->add_option("--checkpoint", opt->checkpoint,
                  "best, latest or a weights file. The run's own checkpoints write "
                  "runs/RUN/eval/SUBSET/; a weights file writes runs/RUN/eval/SUBSET-STEM/ "
                  "(STEM: the file's stem, or its folder's name for weights.safetensors) and "
                  "never replaces the run's own results")
      ->capture_default_str();
  cmd->add_option("--out", opt->out,
                  "Folder name under runs/RUN/eval/ for the results (not SUBSET with a "
                  "weights file)")
      ->check(safe_name());
  cmd->add_option("--device", opt->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--threads", opt->threads, "CPU threads (0: all)")->capture_default_str();
  cmd->add_option("--batch", opt->batch, "Inference batch size (>= 1)")->capture_default_str();
  cmd->add_flag("--at-packed-size", opt->at_packed_size,
                "Score segmentation at the packed size against the packed masks, instead of "
                "resizing the logits to each frame's final mask (bilinear) as mmsegmentation does");
  reg.add(cmd, [=] {
    if (opt->batch < 1) throw Error("--batch", "must be >= 1, got " + std::to_string(opt->batch));
    if (!opt->at_packed_size && !trainer::reads_final_masks()) {
      // The build without OpenCV (the GPU machine) reads no PNG: say so, score what it can.
      std::fprintf(stderr,
                   "note: this build reads no final mask PNG; scoring at the packed size "
                   "(--at-packed-size)\n");
      opt->at_packed_size = true;
    }
    // One line per batch, as triage and prelabel print theirs (the studio reads them).
    const bool tty = ::isatty(STDERR_FILENO);
    opt->progress = [tty](int done, int total) {
      std::fprintf(stderr, "%seval: %d/%d frames%s", tty ? "\r" : "", done, total,
                   tty ? (done == total ? "\n" : "") : "\n");
      std::fflush(stderr);
    };
    const trainer::EvalResult r = trainer::evaluate_run(*dir, *opt);
    const fs::path run_dir = safe_child(fs::path(*dir) / "runs", opt->run, "", "run");
#ifdef EXCAP_HAVE_OPENCV
    const fs::path out = trainer::write_eval_files(run_dir, r, /*write_predictions_tensor=*/false);
    const fs::path report =
        trainer::write_eval_report(run_dir, r, Project::open(*dir).meta().schema);
#else
    const fs::path out = trainer::write_eval_files(run_dir, r, /*write_predictions_tensor=*/true);
    const fs::path report = out / "metrics.json";
#endif
    print_eval_summary(r, opt->run, out, report);
    return 0;
  });
}

void register_compare_command(CLI::App& app, Registry& reg) {
  auto* cmd =
      app.add_subcommand("compare", "Evaluated runs side by side (the paper's Table 5 layout)");
  auto dir = std::make_shared<std::string>();
  auto runs = std::make_shared<std::vector<std::string>>();
  auto subset = std::make_shared<std::string>("test");
  auto out = std::make_shared<std::string>();
  cmd->add_option("DIR", *dir, "Project folder")->required();
  cmd->add_option("--runs", *runs, "Run names, comma separated")
      ->required()
      ->delimiter(',')
      ->check(safe_name());
  cmd->add_option("--subset", *subset, "Evaluated subset")
      ->check(safe_name())
      ->capture_default_str();
  cmd->add_option("--out", *out, "Also write the table to this Markdown file");
  reg.add(cmd, [=] {
    const std::string md =
        trainer::compare_markdown(trainer::compare_runs(*dir, *runs, *subset), *subset);
    std::cout << md;
    if (!out->empty()) atomic_write(*out, md);
    return 0;
  });
}

}  // namespace

void register_train_commands(CLI::App& app, Registry& reg) {
#ifdef EXCAP_HAVE_OPENCV
  register_pack_command(app, reg);
#endif
  register_train_command(app, reg);
  register_eval_command(app, reg);
  register_compare_command(app, reg);
}

}  // namespace excap::cli
