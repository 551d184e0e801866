#include "bench/active_learning.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "curation/assign.h"
#include "media/imageio.h"
#include "report/plots.h"
#include "store/prelabel.h"

namespace excap::trainer {

namespace {

const char* const kUncertainty = "uncertainty";
const char* const kRandom = "random";

std::string fixed(double v, int decimals) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", decimals, v);
  return b;
}

void check_options(const ActiveLearningOptions& o) {
  validate_synth_options(o.synth);
  if (o.test_patients < 1 || o.test_patients >= o.synth.patients)
    throw Error("--test-patients", "must be 1.." + std::to_string(o.synth.patients - 1) +
                                       " (fewer than --patients), got " +
                                       std::to_string(o.test_patients));
  if (o.seeds < 1) throw Error("--seeds", "must be >= 1, got " + std::to_string(o.seeds));
  if (o.steps.size() < 2) throw Error("--steps", "needs at least two values of K");
  for (std::size_t i = 0; i < o.steps.size(); ++i)
    if (o.steps[i] < 1 || (i > 0 && o.steps[i] <= o.steps[i - 1]))
      throw Error("--steps", "must be positive and increasing");
  if (o.model.iters < 1) throw Error("--iters", "must be >= 1");
}

// The pool and the test set: every frame of the first and of the last patients.
void split_patients(const ActiveLearningOptions& o, const LabelWorld& w, ActiveLearningResult& r) {
  const auto n_pool = static_cast<std::ptrdiff_t>(w.patients.size()) - o.test_patients;
  if (n_pool < 1)
    throw Error(w.root.string(), "the sample has " + std::to_string(w.patients.size()) +
                                     " patients with frames; none is left for the pool");
  r.pool_patients.assign(w.patients.begin(), w.patients.begin() + n_pool);
  r.test_patients.assign(w.patients.begin() + n_pool, w.patients.end());
}

struct Loop {
  const ActiveLearningOptions& o;
  const LabelWorld& w;
  const BenchLog& log;
  std::vector<std::string> pool, test;
};

// Trains a fresh model on `labeled` (runs/<name>, split <name> with the fixed test set) and
// scores it on the test set.
CurvePoint train_point(const Loop& L, int seed, const std::string& name,
                       const std::vector<std::string>& labeled) {
  const auto t0 = std::chrono::steady_clock::now();
  CurvePoint p;
  p.labeled = static_cast<int>(labeled.size());
  p.run = name;
  save_frame_split(L.w, name, {{"train", labeled}, {"test", L.test}});
  train_on_split(L.w, name, name, L.o.model, static_cast<std::uint64_t>(seed));
  p.test = score_test(L.w, name, L.o.model);
  p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return p;
}

std::vector<std::string> unlabeled_of(const std::vector<std::string>& pool,
                                      const std::vector<std::string>& labeled) {
  const std::set<std::string> have(labeled.begin(), labeled.end());
  std::vector<std::string> out;
  for (const auto& f : pool)
    if (!have.count(f)) out.push_back(f);
  return out;
}

// `excap prelabel --run RUN --frames all`, then the unlabeled pool frames in the order
// `assign --order uncertainty` gives them (curation/assign.h); the first n.
std::vector<std::string> next_by_uncertainty(const Loop& L, const std::string& run,
                                             const std::vector<std::string>& unlabeled,
                                             std::size_t n) {
  prelabel_frames(L.w, run, "all", L.o.model);
  const Project p = Project::open(L.w.root);
  std::vector<QueueEntry> entries;
  for (const auto& f : unlabeled) {
    QueueEntry e{f, std::nullopt, 0, 0};
    if (auto s = load_suggestion(p, run, f)) {
      e.score = uncertainty_score(*s);
      e.cd_entropy = s->cd_entropy, e.pixel_entropy = s->pixel_entropy;
    }
    entries.push_back(std::move(e));
  }
  std::vector<std::string> out;
  for (const auto& e : order_by_uncertainty(entries)) {
    if (out.size() == n) break;
    out.push_back(e.frame);
  }
  return out;
}

void say_point(const Loop& L, const Curve& c, const CurvePoint& p) {
  if (!L.log) return;
  L.log("seed " + std::to_string(c.seed) + ", " + c.strategy + ", K=" + std::to_string(p.labeled) +
        ": test mIoU " + fixed(100 * p.test.mIoU, 1) + "%, CD accuracy " +
        fixed(100 * p.test.cd_accuracy, 1) + "% (" + fixed(p.seconds, 1) + " s)");
}

// One strategy's curve from the shared seed-set model `base`.
Curve grow(const Loop& L, int seed, const std::string& strategy, const CurvePoint& base,
           const std::vector<std::string>& random_order) {
  Curve c{seed, strategy, {base}};
  std::vector<std::string> labeled = base.added;
  for (std::size_t i = 1; i < L.o.steps.size(); ++i) {
    const auto want = static_cast<std::size_t>(L.o.steps[i]) - labeled.size();
    const std::string prev = c.points.back().run;
    std::vector<std::string> added;
    if (strategy == kUncertainty)
      added = next_by_uncertainty(L, prev, unlabeled_of(L.pool, labeled), want);
    else
      added.assign(random_order.begin() + static_cast<std::ptrdiff_t>(labeled.size()),
                   random_order.begin() + static_cast<std::ptrdiff_t>(L.o.steps[i]));
    labeled.insert(labeled.end(), added.begin(), added.end());
    CurvePoint p = train_point(
        L, seed,
        "al-s" + std::to_string(seed) + "-" + strategy + "-k" + std::to_string(L.o.steps[i]),
        labeled);
    p.added = added;
    if (strategy == kUncertainty) p.chosen_by = prev;
    say_point(L, c, p);
    c.points.push_back(std::move(p));
  }
  return c;
}

std::vector<Curve> run_seed(const Loop& L, int seed) {
  std::vector<std::string> order = L.pool;
  SeededRng rng(mix_seed(L.o.synth.seed, static_cast<std::uint64_t>(seed)));
  rng.shuffle(order);
  const std::vector<std::string> seed_set(order.begin(), order.begin() + L.o.steps.front());
  CurvePoint base = train_point(
      L, seed, "al-s" + std::to_string(seed) + "-k" + std::to_string(L.o.steps.front()), seed_set);
  base.added = seed_set;
  say_point(L, Curve{seed, "both (random seed set)", {}}, base);
  return {grow(L, seed, kUncertainty, base, order), grow(L, seed, kRandom, base, order)};
}

nlohmann::json curve_json(const Curve& c) {
  nlohmann::json points = nlohmann::json::array();
  for (const auto& p : c.points)
    points.push_back({{"labeled", p.labeled},
                      {"mIoU", p.test.mIoU},
                      {"cd_accuracy", p.test.cd_accuracy},
                      {"test_frames", p.test.frames},
                      {"run", p.run},
                      {"added", p.added},
                      {"chosen_by", p.chosen_by},
                      {"seconds", p.seconds}});
  return {{"seed", c.seed}, {"strategy", c.strategy}, {"points", points}};
}

}  // namespace

