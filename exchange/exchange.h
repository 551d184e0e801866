// Exchange formats: export a split's final labels to the mmsegmentation
// folder layout or to CVAT "Segmentation mask 1.1", and import CVAT masks
// back as one user's labels. CD labels travel in cd_labels.csv beside the
// masks (frame,subset,cd,cd_name).
//
// CVAT mapping: labelmap.txt lists every schema tissue class with its schema
// colour (class 0 "background", black, is CVAT's background). CVAT has no
// "not labeled" state other than background, so when an exported mask holds
// unlabeled pixels (255) an extra label "unlabeled" (224,224,192, the VOC
// void colour) is declared and painted there; importing maps it back to 255.
// Masks are PNG (lossless) and the round trip export -> import is exact.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/fsutil.h"
#include "exchange/zip.h"

namespace cv {
class Mat;
}

namespace excap {

class Project;
struct LabelSchema;

struct ExportOptions {
  std::string split;             // splits/<split>.json
  std::string format = "mmseg";  // mmseg | cvat-mask
  bool with_images = true;       // copy frames/<id>.png (mmseg always needs them)
};

struct ExportResult {
  fs::path out;
  int frames = 0;
  std::map<std::string, int> per_subset;
  bool unlabeled_label = false;  // cvat-mask: the "unlabeled" label was declared
};

// OUT must be absent or an empty folder. Throws Error naming the file.
ExportResult export_dataset(const Project& project, const ExportOptions& opt, const fs::path& out);

struct ImportOptions {
  std::string user;        // labels/<user>/ receives the masks; must be a project user
  bool overwrite = false;  // replace that user's existing labels
};

struct ImportResult {
  int imported = 0;
  int skipped_existing = 0;
  int without_cd = 0;  // no row in cd_labels.csv
  std::vector<std::string> frames;
};

// Reads a CVAT "Segmentation mask 1.1" export: a folder, or a .zip unpacked
// with libarchive (exchange/zip.h: no links, no paths leaving the folder,
// bounded sizes: `zip_limits`). Every mask is checked first (known frame, frame size, only
// declared colours); on any problem nothing is written and the Error lists them.
ImportResult import_cvat_masks(const Project& project, const fs::path& dir_or_zip,
                               const ImportOptions& opt, const ZipLimits& zip_limits = {});

// "unlabeled" unless the schema already has a class of that name.
std::string cvat_unlabeled_label_name(const std::vector<std::string>& schema_names);

// ---- pieces of the CVAT reader, shared with import-images (image_layouts.h) ----

// An RGB colour of labelmap.txt -> schema tissue id (the ignore index for "unlabeled").
using CvatColours = std::map<std::array<std::uint8_t, 3>, int>;

// Unpacks a zip export into a fresh temporary folder (the caller removes it).
fs::path unpack_cvat_zip(const fs::path& zip, const ZipLimits& limits);
// The folder of an export holding labelmap.txt or SegmentationClass/ (it or one below).
fs::path cvat_export_root(const fs::path& dir);
// labelmap.txt's colours mapped to the schema by label name, case-insensitive;
// throws Error naming the line of a label the schema lacks.
CvatColours read_cvat_labelmap(const fs::path& root, const LabelSchema& schema);
// Frame id -> CD of an ExCap export's cd_labels.csv (empty without one).
std::map<std::string, int> read_export_cd_labels(const fs::path& root, const LabelSchema& schema);
// A BGR colour mask as class indices; pixels of undeclared colours become
// `ignore_index`, are counted in `unknown`, and the first one is kept (RGB).
cv::Mat cvat_class_mask(const cv::Mat& bgr, const CvatColours& colours, int ignore_index,
                        long long* unknown, std::array<std::uint8_t, 3>* first);

}  // namespace excap
