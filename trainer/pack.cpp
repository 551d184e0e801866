#include "trainer/pack.h"

#include <opencv2/imgproc.hpp>

#include "common/error.h"
#include "curation/split.h"
#include "media/imageio.h"
#include "store/project.h"
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

// The subset's header fields, before any frame is read.
PackedSubset empty_subset(const std::string& split, const std::string& subset,
                          const LabelSchema& schema, int size) {
  PackedSubset packed;
  packed.split = split;
  packed.subset = subset;
  packed.size = size;
  packed.ignore_index = schema.ignore_index;
  packed.cd_names = names_of(schema, true);
  packed.tissue_names = names_of(schema, false);
  return packed;
}

// Where one frame's packed bytes go.
struct FrameSlot {
  std::uint8_t* image;
  std::uint8_t* mask;
  std::uint8_t* cd;
};

// Checks and packs one frame; returns what is wrong with it, or "" when packed.
std::string pack_frame(const Project& project, const LabelSchema& schema, const std::string& id,
                       int size, const FrameSlot& slot) {
  auto label = project.load_final(id);
  if (!label) return id + ": no final label (adjudicate it first)";
  if (!schema.valid_cd(label->cd))
    return id + ": clearness degree " + std::to_string(label->cd) + " is not in the schema";
  cv::Mat frame = read_frame(project.frame_path(id));
  cv::Mat mask = read_mask(project.final_mask_path(id));
  if (frame.size() != mask.size()) return id + ": frame and mask sizes differ";
  const MaskCheck check = check_mask_values(mask, schema.num_tissue(), schema.ignore_index);
  if (check.bad_pixels > 0)
    return id + ": mask value " + std::to_string(check.first_bad_value) + " is not a tissue class";
  pack_image(frame, size, slot.image);
  pack_mask(mask, size, slot.mask);
  *slot.cd = static_cast<std::uint8_t>(label->cd);
  return "";
}

// Packs every frame of one subset and writes <out_dir>/<subset>.safetensors.
PackedSubsetSummary pack_subset(const Project& project, const std::string& split_name,
                                const std::string& subset, const std::vector<std::string>& ids,
                                int size, const fs::path& out_dir) {
  const LabelSchema& schema = project.meta().schema;
  const std::size_t image_bytes = std::size_t(size) * size * 3,
                    mask_bytes = std::size_t(size) * size;
  std::vector<std::uint8_t> images(ids.size() * image_bytes), masks(ids.size() * mask_bytes),
      cds(ids.size());
  PackedSubsetSummary summary;
  summary.subset = subset;
  summary.cd_histogram.assign(schema.num_cd(), 0);
  Problems problems;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    try {
      const FrameSlot slot{images.data() + i * image_bytes, masks.data() + i * mask_bytes, &cds[i]};
      const std::string problem = pack_frame(project, schema, ids[i], size, slot);
      if (problem.empty())
        ++summary.cd_histogram[cds[i]];
      else
        problems.add(problem);
    } catch (const Error& e) {
      problems.add(e.what());
    }
  }
  if (problems.count > 0)
    throw Error(
        "split '" + split_name + "' subset '" + subset + "'",
        std::to_string(problems.count) + " frame(s) could not be packed: " + problems.first);
  PackedSubset packed = empty_subset(split_name, subset, schema, size);
  const auto n = static_cast<std::int64_t>(ids.size());
  packed.ids = ids;
  packed.images = st::Tensor(st::DType::U8, {n, size, size, 3}, std::move(images));
  packed.masks = st::Tensor(st::DType::U8, {n, size, size}, std::move(masks));
  packed.cd = st::Tensor(st::DType::U8, {n}, std::move(cds));
  summary.path = out_dir / (subset + ".safetensors");
  summary.count = static_cast<int>(n);
  write_packed(summary.path, packed);
  return summary;
}
}  // namespace

void pack_image(const cv::Mat& bgr, int size, std::uint8_t* rgb_out) {
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  const bool shrink = bgr.cols >= size && bgr.rows >= size;
  cv::Mat out(size, size, CV_8UC3, rgb_out);
  cv::resize(rgb, out, cv::Size(size, size), 0, 0, shrink ? cv::INTER_AREA : cv::INTER_LINEAR);
  if (out.data != rgb_out) throw Error("pack", "resize reallocated its output");
}

void pack_mask(const cv::Mat& mask, int size, std::uint8_t* mask_out) {
  cv::Mat out(size, size, CV_8UC1, mask_out);
  cv::resize(mask, out, cv::Size(size, size), 0, 0, cv::INTER_NEAREST);
  if (out.data != mask_out) throw Error("pack", "resize reallocated its output");
}

std::vector<PackedSubsetSummary> pack_split(const Project& project, const PackOptions& options) {
  if (options.size < 16 || options.size > 4096)
    throw Error("--size", "must be between 16 and 4096 pixels");
  const Split split = load_split(project, options.split);  // curation/split.h (`excap split`)
  const fs::path out_dir = options.out_dir.empty()
                               ? packed_dir(project.root(), options.split, options.size)
                               : options.out_dir;
  std::vector<PackedSubsetSummary> summaries;
  for (const auto& [subset, ids] : split.subsets)
    summaries.push_back(pack_subset(project, options.split, subset, ids, options.size, out_dir));
  return summaries;
}

}  // namespace excap::trainer
