// The Results workspace's model: a tiny run as the trainer writes it, its
// evaluation and a triage folder, read back without a window.
#include <doctest/doctest.h>

#include <cmath>

#include "annotator/core/results_model.h"
#include "results_fixture.h"

using namespace excap;
using namespace excap::annotator;

namespace {

const Curve* find_curve(const std::vector<Curve>& curves, const std::string& name) {
  for (const auto& c : curves)
    if (c.name == name) return &c;
  return nullptr;
}

}  // namespace

TEST_CASE("results model: curves of metrics.jsonl, a torn line named and skipped") {
  test::ScratchDir dir("results-log");
  test::make_results_project(dir / "p");
  const MetricsLog log = read_metrics_log(dir / "p" / "runs" / "tiny" / "metrics.jsonl");
  const Curve* loss = find_curve(log.losses, "loss");
  REQUIRE(loss != nullptr);
  REQUIRE(loss->points.size() == 4);
  CHECK(loss->points[0].iter == 10);
  CHECK(loss->points[3].value == doctest::Approx(0.05));
  REQUIRE(find_curve(log.losses, "loss_cls") != nullptr);
  CHECK(log.lr.points.size() == 4);
  const Curve* miou = find_curve(log.validation, "val.mIoU");
  REQUIRE(miou != nullptr);
  CHECK(miou->points.size() == 2);
  CHECK(miou->points[1].value == doctest::Approx(0.4));
  CHECK(find_curve(log.validation, "val.f1") == nullptr);  // null: no point
  CHECK(find_curve(log.validation, "score") != nullptr);
  REQUIRE(log.problems.size() == 1);
  CHECK(log.problems[0] == "metrics.jsonl line 4: not a JSON object, skipped");
  REQUIRE(log.events.size() == 2);
  CHECK(log.events[1] == "end at 40: done");
  CHECK(read_metrics_log(dir / "missing.jsonl").losses.empty());
}

TEST_CASE("results model: the run's evaluation, its worst frames and the comparison row") {
  test::ScratchDir dir("results-eval");
  test::make_results_project(dir / "p");
  const ResultsSnapshot s = load_results(dir / "p", {3, 64});
  REQUIRE(s.runs.size() == 1);
  const RunSummary& r = s.runs[0];
  CHECK(r.name == "tiny");
  CHECK(r.arch == "mtcsn");
  CHECK(r.iters == 40);
  REQUIRE(r.evals.size() == 1);
  const EvalSummary& e = r.evals[0];
  CHECK(e.problems.empty());
  CHECK(e.subset == "test");
  CHECK(e.accuracy == doctest::Approx(0.75));
  CHECK(std::isnan(e.f1));
  REQUIRE(e.confusion.size() == 3);
  CHECK(e.confusion[0][1] == 1);
  CHECK(e.mIoU == doctest::Approx(0.6));
  REQUIRE(e.iou.size() == s.schema.tissue.size());
  REQUIRE(e.worst.size() == 3);
  CHECK(e.worst[0].frame == "v1_00002");
  CHECK(e.worst[0].miou == doctest::Approx(0.0));
  CHECK(e.worst[1].frame == "v1_00001");
  CHECK(e.worst[1].miou < 1.0);
  CHECK(e.worst[2].miou == doctest::Approx(1.0));
  CHECK(e.worst[0].image.type() == CV_8UC4);
  CHECK(std::max(e.worst[0].pred.cols, e.worst[0].pred.rows) == 64);
  REQUIRE(s.compare.size() == 1);
  CHECK(s.compare[0].run == "tiny");
  CHECK(s.compare[0].accuracy == doctest::Approx(75.0));
}

