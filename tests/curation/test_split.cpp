#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "common/error.h"
#include "curation/adjudication.h"
#include "curation/assign.h"
#include "curation/split.h"
#include "support/project_builder.h"

using namespace excap;

namespace {

// Random data of a given shape: n items, g groups (0 = ungrouped), CD
// proportions p. Group sizes are uneven on purpose.
std::vector<SplitItem> make_items(int n, int groups, std::vector<double> p, std::uint64_t seed) {
  SeededRng rng(seed);
  std::vector<SplitItem> items;
  for (int i = 0; i < n; ++i) {
    SplitItem it;
    it.id = "f" + std::to_string(i);
    if (groups > 0) {
      // Skewed: low group ids are more likely (squared uniform).
      const double u = rng.uniform01();
      it.group = "g" + std::to_string(static_cast<int>(u * u * groups));
    }
    double r = rng.uniform01(), acc = 0;
    it.stratum = static_cast<int>(p.size()) - 1;
    for (std::size_t c = 0; c < p.size(); ++c)
      if (r < (acc += p[c])) {
        it.stratum = static_cast<int>(c);
        break;
      }
    items.push_back(it);
  }
  return items;
}

struct Check {
  int subsets;
  std::vector<std::vector<int>> counts;  // [subset][stratum]
  std::vector<int> sizes;
};

Check check_partition(const std::vector<SplitItem>& items, const std::vector<int>& where, int S,
                      int K) {
  Check c{S, std::vector<std::vector<int>>(S, std::vector<int>(K, 0)), std::vector<int>(S, 0)};
  REQUIRE(where.size() == items.size());
  std::map<std::string, int> group_subset;
  for (std::size_t i = 0; i < items.size(); ++i) {
    REQUIRE(where[i] >= 0);  // every item in exactly one subset
    REQUIRE(where[i] < S);
    ++c.counts[where[i]][items[i].stratum];
    ++c.sizes[where[i]];
    if (!items[i].group.empty()) {
      auto [it, fresh] = group_subset.emplace(items[i].group, where[i]);
      CHECK_MESSAGE(it->second == where[i], "group " << items[i].group << " spans subsets");
    }
  }
  for (int s = 0; s < S; ++s) CHECK(c.sizes[s] > 0);
  return c;
}

}  // namespace

TEST_CASE("split property: ungrouped stratified splits are exact up to rounding") {
  int cases = 0;
  for (std::uint64_t seed = 1; seed <= 60; ++seed)
    for (int n : {12, 47, 200, 466})
      for (auto ratios :
           std::vector<std::vector<double>>{{0.8, 0.1, 0.1}, {0.7, 0.3}, {0.6, 0.2, 0.2}}) {
        const std::vector<double> p{0.6, 0.3, 0.1};
        auto items = make_items(n, 0, p, seed * 1000 + n);
        std::vector<int> n_c(3, 0);
        for (const auto& it : items) ++n_c[it.stratum];
        bool feasible = true;
        for (int c = 0; c < 3; ++c)
          if (n_c[c] > 0 && n_c[c] < static_cast<int>(ratios.size())) feasible = false;
        SplitRequest req;
        req.ratios = ratios;
        req.num_strata = 3;
        req.seed = seed;
        if (!feasible) {
          CHECK_THROWS_AS(split_items(items, req), Error);
          continue;
        }
        const auto where = split_items(items, req);
        CHECK(where == split_items(items, req));  // reproducible
        const int S = static_cast<int>(ratios.size());
        Check c = check_partition(items, where, S, 3);
        for (int s = 0; s < S; ++s) {
          CHECK(std::abs(c.sizes[s] - ratios[s] * n) < 1.0 + (s == 0 ? S - 1 : 0));
          for (int k = 0; k < 3; ++k)
            CHECK_MESSAGE(std::abs(c.counts[s][k] - ratios[s] * n_c[k]) < 1.0 + 1e-9,
                          "seed " << seed << " n " << n << " subset " << s << " class " << k);
        }
        ++cases;
      }
  CHECK(cases > 500);
}

TEST_CASE("split: 466 frames at 0.8/0.1/0.1 give the paper's 372/47/47") {
  auto items = make_items(466, 0, {0.5, 0.3, 0.2}, 7);
  SplitRequest req;
  req.num_strata = 3;
  Check c = check_partition(items, split_items(items, req), 3, 3);
  CHECK(c.sizes == std::vector<int>{372, 47, 47});
}

