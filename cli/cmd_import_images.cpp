// excap import-images: folders of (labeled) images in as frames
#include <iostream>
#include <memory>
#include <sstream>

#include "cli/commands.h"
#include "common/error.h"
#include "common/text.h"
#include "exchange/image_import.h"
#include "stage1/stage1.h"
#include "store/project.h"

namespace excap::cli {

namespace {

void print_result(const ImageImportResult& r) {
  int with_mask = 0, with_cd = 0;
  for (const auto& i : r.imported) {
    with_mask += i.mask ? 1 : 0;
    with_cd += i.cd >= 0 ? 1 : 0;
    std::cout << "  " << printable(i.file) << " -> " << i.frame << "\n";
  }
  for (const auto& d : r.duplicates) std::cout << "  skipped " << printable(d) << "\n";
  std::cout << "imported " << r.imported.size() << " images (" << with_mask << " with a mask, "
            << with_cd << " with a CD); near-duplicates skipped " << r.duplicates.size() << "\n";
  if (!r.split.empty()) {
    std::cout << "split '" << printable(r.split) << "' from the " << r.layout << " subsets:";
    for (const auto& [subset, n] : r.per_subset) std::cout << " " << printable(subset) << " " << n;
    std::cout << "\n";
  }
  for (const auto& w : r.warnings) std::cerr << "excap: warning: " << printable(w) << "\n";
}

}  // namespace

void register_image_import_commands(CLI::App& app, Registry& reg) {
  auto* cmd = app.add_subcommand(
      "import-images",
      "Import a folder of images (png, jpg, bmp, tif), with masks and labels, an "
      "mmsegmentation dataset or a CVAT mask export, as frames");
  auto dir = std::make_shared<std::string>();
  auto opt = std::make_shared<ImageImportOptions>();
  auto no_fov = std::make_shared<bool>(false);
  auto no_dedupe = std::make_shared<bool>(false);
  cmd->add_option("DIR", *dir, "Project folder")->required();
  cmd->add_option(
      "--images", opt->images,
      "Folder of images (searched recursively; an mmseg or CVAT layout is read as one)");
  cmd->add_option("--mmseg", opt->mmseg, "mmsegmentation dataset root (img_dir/, ann_dir/)");
  cmd->add_option("--cvat", opt->cvat,
                  "CVAT 'Segmentation mask 1.1' export with its images (folder or zip)");
  cmd->add_option("--split", opt->split,
                  "Name of the split a layout's subsets become (default: imported)");
  cmd->add_option("--img-suffix", opt->img_suffix,
                  "mmseg: image file suffix (default: any image type)");
  cmd->add_option("--seg-map-suffix", opt->seg_map_suffix,
                  "mmseg: annotation = image stem + this (default .png)");
  cmd->add_option("--masks", opt->masks, "Folder of masks, matched to images by file stem");
  cmd->add_option("--labels", opt->labels_csv, "CSV with a 'file' column and 'cd', 'patient'");
  cmd->add_option("--binary-masks", opt->binary_class,
                  "Tissue class (id or name) that every non-zero mask pixel becomes");
  cmd->add_option("--as", opt->as, "Whose labels: 'final' (adjudicated) or a project user");
  cmd->add_option("--group-by", opt->group_by,
                  "Regex whose first capture group of the relative path names the group "
                  "(default: the image's folder)");
  cmd->add_flag("--no-fov", *no_fov, "Do not detect the field of view and blank outside it");
  cmd->add_flag("--no-dedupe", *no_dedupe, "Keep near-duplicate images");
  cmd->add_option("--user", opt->user, "Who imports (a project user; the expert of final labels)")
      ->required()
      ->check(safe_name());
  reg.add(cmd, [=] {
    if (opt->images.empty() + opt->mmseg.empty() + opt->cvat.empty() != 2)
      throw Error("import-images", "give one of --images, --mmseg, --cvat");
    Project p = Project::open(*dir);
    require_project_user(p, opt->user, "--user");
    ImageImportOptions o = *opt;
    o.fov = !*no_fov;
    o.dedupe = !*no_dedupe;
    o.pseudonymise = [&p](const std::string& name) { return patient_pseudonym(p, name); };
    try {
      print_result(import_images(p, o));
    } catch (const Error& e) {
      // The refusal lists one problem a line; main() would print it as one escaped line.
      std::istringstream lines(e.what());
      std::string line;
      for (bool first = true; std::getline(lines, line); first = false)
        std::cerr << (first ? "excap: error: " : "") << printable(line) << "\n";
      return 1;
    }
    return 0;
  });
}

}  // namespace excap::cli
