// `excap experiment`: grid files, the cells as runs, the table over seeds, skip and resume.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "common/error.h"
#include "experiment/experiment.h"
#include "report/plots.h"
#include "store/project.h"
#include "support/project_builder.h"
#include "test_support.h"

using namespace excap;
using nlohmann::json;

namespace {

fs::path write_grid(const test::ScratchDir& dir, const std::string& name, const json& grid) {
  const fs::path p = dir / (name + ".json");
  std::ofstream(p) << grid.dump(2);
  return p;
}

// Two rows (multi-task and a segmenter) x two seeds on the tiny backbone, 32 px, 4 iterations.
json tiny_grid() {
  return {{"format", "excap-experiment-grid"},
          {"version", 1},
          {"seeds", {0, 1}},
          {"backbones", {"tiny"}},
          {"train", {{"size", 32}, {"iters", 4}, {"batch", 4}, {"val_interval", 2}}},
          {"rows",
           {{{"id", "mt"}, {"label", "MTCSN"}, {"model", "mtcsn"}},
            {{"id", "fcn"}, {"label", "FCN"}, {"model", "seg_fcn"}}}}};
}

fs::path synthetic(const test::ScratchDir& dir) {
  test::SyntheticSetOptions o;
  o.size = 32;
  o.train = 12, o.val = 4, o.test = 6;
  test::make_synthetic_project(dir / "p", "syn", o);
  return dir / "p";
}

experiment::ExperimentOptions options(const fs::path& grid) {
  experiment::ExperimentOptions o;
  o.grid_file = grid;
  o.split = "syn";
  o.overrides.device = "cpu";
  o.overrides.threads = 2;
  return o;
}

// Mean and sample sd, computed here from the runs' own metrics.json.
std::pair<double, double> mean_sd(const std::vector<double>& v) {
  double m = 0, ss = 0;
  for (double x : v) m += x;
  m /= v.size();
  for (double x : v) ss += (x - m) * (x - m);
  return {m, std::sqrt(ss / (v.size() - 1))};
}

double run_metric(const fs::path& root, const std::string& run, const char* section,
                  const char* key) {
  const json m = read_json_file(root / "runs" / run / "eval/test/metrics.json");
  return 100.0 * m.at(section).at(key).get<double>();
}

std::string read_text(const fs::path& p) {
  std::ifstream f(p);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

}  // namespace

TEST_CASE("experiment: sample grids parse into cells named experiment-row-backbone-seed") {
  const fs::path samples = fs::path(EXCAP_SOURCE_DIR) / "samples/grids";
  const auto paper = experiment::read_grid(samples / "paper.json");
  CHECK(paper.name == "paper");
  CHECK(paper.rows.size() == 7);
  CHECK(paper.rows[0].train.iters == 30000);
  CHECK(paper.rows[0].train.size == 240);
  CHECK(experiment::grid_cells(paper, "s").size() == 45);  // 15 row-backbones x 3 seeds
  experiment::GridOverrides o;
  o.seeds = 1;
  o.iters = 7;
  const auto quick = experiment::read_grid(samples / "quick.json", o);
  const auto cells = experiment::grid_cells(quick, "s");
  CHECK(cells.size() == 7);
  CHECK(cells.back().config.run == "quick-mtcsn-gmp-tiny-s0");
  CHECK(cells.back().config.model.fusion_pool == model::FusionPool::Max);
  CHECK(cells.back().config.iters == 7);
  CHECK(cells.back().config.split == "s");
}

TEST_CASE("experiment: a 2x2 grid gives mean +- sd of its runs, and a second call trains nothing") {
  test::ScratchDir dir("experiment_grid");
  const fs::path root = synthetic(dir);
  const fs::path grid = write_grid(dir, "tiny", tiny_grid());
  std::vector<std::string> events;
  experiment::ExperimentHooks hooks;
  hooks.cell = [&](const experiment::CellEvent& e) { events.push_back(e.what); };
  const auto r = experiment::run_experiment(root, options(grid), hooks);
  CHECK(r.trained == 4);
  CHECK(r.evaluated == 4);
  CHECK(r.skipped == 0);
  REQUIRE(r.rows.size() == 2);
  const json results = read_json_file(root / "experiments/tiny/results.json");
  REQUIRE(results["rows"].size() == 2);
  for (int i = 0; i < 2; ++i) {
    const json& row = results["rows"][i];
    CHECK(row["n"] == 2);
    std::vector<double> miou, acc;
    for (const auto& run : row["runs"]) {
      miou.push_back(run_metric(root, run, "segmentation", "mIoU"));
      if (i == 0) acc.push_back(run_metric(root, run, "classification", "accuracy"));
    }
    const auto [m, sd] = mean_sd(miou);
    CHECK(row["metrics"]["mIoU"]["mean"].get<double>() == doctest::Approx(m));
    CHECK(row["metrics"]["mIoU"]["sd"].get<double>() == doctest::Approx(sd));
    if (i == 0) {
      const auto [am, asd] = mean_sd(acc);
      CHECK(row["metrics"]["accuracy"]["mean"].get<double>() == doctest::Approx(am));
      CHECK(row["metrics"]["accuracy"]["sd"].get<double>() == doctest::Approx(asd));
    } else {
      CHECK(row["metrics"]["accuracy"]["n"] == 0);  // a segmenter has no CD score
    }
  }
  CHECK(results["rows"][0]["runs"][1] == "tiny-mt-tiny-s1");
  const std::string md = read_text(root / "experiments/tiny/table.md");
  CHECK(md.find("| MTCSN | MTCSN | Tiny | 4 | 2 |") != std::string::npos);
  CHECK(md.find("| FCN | FCN (single task) | Tiny | 4 | 2 | - |") != std::string::npos);
  CHECK(md.find(" ± ") != std::string::npos);
  const std::string csv = read_text(root / "experiments/tiny/table.csv");
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 3);
  CHECK(csv.rfind("row,label,method,backbone,iterations,n,accuracy mean,accuracy sd", 0) == 0);
  CHECK(fs::file_size(root / "experiments/tiny/plot.png") > 0);

