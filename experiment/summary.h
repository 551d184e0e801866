// Inside the experiment target: from evaluated runs to the table, the CSV,
// results.json and the plot (experiment.cpp runs the cells, summary.cpp writes).
#pragma once
#include <string>
#include <vector>

#include "experiment/experiment.h"

namespace excap::experiment {

// Whether the cell's run finished and was scored on `subset` from its final checkpoint.
bool cell_done(const fs::path& root, const Cell& cell, const std::string& subset);

// Fills result.rows and result.classes from the cells that are done.
void summarize(const fs::path& root, const Grid& grid, const std::vector<Cell>& cells,
               const std::string& subset, ExperimentResult& result);

// table.md, table.csv, results.json, plot.png in result.out_dir, each atomically.
void write_outputs(const ExperimentResult& result, const std::vector<Cell>& cells,
                   const ExperimentOptions& options);

}  // namespace excap::experiment
