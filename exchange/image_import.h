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
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/fsutil.h"

namespace excap {

class Project;

struct ImageImportOptions {
  fs::path images;         // folder of png, jpg, bmp, tif images (searched recursively)
  fs::path mmseg;          // or: an mmsegmentation dataset root (img_dir/, ann_dir/)
  fs::path cvat;           // or: a CVAT "Segmentation mask 1.1" export with images (folder or zip)
  std::string split;       // layouts: the split their subsets become (default "imported")
  std::string img_suffix;  // mmseg: images end with it (default: any image type)
  std::string seg_map_suffix = ".png";  // mmseg: annotation = image stem + this
  fs::path masks;                       // optional: masks matched to images by file stem
  fs::path labels_csv;                  // optional: header with `file` and any of `cd`, `patient`
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
  std::string layout;                     // "folder", "mmseg" or "cvat-mask"
  std::string split;                      // the split written from the layout's subsets ("" = none)
  std::map<std::string, int> per_subset;  // imported frames per subset of that split
  std::vector<ImportedImage> imported;
  std::vector<std::string> duplicates;  // "<file>: near-duplicate of <file or frame>"
  std::vector<std::string> warnings;    // e.g. no field of view found, left unblanked
};

// Imports the images of `opt.images` (or the layout of `opt.mmseg` or
// `opt.cvat`, exchange/image_layouts.h; a folder of `opt.images` holding one
// of those layouts is read as it) into `project`. Throws Error listing every
// problem (file named) with nothing imported.
ImageImportResult import_images(const Project& project, const ImageImportOptions& opt);

// One image of a dataset layout: its file, its mask (empty: none) and the
// subset the layout puts it in ("": none).
struct LayoutImage {
  fs::path path;
  std::string rel;  // its name in messages, the CSV and the audit line ('/' separated)
  fs::path mask;
  std::string subset;
  fs::path expected_mask;  // where its mask was looked for (named when there is none)
  int cd = -1;             // the layout's own CD (cd_labels.csv of an ExCap export); -1: none
};

// What a layout reader (exchange/image_layouts.h) found, for import_listed_images.
struct LayoutListing {
  std::string kind;       // "mmseg" | "cvat-mask"
  fs::path root;          // the layout's folder (names the refusal)
  std::string root_name;  // the group of images at the top of a subset
  std::vector<LayoutImage> images;
  bool colour_masks = false;  // masks are colour masks through `colours` (CVAT)
  std::map<std::array<std::uint8_t, 3>, int> colours;
  std::vector<std::string> subsets;  // in order; non-empty: the split opt.split is written
  std::vector<std::string> problems, warnings;
};

// The import of a listed layout: the same checks, options and all-or-nothing
// change as a folder's, plus the split of its subsets in that change.
ImageImportResult import_listed_images(const Project& project, const ImageImportOptions& opt,
                                       const LayoutListing& listing);

// Whether import-images takes `path` as an image (png, jpg/jpeg/jpe, bmp, tif/tiff).
bool importable_image(const fs::path& path);

// The id prefix of imported frames ("img"): ids are img_000001, img_000002, ...
// allocated past the largest one in frames.json.
const std::string& imported_frame_prefix();

}  // namespace excap
