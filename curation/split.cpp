#include "curation/split.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>
#include <sstream>

#include "common/error.h"
#include "common/ids.h"
#include "curation/assign.h"
#include "store/change.h"
#include "store/project.h"

namespace excap {

using nlohmann::json;

namespace {

std::vector<std::string> default_names(std::size_t n) {
  static const char* names[] = {"train", "val", "test"};
  std::vector<std::string> v;
  for (std::size_t i = 0; i < n; ++i) v.push_back(i < 3 ? names[i] : "subset" + std::to_string(i));
  return v;
}

void check_ratios(const std::vector<double>& r) {
  if (r.size() < 2 || r.size() > 3)
    throw Error("--ratios",
                "give 2 or 3 ratios (train,val[,test]), got " + std::to_string(r.size()));
  double sum = 0;
  for (double x : r) {
    if (!(x > 0)) throw Error("--ratios", "every ratio must be positive; drop a subset instead");
    sum += x;
  }
  if (std::abs(sum - 1.0) > 1e-6) {
    char b[96];
    std::snprintf(b, sizeof b, "the ratios must sum to 1, they sum to %.6g", sum);
    throw Error("--ratios", b);
  }
}

// Ungrouped: exact sizes, and per stratum counts rounded down or up.
std::vector<int> split_ungrouped(const std::vector<SplitItem>& items, const SplitRequest& req,
                                 const std::vector<std::string>& names) {
  const int S = static_cast<int>(req.ratios.size()), N = static_cast<int>(items.size());
  // scikit-learn's convention first (later subsets ceil(ratio * N), the first
  // the rest); when that leaves the first subset a whole frame or more off its
  // share, largest remainders, unless that empties a subset the convention fills.
  std::vector<int> size(S), lr(S);
  int rest = N;
  for (int s = 1; s < S; ++s)
    rest -= size[s] = static_cast<int>(std::ceil(req.ratios[s] * N - 1e-9));
  size[0] = rest;
  {
    int used = 0;
    std::vector<std::pair<double, int>> rem;
    for (int s = 0; s < S; ++s) {
      lr[s] = static_cast<int>(std::floor(req.ratios[s] * N + 1e-9));
      used += lr[s];
      rem.push_back({req.ratios[s] * N - lr[s], -s});
    }
    std::sort(rem.rbegin(), rem.rend());
    for (int i = 0; used < N; ++i, ++used) ++lr[-rem[i % S].second];
  }
  const bool conv_ok = *std::min_element(size.begin(), size.end()) >= 1;
  const bool lr_ok = *std::min_element(lr.begin(), lr.end()) >= 1;
  if ((std::abs(size[0] - req.ratios[0] * N) >= 1.0 && lr_ok) || !conv_ok) size = lr;
  for (int s = 0; s < S; ++s)
    if (size[s] < 1)
      throw Error("split", "ratio " + std::to_string(req.ratios[s]) + " of " + std::to_string(N) +
                               " frames leaves subset '" + names[s] + "' empty");
  const int K = req.stratify ? req.num_strata : 1;
  std::vector<std::vector<int>> members(K);
  for (int i = 0; i < N; ++i) members[req.stratify ? items[i].stratum : 0].push_back(i);
  // Controlled rounding: floor of ratio * n_c, then the leftover units of each
  // stratum go to distinct subsets with the most room left (Gale-Ryser greedy,
  // which succeeds whenever an exact rounding exists), ties by larger remainder.
  std::vector<std::vector<int>> cnt(K, std::vector<int>(S));
  std::vector<int> room(size), left(K);
  for (int c = 0; c < K; ++c) {
    const int n = static_cast<int>(members[c].size());
    int used = 0;
    for (int s = 0; s < S; ++s)
      used += cnt[c][s] = static_cast<int>(std::floor(req.ratios[s] * n + 1e-9));
    left[c] = n - used;
    for (int s = 0; s < S; ++s) room[s] -= cnt[c][s];
  }
  SeededRng rng(req.seed ^ 0x5EED5EEDull);
  std::vector<int> order(K);
  std::iota(order.begin(), order.end(), 0);
  rng.shuffle(order);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return left[a] > left[b]; });
  for (int c : order) {
    const int n = static_cast<int>(members[c].size());
    std::vector<int> subs(S);
    std::iota(subs.begin(), subs.end(), 0);
    rng.shuffle(subs);
    std::stable_sort(subs.begin(), subs.end(), [&](int a, int b) {
      if (room[a] != room[b]) return room[a] > room[b];
      return req.ratios[a] * n - std::floor(req.ratios[a] * n + 1e-9) >
             req.ratios[b] * n - std::floor(req.ratios[b] * n + 1e-9);
    });
    for (int u = 0; u < left[c]; ++u) {
      const int s = subs[u % S];  // room[s] may go negative only when no exact rounding exists
      ++cnt[c][s];
      --room[s];
    }
  }
  std::vector<int> out(N, -1);
  for (int c = 0; c < K; ++c) {
    std::vector<int> m = members[c];
    rng.shuffle(m);
    std::size_t k = 0;
    for (int s = 0; s < S; ++s)
      for (int j = 0; j < cnt[c][s]; ++j) out[m[k++]] = s;
  }
  return out;
}