TEST_CASE("split property: grouped splits never split a group and stay near the proportions") {
  double worst = 0;
  int cases = 0;
  for (std::uint64_t seed = 1; seed <= 40; ++seed)
    for (int groups : {6, 20, 60})
      for (int n : {150, 500}) {
        auto items = make_items(n, groups, {0.6, 0.3, 0.1}, seed * 7919 + groups);
        SplitRequest req;
        req.num_strata = 3;
        req.seed = seed;
        std::vector<int> where;
        try {
          where = split_items(items, req);
        } catch (const Error& e) {
          // Only a rare class in too few groups (or too few groups) may be refused.
          CHECK(std::string(e.what()).find("subsets") != std::string::npos);
          continue;
        }
        Check c = check_partition(items, where, 3, 3);
        ++cases;
        if (groups >= 60) {  // many small groups: close to the targets
          std::vector<int> n_c(3, 0);
          for (const auto& it : items) ++n_c[it.stratum];
          for (int s = 0; s < 3; ++s) {
            const double share = double(c.sizes[s]) / n;
            CHECK(std::abs(share - req.ratios[s]) < 0.05);
            for (int k = 0; k < 3; ++k) {
              const double dev = std::abs(double(c.counts[s][k]) / c.sizes[s] - double(n_c[k]) / n);
              worst = std::max(worst, dev);
              CHECK(dev < 0.12);
            }
          }
        }
      }
  CHECK(cases > 150);
  MESSAGE("worst CD share deviation with 60 groups: " << worst);
}

TEST_CASE("split: the grouped search is not worse than a random grouped split") {
  // Cost of CD share deviation, ours vs. the best of 20 random group placements.
  auto items = make_items(400, 40, {0.5, 0.35, 0.15}, 3);
  SplitRequest req;
  req.num_strata = 3;
  req.seed = 5;
  auto dev = [&](const std::vector<int>& where) {
    std::vector<std::vector<double>> cnt(3, std::vector<double>(3, 0));
    std::vector<double> n_c(3, 0), sz(3, 0);
    for (std::size_t i = 0; i < items.size(); ++i)
      ++cnt[where[i]][items[i].stratum], ++n_c[items[i].stratum], ++sz[where[i]];
    double d = 0;
    for (int s = 0; s < 3; ++s)
      for (int k = 0; k < 3; ++k) d += std::pow(cnt[s][k] - req.ratios[s] * n_c[k], 2) / n_c[k];
    return d;
  };
  const double ours = dev(split_items(items, req));
  SeededRng rng(11);
  double best_random = 1e18;
  for (int t = 0; t < 20; ++t) {
    std::map<std::string, int> g;
    std::vector<int> where;
    for (const auto& it : items) {
      if (!g.count(it.group)) {
        const double u = rng.uniform01();
        g[it.group] = u < 0.8 ? 0 : u < 0.9 ? 1 : 2;
      }
      where.push_back(g[it.group]);
    }
    best_random = std::min(best_random, dev(where));
  }
  CHECK(ours <= best_random);
}

TEST_CASE("split: impossible requests are refused with a clear message") {
  auto items = make_items(30, 0, {1.0}, 1);
  SplitRequest req;
  req.num_strata = 3;
  CHECK_NOTHROW(split_items(items, req));
  req.ratios = {0.8, 0.1};
  CHECK_THROWS_WITH_AS(split_items(items, req), doctest::Contains("sum to 1"), Error);
  req.ratios = {0.5, 0.5, 0.0};
  CHECK_THROWS_WITH_AS(split_items(items, req), doctest::Contains("positive"), Error);
  req.ratios = {1.0};
  CHECK_THROWS_WITH_AS(split_items(items, req), doctest::Contains("2 or 3"), Error);
  req.ratios = {0.8, 0.1, 0.1};
  // A CD with 2 frames cannot reach 3 subsets.
  items[0].stratum = 2;
  items[1].stratum = 2;
  req.stratum_names = {"clear", "blur", "invisible"};
  CHECK_THROWS_WITH_AS(split_items(items, req), doctest::Contains("'invisible' has 2 frame"),
                       Error);
  req.stratify = false;
  CHECK_NOTHROW(split_items(items, req));
  // Two patients cannot fill three subsets.
  for (std::size_t i = 0; i < items.size(); ++i) items[i].group = i % 2 ? "P1" : "P2";
  CHECK_THROWS_WITH_AS(split_items(items, req), doctest::Contains("at least 3 groups"), Error);
  // Too few frames for the smallest ratio.
  auto few = make_items(3, 0, {1.0}, 1);
  req.ratios = {0.98, 0.01, 0.01};
  CHECK_NOTHROW(split_items(few, req));  // ceil convention: 1, 1, 1
  few.pop_back();
  CHECK_THROWS_AS(split_items(few, req), Error);
  CHECK_THROWS_AS(split_items({}, req), Error);
}

