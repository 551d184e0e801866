#include "experiment/summary.h"

#include <cmath>
#include <cstdio>
#include <map>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "media/imageio.h"
#include "model/config.h"
#include "report/compare.h"
#include "report/plots.h"
#include "store/project.h"

namespace excap::experiment {

namespace {

// The headline columns, in the order of the paper's Table 5 (plus F1), and their titles.
const std::vector<std::pair<std::string, std::string>>& headline() {
  static const std::vector<std::pair<std::string, std::string>> v = {
      {"accuracy", "Accuracy"}, {"precision", "Precision"},
      {"recall", "Recall"},     {"f1", "F1"},
      {"mAcc", "mACC"},         {"mIoU", "mIoU"}};
  return v;
}

double headline_value(const trainer::CompareRow& r, const std::string& key) {
  if (key == "accuracy") return r.accuracy;
  if (key == "precision") return r.precision;
  if (key == "recall") return r.recall;
  if (key == "f1") return r.f1;
  if (key == "mAcc") return r.mAcc;
  return r.mIoU;
}

std::string iou_key(const std::string& cls) { return "IoU " + cls; }

RowSummary summarize_group(const std::vector<trainer::CompareRow>& runs, const GridRow& row,
                           const std::string& backbone, std::vector<std::string>& classes) {
  RowSummary s;
  s.row = row.id;
  s.label = row.label;
  s.arch = model::to_string(row.train.model.arch);
  s.backbone = backbone;
  s.has_cls = model::arch_has_cls(row.train.model.arch);
  s.has_seg = model::arch_has_seg(row.train.model.arch);
  s.iterations = runs.empty() ? std::to_string(row.train.iters) : runs.front().iterations;
  for (const auto& r : runs) s.runs.push_back(r.run);
  for (const auto& [key, title] : headline()) {
    std::vector<double> v;
    for (const auto& r : runs) v.push_back(headline_value(r, key));
    s.metrics[key] = stat_of(v);
  }
  if (!runs.empty() && classes.empty())
    for (const auto& [name, iou] : runs.front().class_iou) classes.push_back(name);
  for (std::size_t c = 0; c < classes.size(); ++c) {
    std::vector<double> v;
    for (const auto& r : runs)
      if (c < r.class_iou.size()) v.push_back(r.class_iou[c].second);
    s.metrics[iou_key(classes[c])] = stat_of(v);
  }
  return s;
}

std::string number(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f", v);
  return b;
}

// "mean ± sd", "mean" for a single run, "-" where nothing was scored.
std::string stat_text(const Stat& s) {
  if (s.n == 0 || !std::isfinite(s.mean)) return "-";
  if (s.n < 2 || !std::isfinite(s.sd)) return number(s.mean);
  return number(s.mean) + " ± " + number(s.sd);
}

Stat stat_at(const RowSummary& s, const std::string& key) {
  const auto it = s.metrics.find(key);
  return it == s.metrics.end() ? Stat{std::nan(""), std::nan(""), 0} : it->second;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::string csv_number(double v) {
  if (!std::isfinite(v)) return "";
  char b[32];
  std::snprintf(b, sizeof b, "%.4f", v);
  return b;
}

nlohmann::json stat_json(const Stat& s) {
  auto num = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); };
  return {{"mean", num(s.mean)}, {"sd", num(s.sd)}, {"n", s.n}};
}

std::vector<std::string> metric_keys(const ExperimentResult& r) {
  std::vector<std::string> keys;
  for (const auto& [key, title] : headline()) keys.push_back(key);
  for (const auto& c : r.classes) keys.push_back(iou_key(c));
  return keys;
}

nlohmann::json results_json(const ExperimentResult& r, const std::vector<Cell>& cells,
                            const ExperimentOptions& o) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& s : r.rows) {
    nlohmann::json m;
    for (const auto& [key, st] : s.metrics) m[key] = stat_json(st);
    rows.push_back({{"row", s.row},
                    {"label", s.label},
                    {"arch", s.arch},
                    {"method", trainer::method_name(s.arch)},
                    {"backbone", s.backbone},
                    {"iterations", s.iterations},
                    {"n", s.runs.size()},
                    {"runs", s.runs},
                    {"metrics", m}});
  }
  nlohmann::json cj = nlohmann::json::array();
  for (const auto& c : cells)
    cj.push_back({{"run", c.config.run}, {"backbone", c.backbone}, {"seed", c.seed}});
  return {{"format", "excap-experiment"},
          {"version", 1},
          {"name", r.name},
          {"split", o.split},
          {"subset", o.subset},
          {"grid", o.grid_file.string()},
          {"created", now_iso8601()},
          {"unit", "percent; sd is the sample sd over seeds"},
          {"classes", r.classes},
          {"rows", rows},
          {"cells", cj}};
}