struct Group {
  std::vector<int> items;
  std::vector<int> counts;  // per stratum
  int size() const { return static_cast<int>(items.size()); }
};

// Groups placed whole into subsets, minimising
// cost = sum (cnt - target)^2 / n_c + sum (size - target)^2 / N
// first greedily (largest groups first), then by local search.
class GroupedSplit {
 public:
  GroupedSplit(const std::vector<SplitItem>& items, const SplitRequest& req,
               std::vector<Group> groups)
      : req_(req),
        S_(static_cast<int>(req.ratios.size())),
        K_(req.stratify ? req.num_strata : 1),
        N_(static_cast<double>(items.size())),
        items_(items.size()),
        groups_(std::move(groups)),
        n_c_(K_, 0),
        cnt_(S_, std::vector<double>(K_, 0)),
        sizes_(S_, 0),
        ngroups_(S_, 0),
        zero_(K_, 0),
        where_(groups_.size(), -1) {
    for (const auto& g : groups_)
      for (int c = 0; c < K_; ++c) n_c_[c] += g.counts[c];
  }

  void place_greedily();
  bool move_pass();  // single moves; true when the cost fell
  bool swap_pass();  // pairwise swaps; true when the cost fell
  std::size_t group_count() const { return groups_.size(); }
  std::vector<int> assignment() const;

 private:
  // Subset s's share of the cost after adding sign * delta (per stratum) to it.
  double term(int s, const std::vector<int>& delta, int sign) const;
  void apply(int s, const Group& g, int sign);

  const SplitRequest& req_;
  const int S_, K_;
  const double N_;
  const std::size_t items_;
  const std::vector<Group> groups_;
  std::vector<double> n_c_;
  std::vector<std::vector<double>> cnt_;  // [subset][stratum]
  std::vector<double> sizes_;
  std::vector<int> ngroups_;
  const std::vector<int> zero_;
  std::vector<int> where_;  // subset of each group
};

double GroupedSplit::term(int s, const std::vector<int>& delta, int sign) const {
  double v = 0;
  if (req_.stratify)
    for (int c = 0; c < K_; ++c)
      if (n_c_[c] > 0) {
        const double d = cnt_[s][c] + sign * delta[c] - req_.ratios[s] * n_c_[c];
        v += d * d / n_c_[c];
      }
  int gsize = 0;
  for (int c = 0; c < K_; ++c) gsize += delta[c];
  const double d = sizes_[s] + sign * gsize - req_.ratios[s] * N_;
  return v + d * d / N_;
}

void GroupedSplit::apply(int s, const Group& g, int sign) {
  for (int c = 0; c < K_; ++c) cnt_[s][c] += sign * g.counts[c];
  sizes_[s] += sign * g.size();
  ngroups_[s] += sign;
}

