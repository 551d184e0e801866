// `excap bench prelabel-effort` and `excap bench active-learning` at tiny
// sizes: their JSON agrees with counts made here directly from the sample's
// truth and the stored suggestions, the curves have every requested K for
// every seed and strategy, and uncertainty order picks the frames the stored
// scores rank first.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "bench/active_learning.h"
#include "bench/prelabel_effort.h"
#include "media/imageio.h"
#include "store/prelabel.h"
#include "store/project.h"
#include "test_support.h"

using namespace excap;

namespace {

SynthOptions tiny_sample(int patients) {
  SynthOptions s;
  s.patients = patients;
  s.seconds = 4;
  s.size = 64;
  return s;
}

trainer::LabelModelOptions tiny_model() {
  trainer::LabelModelOptions m;
  m.size = 32;
  m.iters = 3;
  m.batch = 2;
  m.threads = 2;
  return m;
}

// Frame id -> truth CD, straight from the sample's truth.json.
std::map<std::string, int> truth_cds(const fs::path& truth_dir) {
  std::map<std::string, int> out;
  const nlohmann::json j = read_json_file(truth_dir / "truth.json");
  for (auto it = j.at("frames").begin(); it != j.at("frames").end(); ++it)
    out[it.key()] = it.value().is_object() ? it.value().at("cd").get<int>() : it.value().get<int>();
  return out;
}

double score_of(const Project& p, const std::string& run, const std::string& frame) {
  const auto s = load_suggestion(p, run, frame);
  REQUIRE_MESSAGE(s, std::string(run + " has no suggestion for " + frame));
  return uncertainty_score(*s);
}

}  // namespace

TEST_CASE("bench prelabel-effort: per-frame counts match the truth and the stored pre-labels") {
  test::ScratchDir dir("bench_prelabel_effort");
  trainer::PrelabelEffortOptions o;
  o.out = dir / "out";
  o.synth = tiny_sample(2);
  o.model = tiny_model();
  const trainer::PrelabelEffortResult r = trainer::bench_prelabel_effort(o, {});
  const nlohmann::json j = read_json_file(dir / "out/prelabel_effort.json");
  const fs::path truth_dir = dir / "out/sample/truth";
  const auto cds = truth_cds(truth_dir);
  const Project p = Project::open(dir / "out/sample/project");

  // Every frame of the held-out patient, and only those, is compared.
  std::vector<std::string> held_out;
  for (const auto& f : p.load_frames())
    if (f.patient == j.at("held_out_patients").at(0).get<std::string>()) held_out.push_back(f.id);
  REQUIRE(!held_out.empty());
  REQUIRE(j.at("frames").size() == held_out.size());
  CHECK(j.at("labeled_frames").get<int>() + held_out.size() == p.load_frames().size());

  long long scratch_total = 0, pre_total = 0;
  int cd_wrong = 0;
  for (const auto& f : j.at("frames")) {
    const std::string id = f.at("frame");
    CHECK(std::find(held_out.begin(), held_out.end(), id) != held_out.end());
    CHECK_FALSE(p.load_final(id));  // never labeled, so never trained on
    const cv::Mat truth = read_mask(truth_dir / (id + ".png"));
    const cv::Mat suggested = read_mask(suggestion_mask_path(p, "prelabel-effort", id));
    // From scratch every field-of-view pixel is unlabeled: all must be painted.
    CHECK(f.at("scratch_pixels").get<long long>() == cv::countNonZero(truth));
    CHECK(f.at("scratch_pixels").get<long long>() > 0);
    CHECK(f.at("prelabel_pixels").get<long long>() ==
          cv::countNonZero((suggested != truth) & (truth != 0)));
    CHECK(f.at("truth_cd").get<int>() == cds.at(id));
    CHECK(f.at("suggested_cd").get<int>() == load_suggestion(p, "prelabel-effort", id)->cd);
    scratch_total += f.at("scratch_pixels").get<long long>();
    pre_total += f.at("prelabel_pixels").get<long long>();
    if (f.at("suggested_cd") != f.at("truth_cd")) ++cd_wrong;
  }
  const auto& s = j.at("summary");
  CHECK(s.at("scratch").at("total").get<long long>() == scratch_total);
  CHECK(s.at("prelabel").at("total").get<long long>() == pre_total);
  CHECK(s.at("ratio").get<double>() == doctest::Approx(double(pre_total) / scratch_total));
  CHECK(s.at("scratch").at("mean").get<double>() ==
        doctest::Approx(double(scratch_total) / held_out.size()));
  CHECK(s.at("cd_scratch").get<int>() == static_cast<int>(held_out.size()));
  CHECK(s.at("cd_prelabel").get<int>() == cd_wrong);
  CHECK(r.prelabel.total == pre_total);
  CHECK(trainer::format_prelabel_effort(o, r).find("pixels to change per frame") !=
        std::string::npos);
}