  const auto log_size = fs::file_size(root / "runs/tiny-mt-tiny-s0/metrics.jsonl");
  events.clear();
  const auto again = experiment::run_experiment(root, options(grid), hooks);
  CHECK(again.trained == 0);
  CHECK(again.evaluated == 0);
  CHECK(again.skipped == 4);
  CHECK(events == std::vector<std::string>(4, "skip"));
  CHECK(fs::file_size(root / "runs/tiny-mt-tiny-s0/metrics.jsonl") == log_size);
  CHECK(again.rows[0].metrics.at("mIoU").mean ==
        doctest::Approx(r.rows[0].metrics.at("mIoU").mean));

  // Head sizes follow the project's schema (not the grid): a run saved with others still counts.
  const fs::path config = root / "runs/tiny-fcn-tiny-s1/config.json";
  json saved = read_json_file(config);
  saved["model"]["num_cd"] = 2;
  saved["model"]["num_tissue"] = 5;
  write_json_atomic(config, saved);
  CHECK(experiment::run_experiment(root, options(grid)).skipped == 4);
  // A run of the same name trained with other settings is refused, not mixed in.
  saved["lr"] = 0.5;
  write_json_atomic(config, saved);
  CHECK_THROWS_WITH_AS(experiment::run_experiment(root, options(grid)),
                       doctest::Contains("settings other than the grid's"), Error);
}