void GroupedSplit::place_greedily() {
  SeededRng rng(req_.seed);
  std::vector<int> order(groups_.size());
  std::iota(order.begin(), order.end(), 0);
  rng.shuffle(order);
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return groups_[a].size() > groups_[b].size(); });
  for (int gi : order) {
    std::vector<int> subs(S_);
    std::iota(subs.begin(), subs.end(), 0);
    rng.shuffle(subs);
    int best = -1;
    double best_delta = 0;
    for (int s : subs) {
      double delta = term(s, groups_[gi].counts, +1) - term(s, zero_, +1);
      if (ngroups_[s] == 0) delta -= 1e9;  // every subset needs a group first
      if (best < 0 || delta < best_delta - 1e-12) best = s, best_delta = delta;
    }
    where_[gi] = best;
    apply(best, groups_[gi], +1);
  }
}

bool GroupedSplit::move_pass() {
  bool improved = false;
  for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
    const int from = where_[gi];
    if (ngroups_[from] <= 1) continue;
    for (int to = 0; to < S_; ++to) {
      if (to == from) continue;
      const double before = term(from, zero_, +1) + term(to, zero_, +1);
      const double after = term(from, groups_[gi].counts, -1) + term(to, groups_[gi].counts, +1);
      if (after < before - 1e-9) {
        apply(from, groups_[gi], -1);
        apply(to, groups_[gi], +1);
        where_[gi] = to;
        improved = true;
        break;
      }
    }
  }
  return improved;
}

bool GroupedSplit::swap_pass() {
  bool improved = false;
  const std::size_t G = groups_.size();
  for (std::size_t gi = 0; gi < G; ++gi)
    for (std::size_t gj = gi + 1; gj < G; ++gj) {
      const int a = where_[gi], b = where_[gj];
      if (a == b) continue;
      std::vector<int> d(K_);
      bool same = true;
      for (int c = 0; c < K_; ++c) {
        d[c] = groups_[gj].counts[c] - groups_[gi].counts[c];
        same = same && d[c] == 0;
      }
      if (same) continue;
      // a loses gi and gains gj: net +d; b the opposite.
      const double before = term(a, zero_, +1) + term(b, zero_, +1);
      const double after = term(a, d, +1) + term(b, d, -1);
      if (after < before - 1e-9) {
        apply(a, groups_[gi], -1), apply(a, groups_[gj], +1);
        apply(b, groups_[gj], -1), apply(b, groups_[gi], +1);
        std::swap(where_[gi], where_[gj]);
        improved = true;
      }
    }
  return improved;
}

std::vector<int> GroupedSplit::assignment() const {
  std::vector<int> out(items_, -1);
  for (std::size_t gi = 0; gi < groups_.size(); ++gi)
    for (int i : groups_[gi].items) out[i] = where_[gi];
  return out;
}

std::vector<int> split_grouped(const std::vector<SplitItem>& items, const SplitRequest& req,
                               std::vector<Group> groups) {
  GroupedSplit split(items, req, std::move(groups));
  split.place_greedily();
  // Local search: single moves, then pairwise swaps (quadratic: small inputs only), while the
  // cost falls.
  for (int pass = 0; pass < 100; ++pass) {
    bool improved = split.move_pass();
    if (split.group_count() <= 1500) improved = split.swap_pass() || improved;
    if (!improved) break;
  }
  return split.assignment();
}

}  // namespace

