#include <doctest/doctest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.h"
#include "curation/agreement.h"
#include "curation/assign.h"
#include "report/agreement_report.h"
#include "report/plots.h"
#include "support/project_builder.h"

using namespace excap;

TEST_CASE("kappa: hand-computed cases") {
  // Two classes: confusion [[1,1],[0,2]]: po = 3/4, pe = 2/4*1/4 + 2/4*3/4 = 1/2.
  CHECK(cohen_kappa({0, 0, 1, 1}, {0, 1, 1, 1}, 2) == doctest::Approx(0.5));
  // The textbook 50-item table: yes/yes 20, yes/no 5, no/yes 10, no/no 15 -> 0.4.
  CHECK(cohen_kappa(std::vector<long long>{20, 5, 10, 15}, 2) == doctest::Approx(0.4));
  // Perfect agreement, and agreement exactly at chance level.
  CHECK(cohen_kappa({0, 1, 2, 2}, {0, 1, 2, 2}, 3) == doctest::Approx(1.0));
  CHECK(cohen_kappa(std::vector<long long>{1, 1, 1, 1}, 2) == doctest::Approx(0.0));
  // Quadratic weights, 3 ordered classes: rows a=[1,1,1], cols b=[1,0,2];
  // sum(w*O) = 1, sum(w*E) = 15/3 = 5 -> 1 - 1/5.
  CHECK(cohen_kappa({0, 1, 2}, {0, 2, 2}, 3, KappaWeights::Quadratic) == doctest::Approx(0.8));
  // Linear: sum(w*O) = 1, sum(w*E) = (2*1*2 + 1*1*1 + 1*1*2 + 2*1*1)/3 = 3 -> 2/3.
  CHECK(cohen_kappa({0, 1, 2}, {0, 2, 2}, 3, KappaWeights::Linear) == doctest::Approx(2.0 / 3));
  // Undefined: nothing rated, or both raters used one same class.
  CHECK(std::isnan(cohen_kappa(std::vector<long long>(9, 0), 3)));
  CHECK(std::isnan(cohen_kappa({1, 1, 1}, {1, 1, 1}, 3)));
  CHECK_THROWS_AS(cohen_kappa({0, 3}, {0, 1}, 3), Error);
  CHECK_THROWS_AS(cohen_kappa({0, 1}, {0}, 3), Error);
}

TEST_CASE("kappa: equals scikit-learn's cohen_kappa_score") {
  const std::string py = test::sklearn_python();
  if (py.empty()) return;
  SeededRng rng(2024);
  std::ostringstream script, expect;
  script << "from sklearn.metrics import cohen_kappa_score as k\n";
  std::vector<double> ours;
  for (int t = 0; t < 12; ++t) {
    const int n = 5 + static_cast<int>(rng.below(60));
    std::vector<int> a(n), b(n);
    for (int i = 0; i < n; ++i) {
      a[i] = static_cast<int>(rng.below(3));
      // Correlated raters: b copies a most of the time.
      b[i] = rng.uniform01() < 0.6 ? a[i] : static_cast<int>(rng.below(3));
    }
    a[0] = 0, b[0] = 1;  // never degenerate
    auto list = [](const std::vector<int>& v) {
      std::string s = "[";
      for (int x : v) s += std::to_string(x) + ",";
      return s + "]";
    };
    for (const char* w : {"None", "'linear'", "'quadratic'"}) {
      script << "print(repr(float(k(" << list(a) << "," << list(b)
             << ",labels=[0,1,2],weights=" << w << "))))\n";
      const KappaWeights kw = w[0] == 'N'   ? KappaWeights::None
                              : w[1] == 'l' ? KappaWeights::Linear
                                            : KappaWeights::Quadratic;
      ours.push_back(cohen_kappa(a, b, 3, kw));
    }
  }
  test::ScratchDir dir("kappa-sklearn");
  atomic_write(dir / "k.py", script.str());
  std::string out;
  REQUIRE(test::run_command({py, (dir / "k.py").string()}, &out) == 0);
  std::istringstream in(out);
  for (double v : ours) {
    double ref = 0;
    REQUIRE(static_cast<bool>(in >> ref));
    CHECK(v == doctest::Approx(ref).epsilon(1e-12));
  }
}