std::vector<StrategySummary> summarise_curves(const std::vector<Curve>& curves) {
  std::vector<StrategySummary> out;
  for (const std::string strategy : {kUncertainty, kRandom}) {
    StrategySummary s;
    s.strategy = strategy;
    std::map<int, std::pair<std::vector<double>, std::vector<double>>> by_k;
    for (const auto& c : curves)
      if (c.strategy == strategy)
        for (const auto& p : c.points) {
          by_k[p.labeled].first.push_back(p.test.mIoU);
          by_k[p.labeled].second.push_back(p.test.cd_accuracy);
        }
    for (const auto& [k, v] : by_k) {
      s.labeled.push_back(k);
      s.miou_mean.push_back(mean_of(v.first));
      s.miou_sd.push_back(sd_of(v.first));
      s.acc_mean.push_back(mean_of(v.second));
      s.acc_sd.push_back(sd_of(v.second));
    }
    out.push_back(std::move(s));
  }
  return out;
}

cv::Mat learning_curve_plot(const std::vector<StrategySummary>& summary, bool cd_accuracy) {
  const plots::Rgb strong[] = {{31, 119, 180}, {230, 110, 0}};
  const plots::Rgb pale[] = {{150, 190, 225}, {250, 195, 140}};
  std::vector<plots::LineSeries> series;
  for (std::size_t i = 0; i < summary.size() && i < 2; ++i) {
    const StrategySummary& s = summary[i];
    const auto& mean = cd_accuracy ? s.acc_mean : s.miou_mean;
    const auto& sd = cd_accuracy ? s.acc_sd : s.miou_sd;
    plots::LineSeries m{s.strategy + " (mean)", {}, {}, strong[i], true};
    plots::LineSeries lo{s.strategy + " - sd", {}, {}, pale[i], true};
    plots::LineSeries hi{s.strategy + " + sd", {}, {}, pale[i], true};
    for (std::size_t k = 0; k < s.labeled.size(); ++k) {
      for (auto* l : {&m, &lo, &hi}) l->x.push_back(s.labeled[k]);
      m.y.push_back(100 * mean[k]);
      lo.y.push_back(100 * (mean[k] - sd[k]));
      hi.y.push_back(100 * (mean[k] + sd[k]));
    }
    series.push_back(lo);
    series.push_back(hi);
    series.push_back(m);
  }
  plots::ChartStyle st;
  st.x_label = "labeled frames K";
  st.y_label = cd_accuracy ? "test CD accuracy (%)" : "test mIoU (%)";
  return plots::line_chart(std::string("Uncertainty order vs random: test ") +
                               (cd_accuracy ? "CD accuracy" : "mIoU") + " (mean +- sd over seeds)",
                           series, st);
}