std::vector<int> split_items(const std::vector<SplitItem>& items, const SplitRequest& req) {
  check_ratios(req.ratios);
  const int S = static_cast<int>(req.ratios.size());
  const auto names =
      req.subset_names.size() == req.ratios.size() ? req.subset_names : default_names(S);
  if (items.empty()) throw Error("split", "there are no frames to split");
  const int K = req.stratify ? req.num_strata : 1;
  if (K < 1) throw Error("split", "need at least one stratum");
  for (const auto& it : items)
    if (req.stratify && (it.stratum < 0 || it.stratum >= K))
      throw Error("split", "frame '" + it.id + "' has CD " + std::to_string(it.stratum) +
                               ", outside the schema");
  // Groups, in first-seen order; an empty key makes the item its own group.
  std::vector<Group> groups;
  std::map<std::string, int> index;
  bool any_group = false;
  for (int i = 0; i < static_cast<int>(items.size()); ++i) {
    int g;
    if (items[i].group.empty()) {
      g = static_cast<int>(groups.size());
      groups.push_back({{}, std::vector<int>(K, 0)});
    } else {
      any_group = true;
      auto [it, fresh] = index.emplace(items[i].group, static_cast<int>(groups.size()));
      if (fresh) groups.push_back({{}, std::vector<int>(K, 0)});
      g = it->second;
    }
    groups[g].items.push_back(i);
    ++groups[g].counts[req.stratify ? items[i].stratum : 0];
  }
  if (static_cast<int>(groups.size()) < S)
    throw Error("split", std::to_string(S) + " subsets need at least " + std::to_string(S) +
                             (any_group ? " groups (patients or clips)" : " frames") +
                             ", there are " + std::to_string(groups.size()));
  if (req.stratify) {
    for (int c = 0; c < K; ++c) {
      int frames = 0, holding = 0;
      for (const auto& g : groups) frames += g.counts[c], holding += g.counts[c] > 0;
      if (frames > 0 && holding < S) {
        const std::string cname = c < static_cast<int>(req.stratum_names.size())
                                      ? "'" + req.stratum_names[c] + "'"
                                      : std::to_string(c);
        throw Error("split", "CD " + cname + " has " + std::to_string(frames) + " frame(s)" +
                                 (any_group ? " in " + std::to_string(holding) + " group(s)" : "") +
                                 ": it cannot appear in all " + std::to_string(S) +
                                 " subsets; label more such frames, use fewer subsets, or "
                                 "--stratify none");
      }
    }
  }
  if (!any_group) return split_ungrouped(items, req, names);
  return split_grouped(items, req, std::move(groups));
}

// ---- project level ----

