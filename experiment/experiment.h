// `excap experiment`: the paper's comparison (Tables 3-6) as one call. Every
// cell of a grid is an ordinary run, trained in-process, evaluated as `excap
// eval` does, skipped when done and resumed when interrupted; then the table
// (mean +- sd over seeds per row and backbone), results.json and a plot go to
// experiments/<name>/. No printing: progress goes to callbacks.
#pragma once
#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/fsutil.h"
#include "experiment/grid.h"
#include "trainer/train.h"

namespace excap::experiment {

struct ExperimentOptions {
  fs::path grid_file;
  std::string split;            // splits/<split>.json; packed on first use
  std::string subset = "test";  // scored subset
  std::string name;             // overrides the grid's name when not empty
  GridOverrides overrides;
};

struct CellEvent {
  std::size_t index = 0, count = 0;  // 0-based position, number of cells
  std::string run;
  // "skip" (trained and evaluated), "train", "resume", "eval", "done",
  // "interrupted", "diverged", "pack"
  std::string what;
  std::string message;
};

struct ExperimentHooks {
  std::function<void(const CellEvent&)> cell;
  std::function<void(const trainer::TrainProgress&)> progress;  // of the cell in training
  const std::atomic<bool>* stop = nullptr;  // set (e.g. by SIGINT): save the cell and return
};

// Mean and sample standard deviation (n - 1) over the seeds; NaN sd for n < 2.
struct Stat {
  double mean = 0, sd = 0;
  int n = 0;
};

// One line of the table: a grid row on one backbone, over its evaluated seeds.
struct RowSummary {
  std::string row, label, arch, backbone, iterations;
  bool has_cls = false, has_seg = false;
  std::vector<std::string> runs;  // the evaluated runs the numbers come from
  // Percent: accuracy, precision, recall, f1, mAcc, mIoU, and "IoU <class>".
  std::map<std::string, Stat> metrics;
};

struct ExperimentResult {
  std::string name;
  fs::path out_dir;  // <project>/experiments/<name>/
  bool interrupted = false;
  int trained = 0, evaluated = 0, skipped = 0, diverged = 0;
  std::vector<RowSummary> rows;
  std::vector<std::string> classes;  // tissue classes of the per-class IoU columns
};

// Reads the grid and checks the split before anything is written; then runs
// every cell and, unless interrupted, writes table.md, table.csv,
// results.json and plot.png. Throws Error for bad input.
ExperimentResult run_experiment(const fs::path& project_root, const ExperimentOptions& options,
                                const ExperimentHooks& hooks = {});

// Mean and sample sd of the finite values (NaN ones are left out of n).
Stat stat_of(const std::vector<double>& values);

// The outputs of a finished experiment, each written atomically.
std::string table_markdown(const ExperimentResult& r, const std::string& subset);
std::string table_csv(const ExperimentResult& r);

}  // namespace excap::experiment
