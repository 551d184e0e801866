// Packed training data: one safetensors file per subset of a split, so the
// trainer never decodes PNGs per iteration and a build without OpenCV (the GPU
// machine) still reads it. Python reads it with `safetensors` or 30 lines of json.
//
// File <project>/packed/<split>-<size>/<subset>.safetensors holds
//   images  U8 [N, H, W, 3]  NHWC, RGB, resized to size x size (area/linear)
//   masks   U8 [N, H, W]     tissue class index, 255 = ignore (nearest-neighbour resize)
//   cd      U8 [N]           clearness degree
// and metadata (all strings): format "excap-packed", version "1", split,
// subset, size, layout "NHWC", color "RGB", ignore_index, ids (JSON list of
// frame ids, row order), cd_names and tissue_names (JSON lists), created.
#pragma once
#include <string>
#include <vector>

#include "common/fsutil.h"
#include "common/safetensors.h"

namespace excap::trainer {

struct PackedSubset {
  std::string split, subset;
  int size = 0;
  int ignore_index = 255;
  std::vector<std::string> ids;
  std::vector<std::string> cd_names, tissue_names;
  safetensors::Tensor images, masks, cd;
  int count() const { return static_cast<int>(ids.size()); }
};

fs::path packed_dir(const fs::path& project_root, const std::string& split, int size);
fs::path packed_path(const fs::path& project_root, const std::string& split, int size,
                     const std::string& subset);

// Reads and checks a packed file (format, version, shapes agree with ids); throws Error.
PackedSubset read_packed(const fs::path& path);
// Writes one atomically (the inverse of read_packed).
void write_packed(const fs::path& path, const PackedSubset& s);

}  // namespace excap::trainer
