// `excap bench active-learning`: learning curves on the synthetic sample, test
// mIoU (and CD accuracy) after K labeled frames when the frames are labeled in
// uncertainty order (`excap assign --order uncertainty`) or in random order
// (docs/prelabels.md, "Uncertainty order vs random").
//
// The pool is every frame of the first patients, the test set every frame of
// the last `test_patients` (so no test patient is in the pool). The oracle
// expert labels with the ground truth. Per seed, the first steps[0] frames
// come from a seeded random order of the pool and are shared by both
// strategies; then, for each next K, each strategy adds K - (labeled) frames:
//  * uncertainty: the model trained at the previous K pre-labels the project
//    (`excap prelabel --frames all`) and the unlabeled pool frames are ordered
//    by the stored suggestions exactly as `assign --order uncertainty` orders
//    its queue (uncertainty_score, then order_by_uncertainty: highest first,
//    ties by pool order);
//  * random: the next frames of that seeded random order of the pool.
// At every K a model is trained fresh (from scratch, the seed's training
// seed, a fixed number of iterations) on the labeled frames, and its latest
// checkpoint is scored on the test set as `excap eval` scores.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>
#include <opencv2/core.hpp>

#include "bench/label_world.h"

namespace excap::trainer {

struct ActiveLearningOptions {
  fs::path out = "excap-bench-active-learning";  // absent or empty: sample/, JSON and plots
  SynthOptions synth = [] {
    SynthOptions s;
    s.patients = 5;
    return s;
  }();
  int test_patients = 1;                  // the last patients: the fixed test set
  int seeds = 3;                          // seeds 0 .. seeds-1
  std::vector<int> steps{8, 16, 24, 32};  // labeled frames K after each step, increasing
  LabelModelOptions model;
};

struct CurvePoint {
  int labeled = 0;                 // K
  TestScores test;                 // of the model trained on those K frames
  std::string run;                 // runs/<run> of that model
  std::vector<std::string> added;  // frames added to reach K (the seed set at the first K)
  std::string chosen_by;           // the run whose suggestions ordered them ("" for random)
  double seconds = 0;
};

struct Curve {
  int seed = 0;
  std::string strategy;  // "uncertainty" | "random"
  std::vector<CurvePoint> points;
};

struct StrategySummary {
  std::string strategy;
  std::vector<int> labeled;
  std::vector<double> miou_mean, miou_sd, acc_mean, acc_sd;  // fractions, one per K
};

struct ActiveLearningResult {
  std::vector<std::string> pool_patients, test_patients;
  int pool_frames = 0, test_frames = 0;
  std::vector<Curve> curves;  // seed-major, uncertainty then random
  std::vector<StrategySummary> summary;
  double total_s = 0;
  fs::path project, json, plot, plot_cd;
};

ActiveLearningResult bench_active_learning(const ActiveLearningOptions& o, const BenchLog& log);
// Mean and sd over seeds per K and strategy.
std::vector<StrategySummary> summarise_curves(const std::vector<Curve>& curves);
cv::Mat learning_curve_plot(const std::vector<StrategySummary>& summary, bool cd_accuracy);
std::string format_active_learning(const ActiveLearningOptions& o, const ActiveLearningResult& r);
nlohmann::json active_learning_json(const ActiveLearningOptions& o, const ActiveLearningResult& r);

}  // namespace excap::trainer
