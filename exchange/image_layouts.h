// The dataset layouts `excap import-images` reads besides a plain folder of
// images (docs/import-images.md):
//  * mmsegmentation: ROOT/img_dir/<subset>/... images and
//    ROOT/ann_dir/<subset>/... class-index annotations of the same stem
//    (image stem + seg map suffix, ".png" by default, as mmseg's custom dataset);
//  * CVAT "Segmentation mask 1.1" exported with its images (a folder or a
//    zip): labelmap.txt, SegmentationClass/*.png colour masks,
//    ImageSets/Segmentation/<subset>.txt and JPEGImages/ (any image type).
// Each is listed here and imported by import_listed_images (image_import.h):
// the same checks, options and all-or-nothing change as a folder, and the
// layout's subsets become one split (splits/<name>.json, curation/split.h)
// written in that same change.
#pragma once
#include <string>
#include <vector>

#include "common/fsutil.h"
#include "exchange/image_import.h"

namespace excap {

class Project;
struct LabelSchema;
struct Split;

// "mmseg" when `folder` holds img_dir/, "cvat-mask" when it (or one folder
// below it) holds labelmap.txt or SegmentationClass/ beside JPEGImages/; else "".
std::string detect_layout(const fs::path& folder);

// Lists an mmsegmentation root. `img_suffix` "" takes every image type.
// An ExCap export's cd_labels.csv beside img_dir/ gives CDs by image stem.
LayoutListing list_mmseg_layout(const fs::path& root, const std::string& img_suffix,
                                const std::string& seg_map_suffix, const LabelSchema& schema);

// Lists an unpacked CVAT export (its folder holding labelmap.txt); labels map
// to `schema` by name (Error naming an unmapped one); cd_labels.csv (ExCap's
// exports) gives CDs by image stem.
LayoutListing list_cvat_layout(const fs::path& root, const LabelSchema& schema);

// import-images of opt.mmseg, opt.cvat (folder or zip) or a layout found in opt.images.
ImageImportResult import_layout(const Project& project, const ImageImportOptions& opt);

// The subset name a layout's folder or list stands for: training -> train,
// validation/valid -> val, testing -> test; any other name as it is.
std::string layout_subset_name(const std::string& folder);

struct LayoutSplitFrame {
  std::string frame, subset, patient;
  int cd = -1;  // -1: none
};

// The split a layout's subsets make: subsets in the given order, ratios the
// shares imported, statistics as `excap split` writes them; grouped by
// patient when no patient spans two subsets (else a warning names one).
Split layout_split(const Project& project, const std::string& name,
                   const std::vector<std::string>& subsets,
                   const std::vector<LayoutSplitFrame>& frames);

}  // namespace excap
