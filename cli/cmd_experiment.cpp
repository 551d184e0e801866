// excap experiment: a grid of training runs and their comparison table.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "common/error.h"
#include "experiment/experiment.h"

namespace excap::cli {

namespace {

std::atomic<bool> g_stop{false};

extern "C" void on_experiment_sigint(int) {
  g_stop.store(true);
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C ends the process at once
}

void print_cell(const experiment::CellEvent& e) {
  if (e.what == "pack") {
    std::cerr << e.message << "\n";
    return;
  }
  std::cerr << "[" << e.index + 1 << "/" << e.count << "] " << e.run << ": " << e.what;
  if (!e.message.empty()) std::cerr << " (" << e.message << ")";
  std::cerr << "\n";
}

// One line per validation: the long loss lines of `excap train` would drown the cell lines.
void print_validation(const trainer::TrainProgress& p) {
  if (p.event != "val") return;
  std::fprintf(stderr, "    iteration %d/%d", p.iter, p.iters);
  for (const char* k : {"accuracy", "mIoU"}) {
    const auto it = p.val.find(k);
    if (it != p.val.end()) std::fprintf(stderr, "  val %s %.3f", k, it->second);
  }
  std::fprintf(stderr, "\n");
}

}  // namespace

void register_experiment_commands(CLI::App& app, Registry& reg) {
  auto* cmd = app.add_subcommand(
      "experiment", "Train and score a grid of runs over seeds; write the comparison table");
  auto dir = std::make_shared<std::string>();
  auto o = std::make_shared<experiment::ExperimentOptions>();
  auto seeds = std::make_shared<int>(0), iters = std::make_shared<int>(0);
  auto size = std::make_shared<int>(0), batch = std::make_shared<int>(0);
  cmd->add_option("DIR", *dir, "Project folder")->required();
  cmd->add_option("--split", o->split, "Split name (splits/NAME.json; packed when needed)")
      ->required()
      ->check(safe_name());
  cmd->add_option("--grid", o->grid_file, "Grid file (docs/experiment.md; samples/grids/)")
      ->required();
  cmd->add_option("--name", o->name, "Experiment name (default: the grid's)")->check(safe_name());
  cmd->add_option("--subset", o->subset, "Scored subset")
      ->check(safe_name())
      ->capture_default_str();
  auto* s = cmd->add_option("--seeds", *seeds, "Seeds 0..N-1 instead of the grid's");
  auto* it = cmd->add_option("--iters", *iters, "Iterations of every run (overrides the grid)");
  auto* sz = cmd->add_option("--size", *size, "Input size of every run (overrides the grid)");
  auto* b = cmd->add_option("--batch", *batch, "Batch size of every run (overrides the grid)");
  cmd->add_option("--device", o->overrides.device, "auto, cpu, cuda or cuda:N")
      ->capture_default_str();
  cmd->add_option("--threads", o->overrides.threads, "CPU threads (0: all)")->capture_default_str();
  reg.add(cmd, [=] {
    experiment::ExperimentOptions opt = *o;
    if (s->count()) opt.overrides.seeds = *seeds;
    if (it->count()) opt.overrides.iters = *iters;
    if (sz->count()) opt.overrides.size = *size;
    if (b->count()) opt.overrides.batch = *batch;
    experiment::ExperimentHooks hooks;
    hooks.cell = print_cell;
    hooks.progress = print_validation;
    hooks.stop = &g_stop;
    std::signal(SIGINT, on_experiment_sigint);
    const experiment::ExperimentResult r = experiment::run_experiment(*dir, opt, hooks);
    std::signal(SIGINT, SIG_DFL);
    if (r.interrupted) {
      std::cerr << "interrupted: the next `excap experiment` with the same grid continues\n";
      return 130;
    }
    std::cout << experiment::table_markdown(r, opt.subset) << "\n"
              << r.trained << " trained, " << r.evaluated << " evaluated, " << r.skipped
              << " skipped, " << r.diverged << " diverged; " << (r.out_dir / "table.md").string()
              << "\n";
    return r.diverged > 0 ? 3 : 0;
  });
}

}  // namespace excap::cli
