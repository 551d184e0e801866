// `excap pack`: turns a split's frames and final labels into one packed
// safetensors file per subset (format in trainer/packed.h). Needs OpenCV.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "common/fsutil.h"

namespace excap {
class Project;
}

namespace excap::trainer {

struct PackOptions {
  std::string split;      // splits/<split>.json
  int size = 240;         // the paper resizes every frame to 240x240
  fs::path out_dir;       // empty: <project>/packed/<split>-<size>
};

struct PackedSubsetSummary {
  std::string subset;
  fs::path path;
  int count = 0;
  std::vector<long long> cd_histogram;
};

// Reads frames/<id>.png, final/<id>.json and final/<id>.png of every frame
// listed in the split. Any missing or unreadable frame or label is counted and
// reported in one Error naming the first few; nothing is skipped in silence.
std::vector<PackedSubsetSummary> pack_split(const Project& project, const PackOptions& options);

}  // namespace excap::trainer