cv::Mat plot(const ExperimentResult& r) {
  std::vector<std::string> categories;
  plots::BarSeries acc{"CD accuracy", {}}, miou{"mIoU", {}};
  for (const auto& s : r.rows) {
    categories.push_back(s.label + " " + trainer::backbone_name(s.backbone));
    const Stat a = s.metrics.at("accuracy"), m = s.metrics.at("mIoU");
    acc.values.push_back(a.mean), acc.errors.push_back(a.sd);
    miou.values.push_back(m.mean), miou.errors.push_back(m.sd);
  }
  plots::ChartStyle st;
  st.width = std::max(800, 150 * static_cast<int>(categories.size()));
  st.y_label = "% (mean, bars: sd over seeds)";
  st.y_min = 0;
  st.value_decimals = 1;
  return plots::bar_chart("Experiment " + r.name + ": CD accuracy and mIoU", categories,
                          {acc, miou}, st);
}

}  // namespace

void summarize(const fs::path& root, const Grid& grid, const std::vector<Cell>& cells,
               const std::string& subset, ExperimentResult& result) {
  // Table order: row, then backbone, as the cells come.
  std::vector<std::pair<std::size_t, std::string>> order;
  std::map<std::pair<std::size_t, std::string>, std::vector<std::string>> runs;
  for (const auto& c : cells) {
    const auto key = std::make_pair(c.row, c.backbone);
    if (!runs.count(key)) order.push_back(key);
    auto& list = runs[key];
    if (cell_done(root, c, subset)) list.push_back(c.config.run);
  }
  for (const auto& key : order)
    result.rows.push_back(summarize_group(trainer::compare_runs(root, runs[key], subset),
                                          grid.rows[key.first], key.second, result.classes));
}

std::string table_markdown(const ExperimentResult& r, const std::string& subset) {
  std::string out = "Experiment " + r.name + ", subset " + subset +
                    ": mean ± sd over seeds (sample sd), values in %; CD precision, recall "
                    "and F1 are macro averages; n: evaluated runs\n\n";
  out += "| Row | Method | Backbone | Iteration | n |";
  std::string rule = "|---|---|---|---|---:|";
  for (const auto& [key, title] : headline()) out += " " + title + " |", rule += "---:|";
  for (const auto& c : r.classes) out += " IoU " + c + " |", rule += "---:|";
  out += "\n" + rule + "\n";
  for (const auto& s : r.rows) {
    out += "| " + s.label + " | " + trainer::method_name(s.arch) + " | " +
           trainer::backbone_name(s.backbone) + " | " + s.iterations + " | " +
           std::to_string(s.runs.size()) + " |";
    for (const auto& key : metric_keys(r)) out += " " + stat_text(stat_at(s, key)) + " |";
    out += "\n";
  }
  return out;
}

std::string table_csv(const ExperimentResult& r) {
  std::string out = "row,label,method,backbone,iterations,n";
  for (const auto& key : metric_keys(r))
    out += "," + csv_field(key + " mean") + "," + csv_field(key + " sd");
  out += "\n";
  for (const auto& s : r.rows) {
    out += csv_field(s.row) + "," + csv_field(s.label) + "," +
           csv_field(trainer::method_name(s.arch)) + "," + csv_field(s.backbone) + "," +
           csv_field(s.iterations) + "," + std::to_string(s.runs.size());
    for (const auto& key : metric_keys(r)) {
      const Stat st = stat_at(s, key);
      out += "," + csv_number(st.mean) + "," + csv_number(st.sd);
    }
    out += "\n";
  }
  return out;
}

void write_outputs(const ExperimentResult& result, const std::vector<Cell>& cells,
                   const ExperimentOptions& options) {
  ensure_dir(result.out_dir);
  atomic_write(result.out_dir / "table.md", table_markdown(result, options.subset));
  atomic_write(result.out_dir / "table.csv", table_csv(result));
  write_json_atomic(result.out_dir / "results.json", results_json(result, cells, options));
  write_png_atomic(result.out_dir / "plot.png", plot(result));
}

}  // namespace excap::experiment
