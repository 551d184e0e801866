// The grid file of `excap experiment` (docs/experiment.md): rows of training
// settings, each crossed with its backbones and the seeds. Plain data, no
// LibTorch, no OpenCV.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/fsutil.h"
#include "trainer/train_config.h"

namespace excap::experiment {

struct GridRow {
  std::string id;     // safe name, part of the run names
  std::string label;  // shown in the table and the plot
  std::vector<std::string> backbones;
  trainer::TrainConfig train;  // every setting but run, split, backbone and seed
};

struct Grid {
  std::string name;  // experiments/<name>/, run name prefix
  std::vector<std::uint64_t> seeds;
  std::vector<GridRow> rows;
};

// What the command line overrides: scale, seeds, and where training runs.
struct GridOverrides {
  std::optional<int> seeds;  // seeds 0..N-1
  std::optional<int> iters, size, batch;
  std::string device = "auto";
  int threads = 0;
};

// Reads and checks the grid file; an unknown key, arch, backbone or a bad
// value throws Error("<file>", "<key>: reason"). The name defaults to the file's stem.
Grid read_grid(const fs::path& file, const GridOverrides& overrides = {});

// One training run of the grid: runs/<experiment>-<row>-<backbone>-s<seed>.
struct Cell {
  std::size_t row = 0;  // index into Grid::rows
  std::string backbone;
  std::uint64_t seed = 0;
  trainer::TrainConfig config;  // complete: run, split, backbone and seed set
};

// The cells in table order: row, then backbone, then seed.
std::vector<Cell> grid_cells(const Grid& grid, const std::string& split);

}  // namespace excap::experiment
