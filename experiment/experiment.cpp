#include "experiment/experiment.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/ids.h"
#include "experiment/summary.h"
#include "report/compare.h"
#include "report/eval_report.h"
#include "store/project.h"
#include "trainer/checkpoint.h"
#include "trainer/pack.h"
#include "trainer/packed.h"
#include "trainer/run_eval.h"

namespace excap::experiment {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The settings that make a run what the grid asks for (not where it runs).
nlohmann::json settings_of(trainer::TrainConfig c) {
  nlohmann::json j = c;
  for (const char* k : {"run", "device", "threads"}) j.erase(k);
  // The head sizes come from the packed data's schema when training starts.
  for (const char* k : {"num_cd", "num_tissue"}) j["model"].erase(k);
  return j;
}

int pointer_iter(const fs::path& run_dir, const std::string& tag) {
  const fs::path p = run_dir / "checkpoints" / (tag + ".json");
  if (!fs::exists(p)) return -1;
  return read_json_file(p).value("iter", -1);
}

enum class CellState { Fresh, Resume, Evaluate, Done };

// Where a cell stands; a run of the same name with other settings is refused.
CellState cell_state(const fs::path& root, const Cell& cell, const std::string& subset) {
  const fs::path dir = safe_child(root / "runs", cell.config.run, "", "run");
  const int latest = pointer_iter(dir, "latest");
  if (latest < 0) return CellState::Fresh;
  const auto saved = read_json_file(dir / "config.json").get<trainer::TrainConfig>();
  if (settings_of(saved) != settings_of(cell.config))
    throw Error("run '" + cell.config.run + "'",
                "exists with settings other than the grid's (remove it or give --name)");
  if (latest < cell.config.iters) return CellState::Resume;
  const fs::path metrics = trainer::eval_dir(dir, subset) / "metrics.json";
  if (!fs::exists(metrics)) return CellState::Evaluate;
  // Evaluated from the checkpoint the run ended with, not an earlier one.
  const int scored = read_json_file(metrics).value("iteration", -2);
  const int best = pointer_iter(dir, "best");
  return scored == (best >= 0 ? best : latest) ? CellState::Done : CellState::Evaluate;
}

void evaluate_cell(const fs::path& root, const Cell& cell, const std::string& subset) {
  const fs::path dir = safe_child(root / "runs", cell.config.run, "", "run");
  trainer::EvalOptions o;
  o.run = cell.config.run;
  o.subset = subset;
  o.checkpoint = pointer_iter(dir, "best") >= 0 ? "best" : "latest";
  o.device = cell.config.device;
  o.threads = cell.config.threads;
  o.at_packed_size = !trainer::reads_final_masks();
  const trainer::EvalResult r = trainer::evaluate_run(root, o);
  trainer::write_eval_files(dir, r, /*write_predictions_tensor=*/false);
  trainer::write_eval_report(dir, r, Project::open(root).meta().schema);
}

// Packs the split at every size the grid trains at, unless already packed.
void ensure_packed(const Project& project, const std::vector<Cell>& cells,
                   const ExperimentHooks& hooks) {
  std::vector<int> done;
  for (const auto& c : cells) {
    const int size = c.config.size;
    if (std::find(done.begin(), done.end(), size) != done.end()) continue;
    done.push_back(size);
    if (fs::exists(trainer::packed_path(project.root(), c.config.split, size, "train"))) continue;
    if (hooks.cell)
      hooks.cell({0, cells.size(), "", "pack",
                  "packing split '" + c.config.split + "' at " + std::to_string(size) + " px"});
    trainer::PackOptions po;
    po.split = c.config.split;
    po.size = size;
    trainer::pack_split(project, po);
  }
}

// Trains (or resumes) one cell; false when it was interrupted or diverged.
bool train_cell(const fs::path& root, const Cell& cell, bool resume, const ExperimentHooks& hooks,
                CellEvent& ev, ExperimentResult& result) {
  trainer::TrainHooks th;
  th.progress = hooks.progress;
  th.stop = hooks.stop;
  th.resume = resume;
  trainer::TrainConfig cfg = cell.config;
  const trainer::TrainOutcome o = trainer::train(root, cfg, th);
  ev.message = o.message;
  if (o.status == trainer::TrainOutcome::Status::Finished) {
    ++result.trained;
    return true;
  }
  if (o.status == trainer::TrainOutcome::Status::Interrupted) {
    result.interrupted = true;
    ev.what = "interrupted";
  } else {
    ++result.diverged;
    ev.what = "diverged";
  }
  if (hooks.cell) hooks.cell(ev);
  return false;
}

// Runs one cell to its evaluation; returns false when the experiment must stop.
bool run_cell(const fs::path& root, const Cell& cell, const std::string& subset,
              const ExperimentHooks& hooks, CellEvent ev, ExperimentResult& result) {
  const CellState state = cell_state(root, cell, subset);
  auto emit = [&](const std::string& what, const std::string& message) {
    ev.what = what;
    ev.message = message;
    if (hooks.cell) hooks.cell(ev);
  };
  if (state == CellState::Done) {
    ++result.skipped;
    emit("skip", "trained and evaluated");
    return true;
  }
  if (state == CellState::Fresh || state == CellState::Resume) {
    const bool resume = state == CellState::Resume;
    emit(resume ? "resume" : "train", std::to_string(cell.config.iters) + " iterations");
    if (!train_cell(root, cell, resume, hooks, ev, result)) return !result.interrupted;
  }
  emit("eval", "scoring subset '" + subset + "'");
  evaluate_cell(root, cell, subset);
  ++result.evaluated;
  emit("done", "");
  return true;
}

}  // namespace

