#include "trainer/data.h"

#include <algorithm>
#include <numeric>
#include <random>

#include "common/error.h"

namespace excap::trainer {

namespace {
// splitmix64: turns (seed, stream, index) into independent engine seeds.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}
std::uint64_t stream_seed(std::uint64_t seed, std::uint64_t stream, std::uint64_t index) {
  return mix(mix(mix(seed) ^ stream) ^ index);
}

torch::Tensor view_u8(const safetensors::Tensor& t) {
  // The packed file's buffer lives as long as SubsetTensors::info; no copy.
  return torch::from_blob(const_cast<std::uint8_t*>(t.data()), t.shape(), torch::kUInt8);
}
}  // namespace

SubsetTensors load_subset(const fs::path& packed_file) {
  SubsetTensors s;
  s.info = read_packed(packed_file);
  if (s.info.count() == 0) throw Error(packed_file.string(), "the subset holds no frames");
  s.images = view_u8(s.info.images);
  s.masks = view_u8(s.info.masks);
  s.cd = view_u8(s.info.cd).to(torch::kInt64);
  return s;
}

std::vector<std::int64_t> batch_indices(std::uint64_t seed, std::int64_t iter, int batch,
                                        int count) {
  std::vector<std::int64_t> out;
  out.reserve(batch);
  std::int64_t cached_epoch = -1;
  std::vector<std::int64_t> perm(count);
  for (int b = 0; b < batch; ++b) {
    const std::int64_t pos = iter * batch + b;
    const std::int64_t epoch = pos / count;
    if (epoch != cached_epoch) {
      std::iota(perm.begin(), perm.end(), 0);
      std::mt19937_64 rng(stream_seed(seed, 1, static_cast<std::uint64_t>(epoch)));
      // Fisher-Yates by hand: std::shuffle's draws differ between standard libraries.
      for (int i = count - 1; i > 0; --i) std::swap(perm[i], perm[rng() % (i + 1)]);
      cached_epoch = epoch;
    }
    out.push_back(perm[pos % count]);
  }
  return out;
}

AugmentParams draw_augment(std::uint64_t seed, std::int64_t iter, int slot) {
  std::mt19937_64 rng(stream_seed(seed, 2, static_cast<std::uint64_t>(iter) * 4096 + slot));
  auto unit = [&] { return double(rng() >> 11) * 0x1.0p-53; };
  AugmentParams p;
  p.hflip = unit() < 0.5;
  p.vflip = unit() < 0.5;
  p.rot90 = static_cast<int>(rng() % 4);
  p.brightness = static_cast<float>(0.9 + 0.2 * unit());
  p.contrast = static_cast<float>(0.9 + 0.2 * unit());
  p.saturation = static_cast<float>(0.9 + 0.2 * unit());
  return p;
}

torch::Tensor normalize_unit(const torch::Tensor& x) {
  // ImageNet statistics (DESIGN.md recipe; the backbones are torchvision's).
  static const float kMean[3] = {0.485f, 0.456f, 0.406f}, kStd[3] = {0.229f, 0.224f, 0.225f};
  auto mean = torch::tensor(at::ArrayRef<float>(kMean, 3)).to(x.device()).view({1, 3, 1, 1});
  auto stdv = torch::tensor(at::ArrayRef<float>(kStd, 3)).to(x.device()).view({1, 3, 1, 1});
  return (x - mean) / stdv;
}

torch::Tensor normalize_images(const torch::Tensor& nhwc_uint8) {
  return normalize_unit(nhwc_uint8.permute({0, 3, 1, 2}).to(torch::kFloat32).div_(255.0f));
}

namespace {
torch::Tensor grayscale(const torch::Tensor& x) {  // x: [B,3,H,W] in [0,1]; torchvision weights
  return (x.select(1, 0) * 0.299f + x.select(1, 1) * 0.587f + x.select(1, 2) * 0.114f).unsqueeze(1);
}

torch::Tensor colour_jitter(torch::Tensor x, const std::vector<AugmentParams>& aug) {
  const auto b = static_cast<std::int64_t>(aug.size());
  std::vector<float> br(b), ct(b), sa(b);
  for (std::int64_t i = 0; i < b; ++i)
    br[i] = aug[i].brightness, ct[i] = aug[i].contrast, sa[i] = aug[i].saturation;
  auto col = [&](std::vector<float>& v) {
    return torch::tensor(v).to(x.device()).view({b, 1, 1, 1});
  };
  x = (x * col(br)).clamp_(0, 1);
  auto mean = grayscale(x).mean({1, 2, 3}, /*keepdim=*/true);
  x = ((x - mean) * col(ct) + mean).clamp_(0, 1);
  auto gray = grayscale(x);
  return ((x - gray) * col(sa) + gray).clamp_(0, 1);
}
}  // namespace

Batch make_batch(const SubsetTensors& data, const std::vector<std::int64_t>& rows,
                 const torch::Device& device, const std::vector<AugmentParams>* augment,
                 bool channels_last) {
  auto idx = torch::tensor(rows, torch::kInt64);
  auto images = data.images.index_select(0, idx);
  auto masks = data.masks.index_select(0, idx);
  auto cd = data.cd.index_select(0, idx);
  if (device.is_cuda()) {
    images = images.pin_memory().to(device, /*non_blocking=*/true);
    masks = masks.pin_memory().to(device, /*non_blocking=*/true);
    cd = cd.pin_memory().to(device, /*non_blocking=*/true);
  }
  if (augment) {
    const bool square = images.size(1) == images.size(2);
    std::vector<torch::Tensor> xs, ms;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const AugmentParams& a = (*augment)[i];
      auto x = images[i];  // [H, W, 3]
      auto m = masks[i];   // [H, W]
      if (a.hflip) x = x.flip({1}), m = m.flip({1});
      if (a.vflip) x = x.flip({0}), m = m.flip({0});
      if (square && a.rot90 != 0) x = x.rot90(a.rot90, {0, 1}), m = m.rot90(a.rot90, {0, 1});
      xs.push_back(x);
      ms.push_back(m);
    }
    images = torch::stack(xs);
    masks = torch::stack(ms);
  }
  Batch b;
  auto x = images.permute({0, 3, 1, 2}).to(torch::kFloat32).div_(255.0f);
  if (augment) x = colour_jitter(x, *augment);
  x = normalize_unit(x);
  b.images = channels_last ? x.contiguous(at::MemoryFormat::ChannelsLast) : x.contiguous();
  b.masks = masks.to(torch::kInt64);
  b.cd = cd;
  return b;
}

}  // namespace excap::trainer