ActiveLearningResult bench_active_learning(const ActiveLearningOptions& o, const BenchLog& log) {
  check_options(o);
  const auto t0 = std::chrono::steady_clock::now();
  const LabelWorld w = make_label_world(o.out / "sample", o.synth, log);
  ActiveLearningResult r;
  r.project = w.root;
  split_patients(o, w, r);
  Loop L{o, w, log, frames_of(w, r.pool_patients), frames_of(w, r.test_patients)};
  r.pool_frames = static_cast<int>(L.pool.size());
  r.test_frames = static_cast<int>(L.test.size());
  if (o.steps.back() > r.pool_frames)
    throw Error("--steps", "the largest K (" + std::to_string(o.steps.back()) +
                               ") exceeds the pool's " + std::to_string(r.pool_frames) +
                               " frames; use more --patients or --seconds");
  // The oracle labels everything up front: which frames a model sees is the split's choice.
  oracle_label(w, L.pool);
  oracle_label(w, L.test);
  for (int seed = 0; seed < o.seeds; ++seed)
    for (auto& c : run_seed(L, seed)) r.curves.push_back(std::move(c));
  r.summary = summarise_curves(r.curves);
  r.plot = o.out / "active_learning_miou.png";
  r.plot_cd = o.out / "active_learning_cd.png";
  write_png_atomic(r.plot, learning_curve_plot(r.summary, false));
  write_png_atomic(r.plot_cd, learning_curve_plot(r.summary, true));
  r.json = o.out / "active_learning.json";
  r.total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  write_json_atomic(r.json, active_learning_json(o, r));
  return r;
}

std::string format_active_learning(const ActiveLearningOptions& o, const ActiveLearningResult& r) {
  std::ostringstream s;
  s << "bench active-learning: " << o.model.backbone << " MTCSN, " << o.model.size << "x"
    << o.model.size << ", " << o.model.iters
    << " iterations per model, trained fresh (from scratch) at every K; pool " << r.pool_frames
    << " frames of " << r.pool_patients.size() << " patients, test " << r.test_frames
    << " frames of " << r.test_patients.size() << " other patient(s); " << o.seeds << " seeds; "
    << fixed(r.total_s, 0) << " s\n";
  s << "  test scores in %, mean +- sd over seeds\n";
  char line[200];
  std::snprintf(line, sizeof line, "  %5s  %-17s %-17s %-17s %-17s\n", "K", "mIoU uncertainty",
                "mIoU random", "CD acc uncertainty", "CD acc random");
  s << line;
  if (r.summary.size() == 2) {
    const StrategySummary &u = r.summary[0], &x = r.summary[1];
    auto cell = [](double m, double sd) { return fixed(100 * m, 1) + " +- " + fixed(100 * sd, 1); };
    for (std::size_t k = 0; k < u.labeled.size() && k < x.labeled.size(); ++k) {
      std::snprintf(
          line, sizeof line, "  %5d  %-17s %-17s %-17s %-17s\n", u.labeled[k],
          cell(u.miou_mean[k], u.miou_sd[k]).c_str(), cell(x.miou_mean[k], x.miou_sd[k]).c_str(),
          cell(u.acc_mean[k], u.acc_sd[k]).c_str(), cell(x.acc_mean[k], x.acc_sd[k]).c_str());
      s << line;
    }
  }
  s << "  figures: " << r.json.string() << "; plots: " << r.plot.string() << ", "
    << r.plot_cd.string() << "\n";
  return s.str();
}

nlohmann::json active_learning_json(const ActiveLearningOptions& o, const ActiveLearningResult& r) {
  nlohmann::json curves = nlohmann::json::array(), summary = nlohmann::json::array();
  for (const auto& c : r.curves) curves.push_back(curve_json(c));
  for (const auto& s : r.summary)
    summary.push_back({{"strategy", s.strategy},
                       {"labeled", s.labeled},
                       {"mIoU_mean", s.miou_mean},
                       {"mIoU_sd", s.miou_sd},
                       {"cd_accuracy_mean", s.acc_mean},
                       {"cd_accuracy_sd", s.acc_sd}});
  nlohmann::json settings = world_settings_json(o.synth, o.model);
  settings["seeds"] = o.seeds;
  settings["steps"] = o.steps;
  settings["training"] = "fresh: every model trains from scratch with its seed";
  settings["uncertainty"] =
      "uncertainty_score of the previous model's suggestions, ordered by "
      "order_by_uncertainty (excap assign --order uncertainty)";
  return {{"format", "excap-bench-active-learning"},
          {"version", 1},
          {"settings", settings},
          {"project", r.project.string()},
          {"pool_patients", r.pool_patients},
          {"test_patients", r.test_patients},
          {"pool_frames", r.pool_frames},
          {"test_frames", r.test_frames},
          {"curves", curves},
          {"summary", summary},
          {"seconds", r.total_s}};
}

}  // namespace excap::trainer