TEST_CASE("IoU and Dice on planted masks") {
  cv::Mat a(10, 10, CV_8UC1, cv::Scalar(1)), b(10, 10, CV_8UC1, cv::Scalar(1));
  a(cv::Rect(0, 0, 4, 10)).setTo(3);   // A: lesion 40 px
  b(cv::Rect(0, 0, 6, 10)).setTo(3);   // B: lesion 60 px, overlap 40
  b(cv::Rect(9, 9, 1, 1)).setTo(255);  // one unlabeled pixel is dropped
  ClassAreas r = compare_masks(a, b, 8, 255);
  CHECK(r.unlabeled == 1);
  CHECK(r.compared == 99);
  auto iou = r.iou(), dice = r.dice();
  CHECK(iou[3] == doctest::Approx(40.0 / 60));
  CHECK(dice[3] == doctest::Approx(80.0 / 100));
  CHECK(iou[1] == doctest::Approx(39.0 / 59));  // A 59 (one dropped), B 39
  CHECK(dice[1] == doctest::Approx(78.0 / 98));
  CHECK(std::isnan(iou[0]));  // absent from both
  CHECK(r.mean_iou() == doctest::Approx((40.0 / 60 + 39.0 / 59) / 2));
  CHECK(r.pixel_agreement() == doctest::Approx(79.0 / 99));
  // Summed over frames, not averaged: a second, identical frame.
  ClassAreas sum = r;
  sum.add(compare_masks(a, a, 8, 255));
  CHECK(sum.iou()[3] == doctest::Approx((40.0 + 40) / (60 + 40)));
  CHECK_THROWS_AS(compare_masks(a, cv::Mat(5, 5, CV_8UC1), 8, 255), Error);
}

TEST_CASE("CD / mask consistency rules") {
  const LabelSchema s = cecd_schema();
  cv::Mat clear = test::planted_mask(40);
  auto rules_of = [&](std::optional<int> cd, const cv::Mat& m) {
    std::vector<std::string> r;
    for (const auto& f : check_consistency("f", "a", cd, m, s)) r.push_back(f.rule);
    return r;
  };
  CHECK(rules_of(cecd::kClear, clear).empty());
  auto has = [](const std::vector<std::string>& v, const std::string& x) {
    return std::find(v.begin(), v.end(), x) != v.end();
  };
  CHECK(has(rules_of(cecd::kInvisible, clear), "invisible-but-clear"));
  CHECK(has(rules_of(cecd::kBlur, clear), "blur-but-sharp"));
  cv::Mat covered = clear.clone();
  covered.setTo(cecd::kBubbleInvisible, clear == cecd::kClearTissue);
  CHECK(has(rules_of(cecd::kClear, covered), "clear-but-covered"));
  CHECK(rules_of(cecd::kInvisible, covered).empty());
  cv::Mat blurred = clear.clone();
  blurred.setTo(cecd::kBlurredTissue, clear == cecd::kClearTissue);
  CHECK(has(rules_of(cecd::kClear, blurred), "clear-but-blurred"));
  CHECK(rules_of(cecd::kBlur, blurred).empty());
  cv::Mat partial = clear.clone();
  partial(cv::Rect(0, 0, 5, 5)).setTo(255);
  CHECK(has(rules_of(cecd::kClear, partial), "incomplete-mask"));
  cv::Mat bad = clear.clone();
  bad.at<std::uint8_t>(3, 3) = 9;
  CHECK(has(rules_of(cecd::kClear, bad), "bad-values"));
  CHECK(has(rules_of(std::nullopt, clear), "no-cd"));
  CHECK(has(rules_of(cecd::kClear, cv::Mat()), "missing-mask"));
}