namespace {

std::string group_key(const Frame& f, const std::string& mode) {
  if (mode == "patient") return f.patient;
  if (mode == "clip") return f.clip;
  return "";
}

SubsetStats subset_stats(const std::string& name, double target,
                         const std::vector<const Frame*>& frames, const std::vector<int>& cds,
                         int num_cd, const std::vector<std::vector<long long>>& hists) {
  SubsetStats st;
  st.name = name;
  st.target_share = target;
  st.frames = static_cast<int>(frames.size());
  std::set<std::string> patients, clips;
  for (const Frame* f : frames) patients.insert(f->patient), clips.insert(f->clip);
  st.patients = static_cast<int>(patients.size());
  st.clips = static_cast<int>(clips.size());
  st.cd_counts.assign(num_cd, 0);
  for (int c : cds) ++st.cd_counts[c];
  for (int c : st.cd_counts) st.cd_share.push_back(st.frames ? double(c) / st.frames : 0.0);
  if (!hists.empty()) {
    std::vector<long long> sum(hists.front().size(), 0);
    for (const auto& h : hists)
      for (std::size_t k = 0; k < h.size() && k < sum.size(); ++k) sum[k] += h[k];
    const double total = std::accumulate(sum.begin(), sum.end(), 0.0);
    for (long long v : sum) st.tissue_share.push_back(total > 0 ? v / total : 0.0);
  }
  return st;
}

void check_split_options(const SplitOptions& opt) {
  require_safe_id(opt.name, "split");
  if (opt.stratify != "cd" && opt.stratify != "none")
    throw Error("--stratify", "'" + opt.stratify + "' is not one of: cd, none");
  if (opt.group != "patient" && opt.group != "clip" && opt.group != "none")
    throw Error("--group", "'" + opt.group + "' is not one of: patient, clip, none");
  check_ratios(opt.ratios);
}

// The split's settings and class names, before any frame is placed.
Split new_split(const SplitOptions& opt, const LabelSchema& schema) {
  Split sp;
  sp.name = opt.name;
  sp.created = now_iso8601();
  sp.stratify = opt.stratify;
  sp.group = opt.group;
  sp.seed = opt.seed;
  sp.ratios = opt.ratios;
  sp.subset_names = default_names(opt.ratios.size());
  for (const auto& c : schema.cd) sp.cd_names.push_back(c.name);
  for (const auto& t : schema.tissue) sp.tissue_names.push_back(t.name);
  return sp;
}

// The adjudicated frames to split, in final_frames() order, with their frame and CD.
struct SplitInput {
  std::vector<SplitItem> items;
  std::vector<const Frame*> frames;  // into the caller's frame table
  std::vector<int> cds;
};

SplitInput collect_final_frames(const Project& project, const SplitOptions& opt,
                                const std::map<std::string, Frame>& frames, Split& sp) {
  const LabelSchema& schema = project.meta().schema;
  SplitInput in;
  std::vector<std::string> unknown, no_key;
  for (const auto& id : project.final_frames()) {
    auto fin = project.load_final(id);
    if (!fin) continue;
    auto it = frames.find(id);
    if (it == frames.end()) {
      unknown.push_back(id);
      continue;
    }
    if (!schema.valid_cd(fin->cd))
      throw Error(project.final_json_path(id).string(),
                  "CD " + std::to_string(fin->cd) + " is not in the schema");
    const std::string key = group_key(it->second, opt.group);
    if (opt.group != "none" && key.empty()) no_key.push_back(id);
    in.items.push_back({id, key, fin->cd});
    in.frames.push_back(&it->second);
    in.cds.push_back(fin->cd);
  }
  if (!unknown.empty())
    sp.warnings.push_back(std::to_string(unknown.size()) +
                          " final label(s) name frames missing from frames.json and were left "
                          "out (first: " +
                          unknown.front() + ")");
  if (!no_key.empty())
    throw Error("--group " + opt.group, std::to_string(no_key.size()) + " frame(s) have no " +
                                            opt.group + " (first: " + no_key.front() +
                                            "); use another --group");
  if (in.items.empty())
    throw Error("split", "no adjudicated frames (final/*.json): run 'excap adjudicate' first");
  return in;
}

SplitRequest request_for(const Split& sp, const SplitOptions& opt, const LabelSchema& schema) {
  SplitRequest req;
  req.ratios = opt.ratios;
  req.subset_names = sp.subset_names;
  req.num_strata = schema.num_cd();
  req.stratum_names = sp.cd_names;
  req.stratify = opt.stratify == "cd";
  req.seed = opt.seed;
  return req;
}

// Each subset's sorted id list and statistics, then the statistics of "all".
void fill_subsets(Split& sp, const SplitInput& in, const std::vector<int>& where, int num_cd,
                  const FinalHistogram& histogram) {
  const int S = static_cast<int>(sp.ratios.size());
  std::vector<std::vector<const Frame*>> sf(S);
  std::vector<std::vector<int>> scd(S);
  std::vector<std::vector<std::vector<long long>>> sh(S);
  std::vector<std::vector<long long>> all_h;
  for (std::size_t i = 0; i < in.items.size(); ++i) {
    const int s = where[i];
    sp.subsets[sp.subset_names[s]].push_back(in.items[i].id);
    sf[s].push_back(in.frames[i]);
    scd[s].push_back(in.cds[i]);
    if (histogram) {
      sh[s].push_back(histogram(in.items[i].id));
      all_h.push_back(sh[s].back());
    }
  }
  for (auto& [name, ids] : sp.subsets) std::sort(ids.begin(), ids.end());
  SubsetStats all = subset_stats("all", 1.0, in.frames, in.cds, num_cd, all_h);
  for (int s = 0; s < S; ++s) {
    SubsetStats st = subset_stats(sp.subset_names[s], sp.ratios[s], sf[s], scd[s], num_cd, sh[s]);
    for (int c = 0; c < num_cd; ++c)
      st.cd_max_deviation =
          std::max(st.cd_max_deviation, std::abs(st.cd_share[c] - all.cd_share[c]));
    sp.stats.push_back(std::move(st));
  }
  sp.stats.push_back(std::move(all));
}

// Keys (clip or patient ids) whose frames sit in more than one subset. A frame
// with an empty key (an imported image has no clip) belongs to no group.
std::vector<std::string> spanning(const SplitInput& in, const std::vector<int>& where,
                                  std::string Frame::*key) {
  std::map<std::string, std::set<int>> seen;
  for (std::size_t i = 0; i < in.items.size(); ++i)
    if (!(in.frames[i]->*key).empty()) seen[in.frames[i]->*key].insert(where[i]);
  std::vector<std::string> out;
  for (const auto& [k, subs] : seen)
    if (subs.size() > 1) out.push_back(k);
  return out;
}

// Leaks the grouping allows: a clip (or patient) whose frames sit in two subsets.
void warn_leaks(Split& sp, const SplitInput& in, const std::vector<int>& where) {
  auto clips = spanning(in, where, &Frame::clip);
  if (!clips.empty())
    sp.warnings.push_back(std::to_string(clips.size()) +
                          " clip(s) have frames in more than one subset (first: " + clips.front() +
                          "): near-identical frames may leak between subsets");
  auto patients = spanning(in, where, &Frame::patient);
  if (!patients.empty() && sp.group != "patient")
    sp.warnings.push_back(
        std::to_string(patients.size()) +
        " patient(s) have frames in more than one subset (first: " + patients.front() + ")");
}

void warn_off_target(Split& sp, std::size_t frames) {
  for (const auto& st : sp.stats) {
    if (st.name == "all") continue;
    const double share = double(st.frames) / frames;
    if (std::abs(share - st.target_share) > 0.05) {
      char b[200];
      std::snprintf(b, sizeof b,
                    "subset '%s' holds %.1f%% of the frames against %.1f%% asked: "
                    "the groups are too few or too uneven",
                    st.name.c_str(), 100 * share, 100 * st.target_share);
      sp.warnings.push_back(b);
    }
  }
}

}  // namespace

