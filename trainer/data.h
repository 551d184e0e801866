// Packed subsets as tensors, the deterministic batch sampler and the
// augmentation. Randomness comes from (seed, iteration) alone, so a resumed
// run draws exactly the batches and augmentations of an uninterrupted one.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "trainer/packed.h"

namespace excap::trainer {

// A packed subset held as CPU uint8 tensors (NHWC images, NHW masks, N labels).
struct SubsetTensors {
  PackedSubset info;     // ids, names, size (its raw buffers stay alive here)
  torch::Tensor images;  // uint8 [N, H, W, 3]
  torch::Tensor masks;   // uint8 [N, H, W]
  torch::Tensor cd;      // int64 [N]
  int count() const { return info.count(); }
};
SubsetTensors load_subset(const fs::path& packed_file);

struct Batch {
  torch::Tensor images;  // float [B, 3, H, W], normalised (ImageNet mean/std), on the device
  torch::Tensor masks;   // int64 [B, H, W], 255 = ignore
  torch::Tensor cd;      // int64 [B]
};

// Row indices of batch `iter`: epochs are seeded permutations laid end to end.
std::vector<std::int64_t> batch_indices(std::uint64_t seed, std::int64_t iter, int batch,
                                        int count);

struct AugmentParams {
  bool hflip = false, vflip = false;
  int rot90 = 0;  // quarter turns (square inputs only)
  float brightness = 1, contrast = 1, saturation = 1;
};
// Flips, 90-degree rotations (capsule frames have no canonical orientation)
// and mild colour jitter (+-10%): the draw for sample `slot` of batch `iter`.
AugmentParams draw_augment(std::uint64_t seed, std::int64_t iter, int slot);

// Gathers rows, uploads them (pinned + non_blocking on CUDA), augments and
// normalises on the device. Geometric transforms act identically on image and mask.
Batch make_batch(const SubsetTensors& data, const std::vector<std::int64_t>& rows,
                 const torch::Device& device, const std::vector<AugmentParams>* augment,
                 bool channels_last);

// uint8 NHWC -> float NCHW in [0,1] -> ImageNet mean/std normalised, on the input's device.
torch::Tensor normalize_images(const torch::Tensor& nhwc_uint8);
// The last step alone: float NCHW in [0,1] -> ImageNet normalised.
torch::Tensor normalize_unit(const torch::Tensor& nchw_unit);

}  // namespace excap::trainer
