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
#include <map>
#include <string>
#include <vector>

#include "common/fsutil.h"
#include "exchange/zip.h"

namespace excap {

class Project;

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

}  // namespace excap
