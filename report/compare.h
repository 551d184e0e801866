// `excap compare`: evaluated runs side by side in the layout of the paper's
// Table 5 (method, backbone, iterations, CD accuracy/precision/recall, mAcc, mIoU).
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "common/fsutil.h"

namespace excap::trainer {

struct CompareRow {
  std::string run, method, backbone, iterations;
  // Percent; NaN where the run's model lacks the task or was not evaluated.
  double accuracy, precision, recall, mAcc, mIoU;
  double f1;                                              // percent, macro; NaN as above
  std::vector<std::pair<std::string, double>> class_iou;  // (tissue class, IoU percent)
};

// Reads runs/<run>/config.json and runs/<run>/eval/<subset>/metrics.json of
// each run; throws Error naming the run when either is missing.
std::vector<CompareRow> compare_runs(const fs::path& project_root,
                                     const std::vector<std::string>& runs,
                                     const std::string& subset);
// A Markdown table, values in percent with two decimals ("-" for NaN).
std::string compare_markdown(const std::vector<CompareRow>& rows, const std::string& subset);

std::string method_name(const std::string& arch);        // "mtcsn" -> "MTCSN", ...
std::string backbone_name(const std::string& backbone);  // "resnet50" -> "ResNet-50"

}  // namespace excap::trainer