TEST_CASE("experiment: a stop saves the cell in training and the next call resumes it") {
  test::ScratchDir dir("experiment_resume");
  const fs::path root = synthetic(dir);
  json g = tiny_grid();
  g["seeds"] = 1;
  g["rows"] = {{{"id", "mt"}, {"model", "mtcsn"}, {"log_interval", 1}}};
  const fs::path grid = write_grid(dir, "one", g);
  std::atomic<bool> stop{false};
  std::vector<std::string> events;
  experiment::ExperimentHooks hooks;
  hooks.cell = [&](const experiment::CellEvent& e) { events.push_back(e.what); };
  hooks.progress = [&](const trainer::TrainProgress& p) {
    if (p.iter >= 2) stop = true;
  };
  hooks.stop = &stop;
  const auto first = experiment::run_experiment(root, options(grid), hooks);
  CHECK(first.interrupted);
  CHECK(events.back() == "interrupted");
  CHECK_FALSE(fs::exists(root / "experiments/one/table.md"));
  stop = false;
  hooks.progress = nullptr;
  events.clear();
  const auto second = experiment::run_experiment(root, options(grid), hooks);
  CHECK_FALSE(second.interrupted);
  CHECK(events == std::vector<std::string>{"resume", "eval", "done"});
  CHECK(read_json_file(root / "runs/one-mt-tiny-s0/checkpoints/latest.json")["iter"] == 4);
  CHECK(fs::exists(root / "experiments/one/table.md"));
}

TEST_CASE("experiment: a bad grid or split is refused naming the file and key, nothing written") {
  test::ScratchDir dir("experiment_bad");
  const fs::path root = synthetic(dir);
  const auto before = test::tree_snapshot(root);
  auto refused = [&](json g, const std::string& expect, const std::string& split = "syn") {
    const fs::path grid = write_grid(dir, "bad", g);
    auto o = options(grid);
    o.split = split;
    std::string message;
    try {
      experiment::run_experiment(root, o);
    } catch (const Error& e) {
      message = e.what();
    }
    CHECK_MESSAGE(message.find(expect) != std::string::npos, message);
    if (split == "syn") CHECK_MESSAGE(message.find("bad.json") != std::string::npos, message);
  };
  json g = tiny_grid();
  g["rows"][0]["lr_typo"] = 0.1;
  refused(g, "unknown key 'lr_typo'");
  g = tiny_grid();
  g["rows"][1]["model"] = "unet";
  refused(g, "unknown 'unet'");
  g = tiny_grid();
  g["backbones"] = {"resnet9"};
  refused(g, "backbones: unknown 'resnet9'");
  g = tiny_grid();
  g["seeds"] = 0;
  refused(g, "'seeds' must be 1..100");
  g = tiny_grid();
  g["seeds"] = {1, -2};
  refused(g, "'seeds'");
  g = tiny_grid();
  g["colour"] = "red";
  refused(g, "unknown key 'colour'");
  refused(tiny_grid(), "no such split", "nosplit");
  CHECK(test::tree_snapshot(root) == before);

  // The command line: a bad --seeds and a bad grid exit non-zero with the reason.
  std::string out;
  const std::string grid = write_grid(dir, "bad", g).string();
  CHECK(test::run_command({test::built_binary("excap"), "experiment", root.string(), "--split",
                           "syn", "--grid", grid},
                          &out) != 0);
  CHECK_MESSAGE(out.find("unknown key 'colour'") != std::string::npos, out);
  CHECK(
      test::run_command({test::built_binary("excap"), "experiment", root.string(), "--split", "syn",
                         "--grid", write_grid(dir, "ok", tiny_grid()).string(), "--seeds", "0"},
                        &out) != 0);
  CHECK_MESSAGE(out.find("--seeds") != std::string::npos, out);
  CHECK(test::tree_snapshot(root) == before);
}

TEST_CASE("experiment: bar charts draw sd whiskers where errors are given") {
  plots::BarSeries plain{"a", {40, 60}};
  plots::BarSeries with = plain;
  with.errors = {5, 0};
  plots::ChartStyle st;
  st.y_min = 0, st.y_max = 100;
  const cv::Mat a = plots::bar_chart("t", {"x", "y"}, {plain}, st);
  const cv::Mat b = plots::bar_chart("t", {"x", "y"}, {with}, st);
  CHECK(cv::norm(a, b, cv::NORM_L1) > 0);
}
