// `excap bench parity`: ExCap's trainer and its PyTorch (Python) peer train the
// same network from the same initial weights on the same packed frames in the
// same batch order; one evaluator scores both sides' final weights on a test
// subset. Also the per-parameter check of a few steps that localises a
// disagreement (the first tensor that differs names the part that deviates).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/fsutil.h"
#include "model/config.h"

namespace excap::trainer {

struct ParityOptions {
  fs::path project;
  std::string split;
  std::string train_subset = "train", test_subset = "test";
  model::ModelConfig model;  // num_cd / num_tissue come from the packed data
  int size = 128, batch = 8, iters = 300, seeds = 3;
  std::uint64_t first_seed = 0;
  // The recipe both sides train with (defaults: TrainConfig's); tests exaggerate
  // terms so that a side leaving one out shows within a few steps.
  double lr = 0.01, momentum = 0.9, weight_decay = 5e-4;
  int threads = 0;  // both sides; 0: all hardware threads
  std::string python = "/usr/bin/python3";
  fs::path python_script;             // bench/peers/parity_reference.py
  std::string run_prefix = "parity";  // runs/<prefix>-s<seed>/ (replaced when present)
};

// Final test scores of one side of one seed (ExCap's evaluator, packed size).
struct ParityScores {
  double miou = 0, accuracy = 0;
  double train_s = 0;
};

struct ParitySeed {
  std::uint64_t seed = 0;
  ParityScores cpp, python;
  double python_own_miou = 0, python_own_accuracy = 0;  // the peer's own evaluator (cross-check)
};

struct ParityResult {
  std::vector<ParitySeed> seeds;
  std::string python_note;  // torch version and threads of the peer
};

// Trains options.seeds seeds on both sides and scores them. Throws Error when
// the split is not packed at options.size or the peer fails.
ParityResult bench_parity(const ParityOptions& options);

// Largest absolute difference per tensor between two weight files holding the
// same names (a name missing from either side throws Error naming it).
struct TensorDiff {
  std::string name;
  double max_abs = 0;
};
std::vector<TensorDiff> compare_weight_files(const fs::path& a, const fs::path& b);

// Both sides run `steps` iterations (seed options.first_seed, no dropout, no
// augmentation) from the same weights on the same batches; the diff of every
// parameter and buffer after them, in the model's state-dict order.
std::vector<TensorDiff> parity_step_check(const ParityOptions& options, int steps);

// Table: every seed, both sides, then mean +- sd per side.
std::string format_parity(const ParityOptions& o, const ParityResult& r);
nlohmann::json parity_json(const ParityOptions& o, const ParityResult& r);
// The step check: the first tensor over `tolerance` (if any) and the largest diffs.
std::string format_step_check(const std::vector<TensorDiff>& diffs, int steps, double tolerance);

}  // namespace excap::trainer
