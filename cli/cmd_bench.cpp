// excap bench extract | train | triage | ddp | parity | prelabel-effort |
// active-learning: option parsing and printing only; the
// measurements are in bench/. Each is registered when its libraries are built.
#include <iomanip>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "common/fsutil.h"
#include "common/resources.h"
#include "common/text.h"
#ifdef EXCAP_HAVE_OPENCV
#include "bench/extract_bench.h"
#endif
#ifdef EXCAP_HAVE_TORCH
#include "bench/ddp_bench.h"
#include "bench/parity_bench.h"
#include "bench/train_bench.h"
#include "trainer/distributed.h"
#endif
#ifdef EXCAP_HAVE_TRIAGE
#include "bench/active_learning.h"
#include "bench/prelabel_effort.h"
#include "bench/triage_bench.h"
#include "cli/triage_args.h"
#endif

namespace excap::cli {
namespace {

#ifdef EXCAP_HAVE_OPENCV
int print_extract_bench(const ExtractBenchOptions& o) {
  const ExtractBenchResult r = bench_extract(o);
  const Video& v = r.video;
  std::cout << "video      " << v.width << "x" << v.height << " " << printable(v.codec) << ", "
            << v.fps << " fps, " << v.frames << " frames\n";
  std::cout << "import     " << std::fixed << std::setprecision(3) << r.import_s
            << " s (probe + sha256; not part of the comparison)\n";
  std::cout << "excap      " << r.excap_s << " s for " << r.report.written << " PNG frames at "
            << o.fps << " fps (field of view detected and blanked, dHash, frames.json)\n";
  for (const auto& w : r.report.warnings) std::cerr << "excap: warning: " << printable(w) << "\n";
  if (!r.ffmpeg_found) {
    std::cout << "ffmpeg     not found on PATH: comparison skipped\n";
    return 0;
  }
  const std::string line = printable(display_command(r.ffmpeg_argv));
  if (!r.ffmpeg_ok) {
    std::cerr << "excap: ffmpeg failed (" << line << "): " << printable(r.ffmpeg_failure) << "\n";
    return 1;
  }
  std::cout << "ffmpeg     " << r.ffmpeg_s << " s for " << r.ffmpeg_frames << " PNG frames ("
            << line << ")\n";
  std::cout << "ratio      excap/ffmpeg = " << std::setprecision(2) << r.excap_s / r.ffmpeg_s
            << (r.excap_s <= r.ffmpeg_s ? " (not slower)" : " (slower)") << "\n";
  return 0;
}

void register_bench_extract(CLI::App* bench, Registry& reg) {
  auto* cmd = bench->add_subcommand(
      "extract", "Time our extraction against ffmpeg -vf fps=F on the same video, in one run");
  auto o = std::make_shared<ExtractBenchOptions>();
  auto video = std::make_shared<std::string>();
  cmd->add_option("VIDEO", *video, "Video file")->required();
  cmd->add_option("--fps", o->fps, "Output rate")->capture_default_str();
  cmd->add_flag("--keep", o->keep, "Keep the scratch folder");
  reg.add(cmd, [=] {
    ExtractBenchOptions run = *o;
    run.video = *video;
    return print_extract_bench(run);
  });
}
#endif

#ifdef EXCAP_HAVE_TORCH
void register_bench_train(CLI::App* bench, Registry& reg) {
  auto* cmd = bench->add_subcommand(
      "train", "Training-step speed (C++) next to the same network in PyTorch Python");
  auto opt = std::make_shared<trainer::BenchTrainOptions>();
  auto python = std::make_shared<std::string>("/usr/bin/python3");
  auto script = std::make_shared<std::string>();
  auto json_out = std::make_shared<std::string>();
  opt->model.backbone = "resnet18";
  add_model_options(cmd, opt->model);
  cmd->add_option("--size", opt->size, "Input size")->capture_default_str();
  cmd->add_option("--batch", opt->batch, "Batch size")->capture_default_str();
  cmd->add_option("--iters", opt->iters, "Timed steps")->capture_default_str();
  cmd->add_option("--warmup", opt->warmup, "Untimed steps first")->capture_default_str();
  cmd->add_option("--threads", opt->threads, "Threads for both programs (0: all)")
      ->capture_default_str();
  cmd->add_option("--device", opt->device, "auto, cpu, cuda")->capture_default_str();
  cmd->add_option("--python", *python, "Python with torch for the peer ('none' to skip)")
      ->capture_default_str();
  cmd->add_option("--script", *script,
                  "The peer script (default: share/excap/peers/bench_train_reference.py)");
  cmd->add_flag("--conv-peak,!--no-conv-peak", opt->conv_peak, "Also measure the 3x3 conv peak");
  cmd->add_option("--cpu-fast", opt->cpu_fast, "C++ CPU speed policy: auto, channels-last or off")
      ->capture_default_str();
  cmd->add_option("--amp", opt->amp, "C++ step: auto (as excap train), off (fp32) or bf16 (forced)")
      ->capture_default_str();
  cmd->add_option("--json", *json_out, "Write the figures as JSON too");
  reg.add(cmd, [=] {
    trainer::BenchTrainOptions o = *opt;
    if (*python != "none") {
      o.python = *python;
      o.python_script =
          script->empty() ? resource_path("peers/bench_train_reference.py") : fs::path(*script);
    }
    const trainer::BenchTrainResult r = trainer::bench_train(o);
    std::cout << trainer::format_bench(o, r);
    if (!json_out->empty()) atomic_write(*json_out, trainer::bench_json(o, r).dump(2));
    return 0;
  });
}

// `bench parity`: both trainers on the same frames, or (--check-steps N) the per-parameter check.
void register_bench_parity(CLI::App* bench, Registry& reg) {
  auto* cmd = bench->add_subcommand(
      "parity",
      "Train with ExCap and with the PyTorch peer on the same frames; compare test scores");
  auto o = std::make_shared<trainer::ParityOptions>();
  auto dir = std::make_shared<std::string>();
  auto script = std::make_shared<std::string>();
  auto json_out = std::make_shared<std::string>();
  auto check_steps = std::make_shared<int>(0);
  o->model.backbone = "resnet18";
  cmd->add_option("DIR", *dir, "Project folder (split packed at --size)")->required();
  cmd->add_option("--split", o->split, "Split name")->required();
  add_model_options(cmd, o->model);
  cmd->add_option("--seeds", o->seeds, "Seeds (0, 1, ...)")->capture_default_str();
  cmd->add_option("--iters", o->iters, "Training iterations per run")->capture_default_str();
  cmd->add_option("--size", o->size, "Packed size")->capture_default_str();
  cmd->add_option("--batch", o->batch, "Batch size")->capture_default_str();
  cmd->add_option("--test-subset", o->test_subset, "Subset scored")->capture_default_str();
  cmd->add_option("--threads", o->threads, "Threads for both sides (0: all)")
      ->capture_default_str();
  cmd->add_option("--python", o->python, "Python with torch")->capture_default_str();
  cmd->add_option("--script", *script, "Default: share/excap/peers/parity_reference.py");
  cmd->add_option("--check-steps", *check_steps,
                  "Only compare every tensor after N steps from the same weights (no dropout)");
  cmd->add_option("--json", *json_out, "Write the table as JSON too");
  reg.add(cmd, [=] {
    trainer::ParityOptions run = *o;
    run.project = *dir;
    run.python_script =
        script->empty() ? resource_path("peers/parity_reference.py") : fs::path(*script);
    if (*check_steps > 0) {
      const auto diffs = trainer::parity_step_check(run, *check_steps);
      std::cout << trainer::format_step_check(diffs, *check_steps, 1e-4);
      return 0;
    }
    const trainer::ParityResult r = trainer::bench_parity(run);
    std::cout << trainer::format_parity(run, r);
    if (!json_out->empty()) atomic_write(*json_out, trainer::parity_json(run, r).dump(2) + "\n");
    return 0;
  });
}
#endif

#ifdef EXCAP_HAVE_TORCH
void register_bench_ddp(CLI::App* bench, Registry& reg) {
  auto* cmd = bench->add_subcommand("ddp", model_command_description("bench ddp"));
  auto opt = std::make_shared<trainer::BenchDdpOptions>();
  auto worker_out = std::make_shared<std::string>();
  auto json_out = std::make_shared<std::string>();
  opt->model.backbone = "resnet18";
  add_model_options(cmd, opt->model);
  cmd->add_option("--size", opt->size, "Input size")->capture_default_str();
  cmd->add_option("--batch", opt->batch, "Global batch, divided among the processes")
      ->capture_default_str();
  cmd->add_option("--iters", opt->iters, "Timed steps")->capture_default_str();
  cmd->add_option("--warmup", opt->warmup, "Untimed steps first")->capture_default_str();
  cmd->add_option("--threads", opt->threads, "Threads of each process")->capture_default_str();
  cmd->add_option("--processes", opt->processes, "Processes of the parallel run (>= 2)")
      ->capture_default_str();
  cmd->add_option("--device", opt->device, "cpu, or cuda (one device per process)")
      ->capture_default_str();
  cmd->add_option("--json", *json_out, "Write the figures as JSON too");
  // Internal: one rank of a measured world, started by this command itself.
  cmd->add_option("--worker-out", *worker_out)->group("");
  reg.add(cmd, [=] {
    trainer::BenchDdpOptions o = *opt;
    if (!worker_out->empty()) {
      trainer::run_ddp_worker(o, trainer::launch_of_process(process_environment()), *worker_out);
      return 0;
    }
    o.program = fs::canonical("/proc/self/exe");
    const trainer::BenchDdpResult r = trainer::bench_ddp(o);
    std::cout << trainer::format_bench_ddp(o, r);
    if (!json_out->empty()) atomic_write(*json_out, trainer::bench_ddp_json(o, r).dump(2));
    return 0;
  });
}
#endif

#ifdef EXCAP_HAVE_TRIAGE
int run_bench_triage(const TriageCli& o) {
  trainer::BenchTriageOptions b;
  b.triage = triage_options(o);
  b.frames = o.frames;
  b.variants = !o.no_variants;
  b.conv_peak = !o.no_peak;
  b.python = o.python;
  std::error_code ec;
  if (!b.python.empty() && !fs::exists(b.python, ec)) b.python.clear();
  if (!b.python.empty())
    b.python_script = o.python_script.empty() ? resource_path("peers/bench_triage_reference.py")
                                              : fs::path(o.python_script);
  const trainer::BenchTriageResult r = trainer::bench_triage(b);
  std::cout << trainer::format_bench_triage(r);
  if (!o.json_out.empty()) atomic_write(o.json_out, trainer::bench_triage_json(r).dump(2) + "\n");
  return 0;
}

void register_bench_triage(CLI::App* bench, Registry& reg) {
  CLI::App* cmd =
      bench->add_subcommand("triage", "Triage speed next to a PyTorch eager + OpenCV Python peer");
  auto ob = std::make_shared<TriageCli>();
  add_triage_options(cmd, *ob);
  cmd->add_option("--frames", ob->frames, "Frames per timed run (0: the whole video)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--no-variants", ob->no_variants, "Skip the BN-unfolded and channels-last runs");
  cmd->add_flag("--no-peak", ob->no_peak, "Skip the 3x3 convolution peak measurement");
  cmd->add_option("--python", ob->python, "Interpreter of the Python peer (empty: skip it)");
  cmd->add_option("--python-script", ob->python_script,
                  "Default: share/excap/peers/bench_triage_reference.py");
  cmd->add_option("--json", ob->json_out, "Also write the figures as JSON here");
  reg.add(cmd, [ob] { return run_bench_triage(*ob); });
}

// The sample and the small model both labeling benchmarks take options for.
void add_label_world_options(CLI::App* cmd, SynthOptions& synth, trainer::LabelModelOptions& m) {
  cmd->add_option("--patients", synth.patients, "Synthetic patients (one video each)")
      ->capture_default_str();
  cmd->add_option("--seconds", synth.seconds, "Length of each video")->capture_default_str();
  cmd->add_option("--frame-size", synth.size, "Frame size of the sample in pixels")
      ->capture_default_str();
  cmd->add_option("--backbone", m.backbone, "MTCSN backbone")->capture_default_str();
  cmd->add_option("--size", m.size, "Training input size")->capture_default_str();
  cmd->add_option("--iters", m.iters, "Training iterations of each model")->capture_default_str();
  cmd->add_option("--batch", m.batch, "Batch size")->capture_default_str();
  cmd->add_option("--threads", m.threads, "CPU threads (0: all)")->capture_default_str();
  cmd->add_option("--device", m.device, "cpu, cuda, auto")->capture_default_str();
}

void print_line(const std::string& line) { std::cout << "  " << printable(line) << std::endl; }

// One thread by default: on a shared 2-core machine, 600 iterations of this small model with 2
// OpenMP threads had not finished after 14 minutes; 300 with one thread took 48 s.
void register_bench_prelabel_effort(CLI::App* bench, Registry& reg) {
  CLI::App* cmd =
      bench->add_subcommand("prelabel-effort", model_command_description("bench prelabel-effort"));
  auto o = std::make_shared<trainer::PrelabelEffortOptions>();
  o->model.iters = 300;
  o->model.threads = 1;
  auto out = std::make_shared<std::string>(o->out.string());
  cmd->add_option("--out", *out, "Output folder (absent or empty): sample/ and the JSON")
      ->capture_default_str();
  cmd->add_option("--frames", o->frames,
                  "Labeled frames the model trains on (0: every frame of the other patients)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--held-out", o->held_out, "Last patients pre-labeled and compared")
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "Seed of the sample, the labeled frames and training")
      ->capture_default_str();
  add_label_world_options(cmd, o->synth, o->model);
  reg.add(cmd, [o, out] {
    trainer::PrelabelEffortOptions run = *o;
    run.out = *out;
    const trainer::PrelabelEffortResult r = trainer::bench_prelabel_effort(run, print_line);
    std::cout << trainer::format_prelabel_effort(run, r);
    return 0;
  });
}

void register_bench_active_learning(CLI::App* bench, Registry& reg) {
  CLI::App* cmd =
      bench->add_subcommand("active-learning", model_command_description("bench active-learning"));
  auto o = std::make_shared<trainer::ActiveLearningOptions>();
  // 3 seeds x 5 models of 100 iterations at 48x48: minutes on 2 busy cores; scale by flags.
  o->synth.patients = 4;
  o->steps = {8, 16, 24};
  o->model.iters = 100;
  o->model.size = 48;
  o->model.threads = 1;
  auto out = std::make_shared<std::string>(o->out.string());
  cmd->add_option("--out", *out, "Output folder (absent or empty): sample/, JSON, plots")
      ->capture_default_str();
  cmd->add_option("--seeds", o->seeds, "Seeds (0, 1, ...)")->capture_default_str();
  cmd->add_option("--steps", o->steps, "Labeled frames K after each step, increasing")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--test-patients", o->test_patients, "Last patients: the fixed test set")
      ->capture_default_str();
  cmd->add_option("--sample-seed", o->synth.seed, "Seed of the synthetic sample")
      ->capture_default_str();
  add_label_world_options(cmd, o->synth, o->model);
  reg.add(cmd, [o, out] {
    trainer::ActiveLearningOptions run = *o;
    run.out = *out;
    const trainer::ActiveLearningResult r = trainer::bench_active_learning(run, print_line);
    std::cout << trainer::format_active_learning(run, r);
    return 0;
  });
}
#endif

}  // namespace

void register_bench_commands(CLI::App& app, Registry& reg) {
#if defined(EXCAP_HAVE_OPENCV) || defined(EXCAP_HAVE_TORCH)
  CLI::App* bench = group(app, "bench", "Benchmarks");
#ifdef EXCAP_HAVE_OPENCV
  register_bench_extract(bench, reg);
#endif
#ifdef EXCAP_HAVE_TORCH
  register_bench_train(bench, reg);
  register_bench_parity(bench, reg);
  register_bench_ddp(bench, reg);
#endif
#ifdef EXCAP_HAVE_TRIAGE
  register_bench_triage(bench, reg);
  register_bench_prelabel_effort(bench, reg);
  register_bench_active_learning(bench, reg);
#endif
#else
  (void)app, (void)reg;  // nothing to measure without OpenCV or LibTorch
#endif
}

}  // namespace excap::cli