Split make_split(const Project& project, const SplitOptions& opt, const FinalHistogram& histogram) {
  check_split_options(opt);
  const LabelSchema& schema = project.meta().schema;
  std::map<std::string, Frame> frames;
  for (auto& f : project.load_frames()) frames[f.id] = f;
  Split sp = new_split(opt, schema);
  const SplitInput in = collect_final_frames(project, opt, frames, sp);
  const std::vector<int> where = split_items(in.items, request_for(sp, opt, schema));
  fill_subsets(sp, in, where, schema.num_cd(), histogram);
  warn_leaks(sp, in, where);
  warn_off_target(sp, in.items.size());
  return sp;
}

json split_to_json(const Split& s) {
  json stats = json::array();
  for (const auto& st : s.stats)
    stats.push_back({{"name", st.name},
                     {"target_share", st.target_share},
                     {"frames", st.frames},
                     {"patients", st.patients},
                     {"clips", st.clips},
                     {"cd_counts", st.cd_counts},
                     {"cd_share", st.cd_share},
                     {"cd_max_deviation", st.cd_max_deviation},
                     {"tissue_pixel_share", st.tissue_share}});
  return json{{"format", "excap-split"},
              {"version", kFormatVersion},
              {"name", s.name},
              {"created", s.created},
              {"seed", s.seed},
              {"ratios", s.ratios},
              {"stratify", s.stratify},
              {"group", s.group},
              {"subset_names", s.subset_names},
              {"cd_classes", s.cd_names},
              {"tissue_classes", s.tissue_names},
              {"subsets", s.subsets},
              {"statistics", stats},
              {"warnings", s.warnings}};
}