TEST_CASE("results model: a run with broken files is listed with its problems") {
  test::ScratchDir dir("results-broken");
  test::make_results_project(dir / "p");
  const fs::path run = dir / "p" / "runs" / "broken";
  ensure_dir(run / "eval" / "test");
  atomic_write(run / "config.json", "{not json");
  atomic_write(run / "eval" / "test" / "metrics.json", "[1,");
  const ResultsSnapshot s = load_results(dir / "p");
  REQUIRE(s.runs.size() == 2);
  CHECK(s.runs[0].name == "broken");
  CHECK(!s.runs[0].problems.empty());
  REQUIRE(s.runs[0].evals.size() == 1);
  CHECK(!s.runs[0].evals[0].problems.empty());
  CHECK(s.compare.size() == 1);  // the broken run is named in problems, not compared
  CHECK(!s.problems.empty());
}

TEST_CASE("results model: triage series, kept frames, contact sheet tiles and the video") {
  test::ScratchDir dir("results-triage");
  Project p = test::make_results_project(dir / "p");
  test::write_triage_files(
      dir / "p" / "triage", dir / "capsule.avi",
      (dir / "p" / "runs" / "tiny" / "checkpoints" / "iter_000040" / "weights.safetensors")
          .string());
  const auto folders = triage_folders(dir / "p");
  REQUIRE(folders.size() == 1);
  const TriageSeries t = read_triage(folders[0], dir / "p");
  CHECK(t.problems.empty());
  CHECK(t.frame.size() == 30);
  CHECK(t.p_clear[3] == doctest::Approx(0.3));
  REQUIRE(t.share_names.size() == 2);
  CHECK(t.share_names[1] == "lesion");
  CHECK(t.shares[1][0] == doctest::Approx(0.1));
  CHECK(t.kept.size() == 10);
  CHECK(t.kept[1].frame == 6);
  CHECK(t.fps == doctest::Approx(10.0));
  CHECK(t.video_id.empty());  // not a video of the project
  CHECK(t.sheet.size() == 10);
  CHECK(t.sheet_columns == 4);
  const cv::Size sheet(4 * 368 + 8, 3 * 100 + 52);
  CHECK(sheet_tile_at(t, sheet, 0.1, 0.1) == 0);
  CHECK(sheet_tile_at(t, sheet, 0.6, 0.5) == 6);
  CHECK(sheet_tile_at(t, sheet, 0.9, 0.99) == -1);  // the legend
  CHECK(sheet_tile_at(t, sheet, 0.9, 0.7) == -1);   // past the last tile

  // The demo's layout: triage beside the project, for one of its runs.
  fs::remove_all(dir / "p" / "triage");
  test::write_triage_files(
      dir / "triage", dir / "capsule.avi",
      (dir / "p" / "runs" / "tiny" / "checkpoints" / "iter_000040" / "weights.safetensors")
          .string());
  CHECK(triage_folders(dir / "p").size() == 1);
  test::write_triage_files(dir / "triage", dir / "capsule.avi",
                           "/elsewhere/runs/x/checkpoints/iter_000001/weights.safetensors");
  CHECK(triage_folders(dir / "p").empty());
}

TEST_CASE("results model: the fingerprint changes when a run's files change") {
  test::ScratchDir dir("results-fingerprint");
  test::make_results_project(dir / "p");
  const long long before = results_fingerprint(dir / "p");
  CHECK(results_fingerprint(dir / "p") == before);
  append_line(dir / "p" / "runs" / "tiny" / "metrics.jsonl", R"({"iter":50,"loss":0.1})");
  CHECK(results_fingerprint(dir / "p") != before);
}

TEST_CASE("results model: the loader reads on a worker thread and hands the snapshot once") {
  test::ScratchDir dir("results-loader");
  test::make_results_project(dir / "p");
  ResultsLoader loader(dir / "p");
  CHECK_FALSE(loader.take().has_value());
  loader.start();
  CHECK(loader.busy());  // until the snapshot is taken, done or not
  std::optional<ResultsSnapshot> s;
  while (!(s = loader.take())) std::this_thread::yield();
  CHECK(s->runs.size() == 1);
  CHECK_FALSE(loader.take().has_value());
  CHECK_FALSE(loader.busy());
}
