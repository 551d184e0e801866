#include "experiment/grid.h"

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/ids.h"
#include "model/config.h"
#include "store/project.h"

namespace excap::experiment {

namespace {

using nlohmann::json;

// The value of `v` as T; a wrong type names the key.
template <class T>
T as(const json& v, const std::string& where, const std::string& key) {
  try {
    return v.get<T>();
  } catch (const json::exception&) {
    throw Error(where, "'" + key + "' has the wrong type");
  }
}

// Each train setting a grid may give, by the name `excap train` spells it (without "--").
// data table
const std::map<std::string,
               std::function<void(const json&, trainer::TrainConfig&, const std::string&)>>&
settings() {
  using C = trainer::TrainConfig;
  static const std::map<std::string, std::function<void(const json&, C&, const std::string&)>>
      table = {
          {"model",
           [](const json& v, C& c, const std::string& w) {
             c.model.arch = model::parse_arch(as<std::string>(v, w, "model"), w + ": model");
           }},
          {"fusion_pool",
           [](const json& v, C& c, const std::string& w) {
             c.model.fusion_pool = model::parse_fusion_pool(as<std::string>(v, w, "fusion_pool"),
                                                            w + ": fusion_pool");
           }},
          {"dilated", [](const json& v, C& c,
                         const std::string& w) { c.model.dilated = as<bool>(v, w, "dilated"); }},
          {"cls_hidden",
           [](const json& v, C& c, const std::string& w) {
             c.model.cls_hidden = as<int>(v, w, "cls_hidden");
           }},
          {"seg_channels",
           [](const json& v, C& c, const std::string& w) {
             c.model.seg_channels = as<int>(v, w, "seg_channels");
           }},
          {"seg_dropout",
           [](const json& v, C& c, const std::string& w) {
             c.model.seg_dropout = as<double>(v, w, "seg_dropout");
           }},
          {"head_init",
           [](const json& v, C& c, const std::string& w) {
             c.model.head_init =
                 model::parse_head_init(as<std::string>(v, w, "head_init"), w + ": head_init");
           }},
          {"iters",
           [](const json& v, C& c, const std::string& w) { c.iters = as<int>(v, w, "iters"); }},
          {"batch",
           [](const json& v, C& c, const std::string& w) { c.batch = as<int>(v, w, "batch"); }},
          {"size",
           [](const json& v, C& c, const std::string& w) { c.size = as<int>(v, w, "size"); }},
          {"lr", [](const json& v, C& c, const std::string& w) { c.lr = as<double>(v, w, "lr"); }},
          {"min_lr", [](const json& v, C& c,
                        const std::string& w) { c.min_lr = as<double>(v, w, "min_lr"); }},
          {"momentum", [](const json& v, C& c,
                          const std::string& w) { c.momentum = as<double>(v, w, "momentum"); }},
          {"weight_decay",
           [](const json& v, C& c, const std::string& w) {
             c.weight_decay = as<double>(v, w, "weight_decay");
           }},
          {"poly_power",
           [](const json& v, C& c, const std::string& w) {
             c.poly_power = as<double>(v, w, "poly_power");
           }},
          {"alpha",
           [](const json& v, C& c, const std::string& w) { c.alpha = as<double>(v, w, "alpha"); }},
          {"learned_weights",
           [](const json& v, C& c, const std::string& w) {
             c.weighting = as<bool>(v, w, "learned_weights") ? model::TaskWeighting::Learned
                                                             : model::TaskWeighting::Fixed;
           }},
          {"augment", [](const json& v, C& c,
                         const std::string& w) { c.augment = as<bool>(v, w, "augment"); }},
          {"val_interval",
           [](const json& v, C& c, const std::string& w) {
             c.val_interval = as<int>(v, w, "val_interval");
           }},
          {"log_interval",
           [](const json& v, C& c, const std::string& w) {
             c.log_interval = as<int>(v, w, "log_interval");
           }},
          {"checkpoint_interval",
           [](const json& v, C& c, const std::string& w) {
             c.checkpoint_interval = as<int>(v, w, "checkpoint_interval");
           }},
          {"best", [](const json& v, C& c,
                      const std::string& w) { c.best_metric = as<std::string>(v, w, "best"); }},
          {"amp",
           [](const json& v, C& c, const std::string& w) {
             c.amp = trainer::parse_amp_mode(as<std::string>(v, w, "amp"), w + ": amp");
           }},
          {"init", [](const json& v, C& c,
                      const std::string& w) { c.init = as<std::string>(v, w, "init"); }},
      };
  return table;
}

// Applies the train settings of `obj` to `cfg`; `skip` are keys the caller reads itself.
void apply_settings(const json& obj, trainer::TrainConfig& cfg, const std::string& where,
                    const std::set<std::string>& skip) {
  if (!obj.is_object()) throw Error(where, "is not a JSON object");
  for (const auto& [key, value] : obj.items()) {
    if (skip.count(key)) continue;
    const auto it = settings().find(key);
    if (it == settings().end()) throw Error(where, "unknown key '" + key + "'");
    it->second(value, cfg, where);
  }
}

std::vector<std::string> read_backbones(const json& v, const std::string& where) {
  std::vector<std::string> out;
  if (v.is_string())
    out.push_back(v.get<std::string>());
  else
    out = as<std::vector<std::string>>(v, where, "backbones");
  if (out.empty()) throw Error(where, "'backbones' is empty");
  const auto& known = model::known_backbones();
  for (const auto& b : out)
    if (std::find(known.begin(), known.end(), b) == known.end())
      throw Error(where, "backbones: unknown '" + b + "'");
  return out;
}

std::vector<std::uint64_t> read_seeds(const json& v, const std::string& where) {
  if (v.is_number_integer()) {
    const long long n = v.get<long long>();
    if (n < 1 || n > 100) throw Error(where, "'seeds' must be 1..100, got " + std::to_string(n));
    std::vector<std::uint64_t> s(static_cast<std::size_t>(n));
    for (std::size_t i = 0; i < s.size(); ++i) s[i] = i;
    return s;
  }
  if (!v.is_array() || v.empty())
    throw Error(where, "'seeds' must be a count or a non-empty list of integers >= 0");
  std::vector<std::uint64_t> s;
  for (const auto& x : v) {
    if (!x.is_number_unsigned())
      throw Error(where, "'seeds' holds a value that is not an integer >= 0");
    s.push_back(x.get<std::uint64_t>());
  }
  if (std::set<std::uint64_t>(s.begin(), s.end()).size() != s.size())
    throw Error(where, "'seeds' lists a seed twice");
  return s;
}

// The ranges of `excap train`, checked once per row after overrides.
void check_numbers(const trainer::TrainConfig& c, const std::string& where) {
  if (c.iters < 1) throw Error(where, "iters must be >= 1, got " + std::to_string(c.iters));
  if (c.batch < 1 || c.batch > 4096)
    throw Error(where, "batch must be 1..4096, got " + std::to_string(c.batch));
  if (c.size < 16 || c.size > 2048)
    throw Error(where, "size must be 16..2048 pixels, got " + std::to_string(c.size));
  trainer::TrainConfig checked = c;
  checked.split = "grid";  // the split comes from the command line
  try {
    trainer::validate(checked);
  } catch (const Error& e) {
    throw Error(where, e.reason());
  }
}

GridRow read_row(const json& r, const trainer::TrainConfig& defaults,
                 const std::vector<std::string>& default_backbones, const std::string& where) {
  if (!r.is_object()) throw Error(where, "is not a JSON object");
  GridRow row;
  if (!r.contains("id")) throw Error(where, "no 'id'");
  row.id = as<std::string>(r["id"], where, "id");
  const std::string problem = safe_id_problem(row.id);
  if (!problem.empty()) throw Error(where, "id: " + problem);
  const std::string w = where + " '" + row.id + "'";
  row.label = r.contains("label") ? as<std::string>(r["label"], w, "label") : row.id;
  row.train = defaults;
  apply_settings(r, row.train, w, {"id", "label", "backbones", "backbone"});
  if (r.contains("backbones") && r.contains("backbone"))
    throw Error(w, "give 'backbones' or 'backbone', not both");
  if (r.contains("backbones") || r.contains("backbone"))
    row.backbones = read_backbones(r.contains("backbones") ? r["backbones"] : r["backbone"], w);
  else
    row.backbones = default_backbones;
  if (row.backbones.empty()) throw Error(w, "no backbone (give 'backbones' here or at the top)");
  return row;
}

void apply_overrides(Grid& g, const GridOverrides& o, const std::string& where) {
  if (o.seeds) {
    if (*o.seeds < 1 || *o.seeds > 100)
      throw Error("--seeds", "must be 1..100, got " + std::to_string(*o.seeds));
    g.seeds = read_seeds(json(*o.seeds), "--seeds");
  }
  for (auto& row : g.rows) {
    if (o.iters) row.train.iters = *o.iters;
    if (o.size) row.train.size = *o.size;
    if (o.batch) row.train.batch = *o.batch;
    row.train.device = o.device;
    row.train.threads = o.threads;
    check_numbers(row.train, where + ": row '" + row.id + "'");
  }
}

}  // namespace

Grid read_grid(const fs::path& file, const GridOverrides& overrides) {
  const std::string where = file.string();
  if (!fs::is_regular_file(file)) throw Error(where, "no such grid file");
  const json j = read_json_file(file);
  if (!j.is_object()) throw Error(where, "is not a JSON object");
  static const std::set<std::string> top = {"format", "version",   "name",  "description",
                                            "seeds",  "backbones", "train", "rows"};
  for (const auto& [key, value] : j.items())
    if (!top.count(key)) throw Error(where, "unknown key '" + key + "'");
  if (j.contains("format") && j["format"] != "excap-experiment-grid")
    throw Error(where, "format: expected \"excap-experiment-grid\"");
  if (j.contains("version") && j["version"] != 1) throw Error(where, "version: expected 1");
  Grid g;
  g.name = j.contains("name") ? as<std::string>(j["name"], where, "name") : file.stem().string();
  const std::string problem = safe_id_problem(g.name);
  if (!problem.empty()) throw Error(where, "name: " + problem);
  g.seeds = read_seeds(j.value("seeds", json(1)), where);
  std::vector<std::string> backbones;
  if (j.contains("backbones")) backbones = read_backbones(j["backbones"], where);
  trainer::TrainConfig defaults;
  if (j.contains("train")) apply_settings(j["train"], defaults, where + ": train", {});
  if (!j.contains("rows") || !j["rows"].is_array() || j["rows"].empty())
    throw Error(where, "'rows' must be a non-empty list");
  std::set<std::string> ids;
  for (std::size_t i = 0; i < j["rows"].size(); ++i) {
    g.rows.push_back(
        read_row(j["rows"][i], defaults, backbones, where + ": rows[" + std::to_string(i) + "]"));
    if (!ids.insert(g.rows.back().id).second)
      throw Error(where, "row id '" + g.rows.back().id + "' appears twice");
  }
  apply_overrides(g, overrides, where);
  return g;
}

std::vector<Cell> grid_cells(const Grid& grid, const std::string& split) {
  std::vector<Cell> cells;
  for (std::size_t r = 0; r < grid.rows.size(); ++r)
    for (const auto& backbone : grid.rows[r].backbones)
      for (const auto seed : grid.seeds) {
        Cell c;
        c.row = r;
        c.backbone = backbone;
        c.seed = seed;
        c.config = grid.rows[r].train;
        c.config.split = split;
        c.config.model.backbone = backbone;
        c.config.seed = seed;
        c.config.run =
            grid.name + "-" + grid.rows[r].id + "-" + backbone + "-s" + std::to_string(seed);
        cells.push_back(c);
      }
  return cells;
}

}  // namespace excap::experiment
