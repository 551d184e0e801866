#include "trainer/pack.h"

#include <cstring>

#include <opencv2/imgproc.hpp>

#include "common/error.h"
#include "media/imageio.h"
#include "store/project.h"
#include "curation/split.h"
#include "trainer/packed.h"

namespace excap::trainer {

namespace st = excap::safetensors;

namespace {
struct Problems {
  int count = 0;
  std::string first;
  void add(const std::string& what) {
    if (count++ < 3) first += (first.empty() ? "" : "; ") + what;
  }
};

std::vector<std::string> names_of(const LabelSchema& s, bool cd) {
  std::vector<std::string> out;
  if (cd)
    for (const auto& c : s.cd) out.push_back(c.name);
  else
    for (const auto& t : s.tissue) out.push_back(t.name);
  return out;
}
}  // namespace

std::vector<PackedSubsetSummary> pack_split(const Project& project, const PackOptions& options) {
  if (options.size < 16 || options.size > 4096)
    throw Error("--size", "must be between 16 and 4096 pixels");
  const LabelSchema& schema = project.meta().schema;
  const Split split = load_split(project, options.split);  // curation/split.h (`excap split`)
  const fs::path out_dir =
      options.out_dir.empty() ? packed_dir(project.root(), options.split, options.size)
                              : options.out_dir;
  const int size = options.size;
  const std::size_t image_bytes = std::size_t(size) * size * 3, mask_bytes = std::size_t(size) * size;

  std::vector<PackedSubsetSummary> summaries;
  for (const auto& [subset, ids] : split.subsets) {
    PackedSubset packed;
    packed.split = options.split;
    packed.subset = subset;
    packed.size = size;
    packed.ignore_index = schema.ignore_index;
    packed.cd_names = names_of(schema, true);
    packed.tissue_names = names_of(schema, false);
    std::vector<std::uint8_t> images(ids.size() * image_bytes), masks(ids.size() * mask_bytes),
        cds(ids.size());
    PackedSubsetSummary summary;
    summary.subset = subset;
    summary.cd_histogram.assign(schema.num_cd(), 0);
    Problems problems;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const std::string& id = ids[i];
      try {
        auto label = project.load_final(id);
        if (!label) {
          problems.add(id + ": no final label (adjudicate it first)");
          continue;
        }
        if (!schema.valid_cd(label->cd)) {
          problems.add(id + ": clearness degree " + std::to_string(label->cd) + " is not in the schema");
          continue;
        }
        cv::Mat frame = read_frame(project.frame_path(id));
        cv::Mat mask = read_mask(project.final_mask_path(id));
        if (frame.size() != mask.size()) {
          problems.add(id + ": frame and mask sizes differ");
          continue;
        }
        const MaskCheck check = check_mask_values(mask, schema.num_tissue(), schema.ignore_index);
        if (check.bad_pixels > 0) {
          problems.add(id + ": mask value " + std::to_string(check.first_bad_value) +
                       " is not a tissue class");
          continue;
        }
        cv::Mat rgb, small_img, small_mask;
        cv::cvtColor(frame, rgb, cv::COLOR_BGR2RGB);
        const bool shrink = frame.cols >= size && frame.rows >= size;
        cv::resize(rgb, small_img, cv::Size(size, size), 0, 0,
                   shrink ? cv::INTER_AREA : cv::INTER_LINEAR);
        // Class indices must never blend: nearest neighbour for the mask.
        cv::resize(mask, small_mask, cv::Size(size, size), 0, 0, cv::INTER_NEAREST);
        for (int r = 0; r < size; ++r) {
          std::memcpy(images.data() + i * image_bytes + std::size_t(r) * size * 3,
                      small_img.ptr<std::uint8_t>(r), std::size_t(size) * 3);
          std::memcpy(masks.data() + i * mask_bytes + std::size_t(r) * size,
                      small_mask.ptr<std::uint8_t>(r), std::size_t(size));
        }
        cds[i] = static_cast<std::uint8_t>(label->cd);
        ++summary.cd_histogram[label->cd];
      } catch (const Error& e) {
        problems.add(e.what());
      }
    }
    if (problems.count > 0)
      throw Error("split '" + options.split + "' subset '" + subset + "'",
                  std::to_string(problems.count) + " frame(s) could not be packed: " +
                      problems.first);
    const auto n = static_cast<std::int64_t>(ids.size());
    packed.ids = ids;
    packed.images = st::Tensor(st::DType::U8, {n, size, size, 3}, std::move(images));
    packed.masks = st::Tensor(st::DType::U8, {n, size, size}, std::move(masks));
    packed.cd = st::Tensor(st::DType::U8, {n}, std::move(cds));
    summary.path = out_dir / (subset + ".safetensors");
    summary.count = static_cast<int>(n);
    write_packed(summary.path, packed);
    summaries.push_back(std::move(summary));
  }
  return summaries;
}

}  // namespace excap::trainer