TEST_CASE("bench prelabel-effort: the median and the empty mask") {
  CHECK(trainer::effort_stats({5, 1, 3}).median == 3);
  CHECK(trainer::effort_stats({4, 1, 3, 10}).median == 3.5);
  CHECK(trainer::effort_stats({4, 1, 3, 10}).total == 18);
  cv::Mat fov = cv::Mat::zeros(4, 4, CV_8UC1);
  fov(cv::Rect(1, 1, 2, 2)).setTo(255);
  const cv::Mat empty = trainer::empty_start_mask(fov);
  CHECK(cv::countNonZero(empty == 255) == 4);
  CHECK(cv::countNonZero(empty == 0) == 12);
  cv::Mat truth = cv::Mat::zeros(4, 4, CV_8UC1);
  truth(cv::Rect(1, 1, 2, 2)).setTo(3);
  truth.at<std::uint8_t>(0, 0) = 7;  // outside the field of view: never counted
  CHECK(trainer::pixels_to_change(empty, truth, fov) == 4);
  CHECK(trainer::pixels_to_change(truth, truth, fov) == 0);
}

TEST_CASE("bench active-learning: every K per seed and strategy and uncertainty picks the top") {
  test::ScratchDir dir("bench_active_learning");
  trainer::ActiveLearningOptions o;
  o.out = dir / "out";
  o.synth = tiny_sample(3);
  o.seeds = 2;
  o.steps = {2, 4, 6};
  o.model = tiny_model();
  const trainer::ActiveLearningResult r = trainer::bench_active_learning(o, {});
  const nlohmann::json j = read_json_file(dir / "out/active_learning.json");
  const Project p = Project::open(dir / "out/sample/project");
  std::set<std::string> pool, test;
  for (const auto& f : p.load_frames()) {
    const bool is_test = f.patient == j.at("test_patients").at(0).get<std::string>();
    (is_test ? test : pool).insert(f.id);
  }
  CHECK(j.at("pool_frames").get<std::size_t>() == pool.size());
  CHECK(j.at("test_frames").get<std::size_t>() == test.size());

  REQUIRE(j.at("curves").size() == 4);
  std::map<int, std::map<std::string, std::vector<std::string>>> chosen;  // seed -> strategy
  for (const auto& c : j.at("curves")) {
    const auto& pts = c.at("points");
    REQUIRE(pts.size() == o.steps.size());
    std::vector<std::string> labeled;
    for (std::size_t i = 0; i < pts.size(); ++i) {
      const auto& pt = pts[i];
      CHECK(pt.at("labeled").get<int>() == o.steps[i]);
      CHECK(pt.at("test_frames").get<std::size_t>() == test.size());
      const auto added = pt.at("added").get<std::vector<std::string>>();
      std::set<std::string> unlabeled = pool;
      for (const auto& f : labeled) unlabeled.erase(f);
      for (const auto& f : added) CHECK(unlabeled.count(f) == 1);  // new pool frames only
      if (c.at("strategy") == "uncertainty" && i > 0) {
        // The added frames are those the previous model's stored scores rank first.
        const std::string by = pt.at("chosen_by");
        CHECK(by == pts[i - 1].at("run").get<std::string>());
        double lowest_added = 2, highest_left = -1;
        for (const auto& f : unlabeled) {
          const double s = score_of(p, by, f);
          if (std::find(added.begin(), added.end(), f) != added.end())
            lowest_added = std::min(lowest_added, s);
          else
            highest_left = std::max(highest_left, s);
        }
        CHECK(lowest_added >= highest_left);
      }
      labeled.insert(labeled.end(), added.begin(), added.end());
      CHECK(labeled.size() == static_cast<std::size_t>(o.steps[i]));
    }
    chosen[c.at("seed").get<int>()][c.at("strategy").get<std::string>()] = labeled;
  }
  bool differ = false;
  for (const auto& [seed, by] : chosen) {
    REQUIRE(by.size() == 2);
    const auto &u = by.at("uncertainty"), &x = by.at("random");
    // Both start from the seed's shared random seed set.
    CHECK(std::equal(u.begin(), u.begin() + o.steps[0], x.begin()));
    differ = differ ||
             std::set<std::string>(u.begin(), u.end()) != std::set<std::string>(x.begin(), x.end());
  }
  CHECK(differ);

  // The summary is the mean over seeds of the curves' values, with every K.
  REQUIRE(j.at("summary").size() == 2);
  for (const auto& s : j.at("summary")) {
    CHECK(s.at("labeled").get<std::vector<int>>() == o.steps);
    for (std::size_t k = 0; k < o.steps.size(); ++k) {
      double sum = 0;
      for (const auto& c : j.at("curves"))
        if (c.at("strategy") == s.at("strategy")) sum += c.at("points")[k].at("mIoU").get<double>();
      CHECK(s.at("mIoU_mean")[k].get<double>() == doctest::Approx(sum / o.seeds));
    }
  }
  const cv::Mat plot = read_frame(r.plot);
  CHECK(plot.cols > 0);
  CHECK(fs::exists(r.plot_cd));
}

TEST_CASE("bench active-learning: bad steps are refused before anything is written") {
  test::ScratchDir dir("bench_active_learning_bad");
  std::string out;
  const std::string target = (dir / "out").string();
  CHECK(test::run_command({test::built_binary("excap"), "bench", "active-learning", "--out", target,
                           "--steps", "8,4"},
                          &out) != 0);
  CHECK_MESSAGE(out.find("--steps") != std::string::npos, out);
  CHECK_MESSAGE(out.find("increasing") != std::string::npos, out);
  CHECK_FALSE(fs::exists(dir / "out"));
}
