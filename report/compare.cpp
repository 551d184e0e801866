#include "report/compare.h"

#include <cmath>
#include <cstdio>
#include <limits>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/ids.h"
#include "store/project.h"

namespace excap::trainer {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double percent(const nlohmann::json& j, const char* section, const char* key) {
  if (!j.contains(section) || !j[section].is_object()) return kNaN;
  const auto& s = j[section];
  if (!s.contains(key) || !s[key].is_number()) return kNaN;
  return 100.0 * s[key].get<double>();
}

// (class, IoU percent) per tissue class of metrics.json; NaN where the class was absent.
std::vector<std::pair<std::string, double>> class_iou(const nlohmann::json& m) {
  std::vector<std::pair<std::string, double>> out;
  if (!m.contains("segmentation") || !m["segmentation"].contains("per_class")) return out;
  for (const auto& c : m["segmentation"]["per_class"]) {
    const auto& v = c.value("IoU", nlohmann::json());
    out.emplace_back(c.value("class", std::string("?")),
                     v.is_number() ? 100.0 * v.get<double>() : kNaN);
  }
  return out;
}

std::string cell(double v) {
  if (std::isnan(v)) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}
}  // namespace

std::string method_name(const std::string& arch) {
  if (arch == "mtcsn") return "MTCSN";
  if (arch == "hard_share") return "Hard parameter sharing";
  if (arch == "cross_stitch") return "Cross stitch";
  if (arch == "cls") return "Classifier (single task)";
  if (arch == "seg_fcn") return "FCN (single task)";
  if (arch == "seg_aspp") return "DeepLabv3 ASPP (single task)";
  return arch;
}

std::string backbone_name(const std::string& b) {
  if (b.rfind("resnet", 0) == 0) return "ResNet-" + b.substr(6);
  if (b.rfind("densenet", 0) == 0) return "DenseNet-" + b.substr(8);
  if (b == "tiny") return "Tiny";
  return b;
}

std::vector<CompareRow> compare_runs(const fs::path& root, const std::vector<std::string>& runs,
                                     const std::string& subset) {
  std::vector<CompareRow> rows;
  for (const auto& run : runs) {
    const fs::path dir = safe_child(root / "runs", run, "", "run");
    const fs::path config = dir / "config.json";
    const fs::path metrics = dir / "eval" / subset / "metrics.json";
    if (!fs::exists(config))
      throw Error("run '" + run + "'", "no config.json (not a training run)");
    if (!fs::exists(metrics))
      throw Error("run '" + run + "'",
                  "not evaluated on '" + subset + "' (run `excap eval DIR --run " + run + "`)");
    const nlohmann::json c = read_json_file(config);
    const nlohmann::json m = read_json_file(metrics);
    CompareRow r;
    r.run = run;
    const auto model = c.value("model", nlohmann::json::object());
    r.method = method_name(model.value("arch", std::string("?")));
    r.backbone = backbone_name(model.value("backbone", std::string("?")));
    const int iters = c.value("iters", 0);  // the training length, as Table 5's "Iteration"
    r.iterations = (iters >= 1000 && iters % 1000 == 0) ? std::to_string(iters / 1000) + " k"
                                                        : std::to_string(iters);
    r.accuracy = percent(m, "classification", "accuracy");
    r.precision = percent(m, "classification", "precision");
    r.recall = percent(m, "classification", "recall");
    r.mAcc = percent(m, "segmentation", "mAcc");
    r.mIoU = percent(m, "segmentation", "mIoU");
    r.f1 = percent(m, "classification", "f1");
    r.class_iou = class_iou(m);
    rows.push_back(r);
  }
  return rows;
}

std::string compare_markdown(const std::vector<CompareRow>& rows, const std::string& subset) {
  std::string out =
      "Subset: " + subset + " (values in %; macro precision/recall of the CD classes)\n\n";
  out += "| Run | Method | Backbone | Iteration | Accuracy | Precision | Recall | mACC | mIoU |\n";
  out += "|---|---|---|---|---:|---:|---:|---:|---:|\n";
  for (const auto& r : rows)
    out += "| " + r.run + " | " + r.method + " | " + r.backbone + " | " + r.iterations + " | " +
           cell(r.accuracy) + " | " + cell(r.precision) + " | " + cell(r.recall) + " | " +
           cell(r.mAcc) + " | " + cell(r.mIoU) + " |\n";
  return out;
}

}  // namespace excap::trainer
