// Importing folders of labeled images (earlier studies, public capsule
// datasets) as frames of a project: `excap import-images`. Images have no
// source video: their frame records carry video "" and clip "", source index
// 0, and the group (patient) they belong to, pseudonymised as video import
// does. docs/import-images.md describes the whole command.
//
// Everything is checked before anything is written: every problem (an image
// that does not decode, a wrong-size mask, an unmapped colour or class, a CSV
// row naming a missing file, a CD not in the schema) is collected, and when
// there is any, the Error lists them all and the project is left untouched.
// Otherwise the PNGs, frames.json, the labels and one audit line land as one
// Change (store/change.h) under the project lock.
#pragma once
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "common/fsutil.h"

namespace excap {

class Project;

struct ImageImportOptions {
  fs::path images;      // folder of png, jpg, bmp, tif images (searched recursively)
  fs::path masks;       // optional: masks matched to images by file stem
  fs::path labels_csv;  // optional: header with `file` and any of `cd`, `patient`
  std::string
      binary_class;  // optional: a tissue class id or name; any non-zero mask pixel becomes it
  std::string as;    // "" (frames only), "final", or a project user whose labels they become
  std::string
      group_by;        // optional regex: its first capture group of the relative path is the group
  bool fov = true;     // detect the field of view and blank outside it
  bool dedupe = true;  // skip near-duplicates (dHash distance)
  std::string user;    // who imports (a project user; the audit line and, for final, the expert)
  // Patient or group name -> pseudonym (stage1's patient_pseudonym in the CLI).
  std::function<std::string(const std::string&)> pseudonymise;
};

struct ImportedImage {
  std::string frame;  // the new frame id, img_NNNNNN
  std::string file;   // the image's path relative to the images folder
  std::string patient;
  bool mask = false;
  int cd = -1;  // -1: none
};

struct ImageImportResult {
  std::vector<ImportedImage> imported;
  std::vector<std::string> duplicates;  // "<file>: near-duplicate of <file or frame>"
  std::vector<std::string> warnings;    // e.g. no field of view found, left unblanked
};

// Imports the images of `opt.images` into `project`. Throws Error listing
// every problem (file named) with nothing imported.
ImageImportResult import_images(const Project& project, const ImageImportOptions& opt);

// The id prefix of imported frames ("img"): ids are img_000001, img_000002, ...
// allocated past the largest one in frames.json.
const std::string& imported_frame_prefix();

}  // namespace excap
