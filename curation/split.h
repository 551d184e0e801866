// Dataset splits of the adjudicated frames: stratified by clearness degree,
// grouped so one patient (or clip) never spans two subsets. Written to
// splits/<name>.json with the parameters and per-subset statistics.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/fsutil.h"

namespace excap {

class Project;

// ---- the pure algorithm ----

struct SplitItem {
  std::string id;
  std::string group;  // items sharing a group land in one subset ("" = the item alone)
  int stratum = 0;    // 0..num_strata-1 (the CD), ignored when not stratifying
};

struct SplitRequest {
  std::vector<double> ratios{0.8, 0.1, 0.1};  // 2 or 3 positive ratios summing to 1
  std::vector<std::string> subset_names;      // for messages; default train, val, test
  int num_strata = 1;
  std::vector<std::string> stratum_names;  // for messages
  bool stratify = true;
  std::uint64_t seed = 0;
};

// Returns the subset index of every item. Throws Error with a clear reason
// when the request cannot be met (bad ratios, fewer groups than subsets, a
// stratum too rare to reach every subset).
//  * ungrouped: subset sizes follow scikit-learn's convention (each later
//    subset gets ceil(ratio * N), the first the rest: 466 frames at
//    0.8/0.1/0.1 give the paper's 372/47/47) and each stratum's count per
//    subset is ratio * count rounded down or up (controlled rounding);
//  * grouped: groups are placed greedily, largest first (seeded order among
//    equals), into the subset that least increases a chi-square-like cost
//    of CD counts and sizes against their targets, then improved by moving
//    and swapping groups while the cost falls.
std::vector<int> split_items(const std::vector<SplitItem>& items, const SplitRequest& req);

// ---- on a project ----

struct SplitOptions {
  std::string name;
  std::vector<double> ratios{0.8, 0.1, 0.1};
  std::string stratify = "cd";    // cd | none
  std::string group = "patient";  // patient | clip | none
  std::uint64_t seed = 0;
  bool overwrite = false;  // replace an existing splits/<name>.json
};

struct SubsetStats {
  std::string name;
  double target_share = 0;
  int frames = 0, patients = 0, clips = 0;
  std::vector<int> cd_counts;
  std::vector<double> cd_share;
  double cd_max_deviation = 0;       // max |share - overall share| over CDs (fraction)
  std::vector<double> tissue_share;  // pixel share per tissue class; empty if not computed
};

struct Split {
  std::string name, created, stratify, group;
  std::uint64_t seed = 0;
  std::vector<double> ratios;
  std::vector<std::string> subset_names;
  std::map<std::string, std::vector<std::string>> subsets;  // name -> frame ids (sorted)
  std::vector<SubsetStats> stats;                           // one per subset, then "all"
  std::vector<std::string> cd_names, tissue_names;
  std::vector<std::string> warnings;
};

// Per-class pixel counts of a frame's final mask; given by the caller (the
// image code lives in excap_dataset). Empty function: no pixel statistics.
using FinalHistogram = std::function<std::vector<long long>(const std::string& frame)>;

// Builds the split of all frames with a final label. Throws Error when
// impossible. Does not write anything.
Split make_split(const Project& project, const SplitOptions& opt,
                 const FinalHistogram& histogram = {});

// Writes splits/<name>.json atomically; refuses an existing name unless
// overwrite (a split a model was trained on must not change silently).
void save_split(const Project& project, const Split& split, bool overwrite = false);
Split load_split(const Project& project, const std::string& name);
nlohmann::json split_to_json(const Split& s);
Split split_from_json(const nlohmann::json& j, const std::string& where);

// The statistics table `excap split` prints.
std::string split_table(const Split& s);

}  // namespace excap