Stat stat_of(const std::vector<double>& values) {
  Stat s;
  double sum = 0;
  for (double v : values)
    if (std::isfinite(v)) sum += v, ++s.n;
  if (s.n == 0) return {kNaN, kNaN, 0};
  s.mean = sum / s.n;
  if (s.n < 2) {
    s.sd = kNaN;
    return s;
  }
  double ss = 0;
  for (double v : values)
    if (std::isfinite(v)) ss += (v - s.mean) * (v - s.mean);
  s.sd = std::sqrt(ss / (s.n - 1));
  return s;
}

bool cell_done(const fs::path& root, const Cell& cell, const std::string& subset) {
  return cell_state(root, cell, subset) == CellState::Done;
}

ExperimentResult run_experiment(const fs::path& root, const ExperimentOptions& options,
                                const ExperimentHooks& hooks) {
  Grid grid = read_grid(options.grid_file, options.overrides);
  if (!options.name.empty()) {
    require_safe_id(options.name, "experiment");
    grid.name = options.name;
  }
  require_safe_id(options.split, "split");
  require_safe_id(options.subset, "subset");
  const Project project = Project::open(root);
  if (!fs::exists(project.split_path(options.split)))
    throw Error(project.split_path(options.split).string(),
                "no such split (make it with `excap split`)");
  const std::vector<Cell> cells = grid_cells(grid, options.split);
  for (const auto& c : cells) cell_state(root, c, options.subset);  // refuse clashes up front
  ExperimentResult result;
  result.name = grid.name;
  result.out_dir = root / "experiments" / grid.name;
  ensure_packed(project, cells, hooks);
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (hooks.stop && hooks.stop->load()) {
      result.interrupted = true;
      return result;
    }
    CellEvent ev;
    ev.index = i;
    ev.count = cells.size();
    ev.run = cells[i].config.run;
    if (!run_cell(root, cells[i], options.subset, hooks, ev, result)) return result;
  }
  summarize(root, grid, cells, options.subset, result);
  write_outputs(result, cells, options);
  return result;
}

}  // namespace excap::experiment