Split split_from_json(const json& j, const std::string& where) {
  Split s;
  try {
    s.name = j.at("name").get<std::string>();
    s.created = j.value("created", "");
    s.seed = j.value("seed", std::uint64_t{0});
    s.ratios = j.at("ratios").get<std::vector<double>>();
    s.stratify = j.value("stratify", "");
    s.group = j.value("group", "");
    s.subset_names = j.at("subset_names").get<std::vector<std::string>>();
    s.cd_names = j.value("cd_classes", std::vector<std::string>{});
    s.tissue_names = j.value("tissue_classes", std::vector<std::string>{});
    s.subsets = j.at("subsets").get<std::map<std::string, std::vector<std::string>>>();
    s.warnings = j.value("warnings", std::vector<std::string>{});
    for (const auto& st : j.value("statistics", json::array())) {
      SubsetStats x;
      x.name = st.at("name").get<std::string>();
      x.target_share = st.value("target_share", 0.0);
      x.frames = st.value("frames", 0);
      x.patients = st.value("patients", 0);
      x.clips = st.value("clips", 0);
      x.cd_counts = st.value("cd_counts", std::vector<int>{});
      x.cd_share = st.value("cd_share", std::vector<double>{});
      x.cd_max_deviation = st.value("cd_max_deviation", 0.0);
      x.tissue_share = st.value("tissue_pixel_share", std::vector<double>{});
      s.stats.push_back(std::move(x));
    }
  } catch (const json::exception& e) {
    throw Error(where, std::string("bad split file: ") + e.what());
  }
  for (const auto& [name, ids] : s.subsets)
    for (const auto& id : ids) require_safe_id(id, "frame");
  return s;
}

void save_split(const Project& project, const Split& split, bool overwrite) {
  const fs::path path = project.split_path(split.name);
  const ProjectLock lock = ProjectLock::acquire(project.root(), "split");
  std::error_code ec;
  if (!overwrite && fs::exists(path, ec))
    throw Error(path.string(),
                "split '" + split.name + "' exists; choose another name or pass --overwrite");
  Change change(lock, project, "excap", "split");
  change.write_json(path, split_to_json(split));
  change.commit(json{{"name", split.name}, {"seed", split.seed}});
}

Split load_split(const Project& project, const std::string& name) {
  const fs::path path = project.split_path(name);
  std::error_code ec;
  if (!fs::exists(path, ec))
    throw Error(path.string(), "no split named '" + name + "' (run 'excap split')");
  return split_from_json(read_versioned_json(path, "excap-split"), path.string());
}

std::string split_table(const Split& s) {
  std::ostringstream o;
  char b[256];
  o << "split '" << s.name << "': stratify " << s.stratify << ", group " << s.group << ", seed "
    << s.seed << "\n";
  std::snprintf(b, sizeof b, "%-6s %7s %14s %8s %6s", "subset", "frames", "share(target)",
                "patients", "clips");
  o << b;
  for (const auto& c : s.cd_names) {
    std::snprintf(b, sizeof b, " %14s", c.c_str());
    o << b;
  }
  o << "  CD dev\n";
  std::size_t total = 0;
  for (const auto& st : s.stats)
    if (st.name == "all") total = st.frames;
  for (const auto& st : s.stats) {
    std::snprintf(b, sizeof b, "%-6s %7d %6.1f%%(%4.1f%%) %8d %6d", st.name.c_str(), st.frames,
                  total ? 100.0 * st.frames / total : 0.0, 100 * st.target_share, st.patients,
                  st.clips);
    o << b;
    for (std::size_t c = 0; c < st.cd_counts.size(); ++c) {
      std::snprintf(b, sizeof b, " %6d (%4.1f%%)", st.cd_counts[c], 100 * st.cd_share[c]);
      o << b;
    }
    if (st.name == "all")
      o << "       -\n";
    else {
      std::snprintf(b, sizeof b, "  %4.1fpp\n", 100 * st.cd_max_deviation);
      o << b;
    }
  }
  if (!s.stats.empty() && !s.stats.front().tissue_share.empty()) {
    o << "pixel share per tissue class (%):\n";
    std::snprintf(b, sizeof b, "%-24s", "class");
    o << b;
    for (const auto& st : s.stats) {
      std::snprintf(b, sizeof b, " %7s", st.name.c_str());
      o << b;
    }
    o << "\n";
    for (std::size_t k = 0; k < s.tissue_names.size(); ++k) {
      std::snprintf(b, sizeof b, "%-24s", s.tissue_names[k].c_str());
      o << b;
      for (const auto& st : s.stats) {
        std::snprintf(b, sizeof b, " %7.2f",
                      k < st.tissue_share.size() ? 100 * st.tissue_share[k] : 0.0);
        o << b;
      }
      o << "\n";
    }
  }
  for (const auto& w : s.warnings) o << "warning: " << w << "\n";
  return o.str();
}

}  // namespace excap