TEST_CASE("agreement on a project: pairs, ranked expert queue, report files") {
  test::CurationProject cp("agreement-project");
  cp.add_frames(6);
  cp.assign_all({"a", "b"});
  const cv::Mat m = test::planted_mask(32);
  // f000: identical; f001: lesion moved; f002: CD differs; f003: B incomplete;
  // f004: only A labeled; f005: identical but CD 'invisible' on clear tissue.
  cp.label("a", "f000", 0, m);
  cp.label("b", "f000", 0, m);
  cp.label("a", "f001", 0, m);
  cp.label("b", "f001", 0, test::planted_mask(32, 1));
  cp.label("a", "f002", 0, m);
  cp.label("b", "f002", 2, m);
  cp.label("a", "f003", 1, m);
  cv::Mat part = m.clone();
  part(cv::Rect(0, 0, 8, 8)).setTo(255);
  cp.label("b", "f003", 1, part);
  cp.label("a", "f004", 0, m);
  cp.label("a", "f005", 2, m);
  cp.label("b", "f005", 2, m);
  AgreementOptions opt;
  opt.auto_accept_iou = 0.95;
  AgreementReport r = compute_agreement(cp.project(), opt);
  CHECK(r.frames_assigned == 6);
  CHECK(r.frames_waiting_for_labels == 1);
  REQUIRE(r.pairs.size() == 1);
  const PairAgreement& p = r.pairs[0];
  CHECK(p.a == "a");
  CHECK(p.cd_frames == 5);
  // CD pairs: (0,0) (0,0) (0,2) (1,1) (2,2).
  CHECK(p.cd_confusion == std::vector<long long>{2, 0, 1, 0, 1, 0, 0, 0, 1});
  CHECK(p.kappa == doctest::Approx(cohen_kappa({0, 0, 0, 1, 2}, {0, 0, 2, 1, 2}, 3)));
  CHECK(p.mask_frames == 5);
  // Ranked: f002 (CD differs) first, then f001 (masks differ).
  REQUIRE(r.expert_queue.size() == 2);
  CHECK(r.expert_queue[0] == "f002");
  CHECK(r.expert_queue[1] == "f001");
  int acceptable = 0;
  for (const auto& f : r.frames) acceptable += f.auto_acceptable;
  CHECK(acceptable == 2);  // f000, f005
  bool flagged = false;
  for (const auto& f : r.flags) flagged |= f.frame == "f005" && f.rule == "invisible-but-clear";
  CHECK(flagged);

  const fs::path out = cp.root() / "reports" / "agreement";
  write_agreement_report(cp.project(), r, out);
  for (const char* f : {"agreement.json", "agreement.md", "pair1_cd_confusion.png",
                        "pair1_class_agreement.png", "worst_frames_heatmap.png"})
    CHECK_MESSAGE(fs::exists(out / f), f);
  auto j = read_json_file(out / "agreement.json");
  CHECK(j["pairs"][0]["kappa"].get<double>() == doctest::Approx(p.kappa));
  CHECK(j["expert_queue"][0] == "f002");
  CHECK(read_frame(out / "pair1_cd_confusion.png").cols > 100);
  const std::string md = read_file(out / "agreement.md");
  CHECK(md.find("f002") != std::string::npos);
  CHECK(md.find("invisible-but-clear") != std::string::npos);
}

TEST_CASE("report plots: charts are drawn with the requested size") {
  plots::ChartStyle st;
  st.width = 640, st.height = 360;
  cv::Mat bars = plots::bar_chart("t", {"x", "long class name"},
                                  {{"IoU", {0.5, std::nan("")}}, {"Dice", {0.7, 0.2}}}, st);
  CHECK(bars.size() == cv::Size(640, 360));
  CHECK(bars.type() == CV_8UC3);
  cv::Mat lines = plots::line_chart("loss", {{"train", {0, 1, 2, 3}, {1.0, 0.7, 0.5, 0.45}}}, st);
  CHECK(lines.size() == cv::Size(640, 360));
  cv::Mat cm = plots::confusion_matrix_image("cm", {"a", "b"}, {3, 1, 0, 4});
  CHECK(!cm.empty());
  // Not blank: something besides white was drawn.
  cv::Mat grey;
  cv::cvtColor(cm, grey, cv::COLOR_BGR2GRAY);
  CHECK(cv::countNonZero(grey < 200) > 100);
  cv::Mat mont = plots::montage({cm, bars}, {"one", "two"}, 2, 200);
  CHECK(mont.cols == 2 * 200 + 3 * 8);
}