TEST_CASE("split: frames without a clip (imported images) raise no clip-leak warning") {
  test::CurationProject cp("split-no-clip");
  cp.add_frames(20, 20, 20);
  std::vector<Frame> frames = cp.project().load_frames();
  for (auto& f : frames) f.clip = f.video = "";  // as excap import-images records them
  cp.project().save_frames(frames);
  const cv::Mat m = test::planted_mask(32);
  int i = 0;
  for (const auto& f : frames) {
    FinalLabel fl;
    fl.frame = f.id;
    fl.cd = i++ % 2;
    fl.source = "imported";
    fl.expert = "auto";
    fl.time = now_iso8601();
    write_png_atomic(cp.project().final_mask_path(f.id), m);
    cp.project().save_final(fl);
  }
  SplitOptions opt;
  opt.name = "s";
  opt.ratios = {0.6, 0.2, 0.2};
  const Split s = make_split(cp.project(), opt, {});
  std::size_t n = 0;
  for (const auto& [name, ids] : s.subsets) n += ids.size();
  CHECK(n == 20);
  for (const auto& w : s.warnings) CHECK_MESSAGE(w.find("clip(s)") == std::string::npos, w);
}

TEST_CASE("split on a project: splits/NAME.json, statistics, clip warning, no overwrite") {
  test::CurationProject cp("split-project");
  cp.add_frames(60, 6, 12);  // 6 patients, 12 clips; clip i%12 lies in patient i%6
  const cv::Mat m = test::planted_mask(32);
  int i = 0;
  for (const auto& f : cp.project().load_frames()) {
    FinalLabel fl;
    fl.frame = f.id;
    fl.cd = (i++ / 6) % 2 == 0 ? 1 : 0;  // 5 blur frames in every patient
    fl.source = "agreed";
    fl.expert = "auto";
    fl.time = now_iso8601();
    write_png_atomic(cp.project().final_mask_path(f.id), m);
    cp.project().save_final(fl);
  }
  const int nt = cp.project().meta().schema.num_tissue();
  FinalHistogram hist = [&](const std::string& id) {
    return mask_class_histogram(read_mask(cp.project().final_mask_path(id)), nt);
  };
  SplitOptions opt;
  opt.name = "main";
  opt.ratios = {0.5, 0.25, 0.25};
  opt.group = "patient";
  Split s = make_split(cp.project(), opt, hist);
  save_split(cp.project(), s);
  Split back = load_split(cp.project(), "main");
  CHECK(back.subsets == s.subsets);
  std::map<std::string, std::string> patient_subset;
  std::set<std::string> all;
  std::map<std::string, Frame> frames;
  for (const auto& f : cp.project().load_frames()) frames[f.id] = f;
  for (const auto& [name, ids] : back.subsets)
    for (const auto& id : ids) {
      CHECK(all.insert(id).second);
      auto [it, fresh] = patient_subset.emplace(frames[id].patient, name);
      CHECK(it->second == name);
    }
  CHECK(all.size() == 60);
  REQUIRE(back.stats.size() == 4);
  CHECK(back.stats.back().name == "all");
  CHECK(back.stats.back().frames == 60);
  CHECK(back.stats.back().patients == 6);
  CHECK(back.stats[0].tissue_share.size() == 8);
  CHECK(back.stats[0].tissue_share[cecd::kClearTissue] > 0.5);
  const std::string table = split_table(back);
  CHECK(table.find("train") != std::string::npos);
  CHECK(table.find("invisible") != std::string::npos);
  CHECK(table.find("lesion") != std::string::npos);
  CHECK_THROWS_WITH_AS(save_split(cp.project(), s), doctest::Contains("exists"), Error);
  CHECK_NOTHROW(save_split(cp.project(), s, true));

  // --group none: the paper's mode; clips end up spanning subsets, and it says so.
  opt.name = "frames";
  opt.group = "none";
  opt.ratios = {0.8, 0.2};
  Split n = make_split(cp.project(), opt, hist);
  bool warned = false;
  for (const auto& w : n.warnings)
    warned |= w.find("clip(s) have frames in more than one") != std::string::npos;
  CHECK(warned);
  CHECK(n.subsets["train"].size() == 48);
  // Stratified: 30 blur frames -> 24/6 exactly.
  CHECK(n.stats[0].cd_counts[1] == 24);
  // Unknown keys are refused.
  opt.group = "hospital";
  CHECK_THROWS_AS(make_split(cp.project(), opt, hist), Error);
}
