#include "model/backbone.h"

#include <array>
#include <type_traits>

#include "common/error.h"

namespace excap::model {

namespace nn = torch::nn;

std::int64_t conv_macs(const nn::Conv2dImpl& conv, FeatureShape& s) {
  const auto& o = conv.options;
  const auto k = *o.kernel_size(), st = *o.stride(), d = *o.dilation();
  // Unqualified visit: ADL picks c10::visit (LibTorch 1.x) or std::visit (2.x).
  std::array<std::int64_t, 2> pad{-1, -1};
  visit(
      [&](const auto& p) {
        if constexpr (std::is_same_v<std::decay_t<decltype(p)>, torch::ExpandingArray<2>>) pad = *p;
      },
      o.padding());
  if (pad[0] < 0) throw Error("conv_macs", "only explicit conv padding is supported");
  const std::int64_t h = (s.h + 2 * pad[0] - d[0] * (k[0] - 1) - 1) / st[0] + 1;
  const std::int64_t w = (s.w + 2 * pad[1] - d[1] * (k[1] - 1) - 1) / st[1] + 1;
  s = {o.out_channels(), h, w};
  return h * w * o.out_channels() * (o.in_channels() / o.groups()) * k[0] * k[1];
}

void pool_shape(FeatureShape& s, std::int64_t kernel, std::int64_t stride, std::int64_t padding) {
  s.h = (s.h + 2 * padding - kernel) / stride + 1;
  s.w = (s.w + 2 * padding - kernel) / stride + 1;
}

torch::Tensor BackboneImpl::forward(const torch::Tensor& x) {
  torch::Tensor y = stem(x);
  for (int i = 0; i < kStages; ++i) y = stage(i, y);
  return y;
}

namespace {

nn::Conv2d conv(std::int64_t in, std::int64_t out, std::int64_t k, std::int64_t stride = 1,
                std::int64_t padding = 0, std::int64_t dilation = 1) {
  return nn::Conv2d(
      nn::Conv2dOptions(in, out, k).stride(stride).padding(padding).dilation(dilation).bias(false));
}

}  // namespace

// ---- ResNet ----

ResBlockImpl::ResBlockImpl(bool bottleneck, std::int64_t inplanes, std::int64_t planes,
                           std::int64_t stride, std::int64_t dilation, bool with_downsample)
    : bottleneck_(bottleneck) {
  const std::int64_t out = planes * (bottleneck ? 4 : 1);
  if (bottleneck) {
    // torchvision Bottleneck (v1.5): 1x1, 3x3 carrying the stride and dilation, 1x1 x4.
    conv1 = register_module("conv1", conv(inplanes, planes, 1));
    bn1 = register_module("bn1", SyncableBatchNorm2d(planes));
    conv2 = register_module("conv2", conv(planes, planes, 3, stride, dilation, dilation));
    bn2 = register_module("bn2", SyncableBatchNorm2d(planes));
    conv3 = register_module("conv3", conv(planes, out, 1));
    bn3 = register_module("bn3", SyncableBatchNorm2d(out));
  } else {
    // torchvision BasicBlock refuses dilation > 1; we dilate both 3x3 convs as
    // mmsegmentation's ResNet does, so ResNet-18/34 can also run at stride 8.
    conv1 = register_module("conv1", conv(inplanes, planes, 3, stride, dilation, dilation));
    bn1 = register_module("bn1", SyncableBatchNorm2d(planes));
    conv2 = register_module("conv2", conv(planes, planes, 3, 1, dilation, dilation));
    bn2 = register_module("bn2", SyncableBatchNorm2d(planes));
  }
  if (with_downsample) {
    downsample = register_module(
        "downsample", nn::Sequential(conv(inplanes, out, 1, stride), SyncableBatchNorm2d(out)));
  }
}

std::int64_t ResBlockImpl::out_channels() const {
  return bottleneck_ ? bn3->options.num_features() : bn2->options.num_features();
}

torch::Tensor ResBlockImpl::forward(const torch::Tensor& x) {
  torch::Tensor y = torch::relu(bn1(conv1(x)));
  y = bn2(conv2(y));
  if (bottleneck_) y = bn3(conv3(torch::relu(y)));
  const torch::Tensor identity = downsample ? downsample->forward(x) : x;
  return torch::relu(y + identity);
}

std::int64_t ResBlockImpl::macs(FeatureShape& s) const {
  FeatureShape skip = s;
  std::int64_t m = conv_macs(*conv1, s) + conv_macs(*conv2, s);
  if (bottleneck_) m += conv_macs(*conv3, s);
  if (downsample) m += conv_macs(*downsample->ptr(0)->as<nn::Conv2d>(), skip);
  return m;
}

ResNetImpl::ResNetImpl(const ResNetSpec& spec, bool dilated, int num_classes) : spec_(spec) {
  const std::int64_t w = spec.base_width;
  conv1 = register_module("conv1", conv(3, w, 7, 2, 3));
  bn1 = register_module("bn1", SyncableBatchNorm2d(w));
  std::int64_t inplanes = w, dilation = 1;
  const int expansion = spec.bottleneck ? 4 : 1;
  for (int i = 0; i < kStages; ++i) {
    const std::int64_t planes = w << i;
    std::int64_t stride = i == 0 ? 1 : 2;
    const std::int64_t previous_dilation = dilation;
    // replace_stride_with_dilation=[False, True, True]: layer3/4 trade stride for dilation.
    if (dilated && i >= 2) {
      dilation *= stride;
      stride = 1;
    }
    nn::ModuleList layer;
    const bool ds = stride != 1 || inplanes != planes * expansion;
    // torchvision gives the first block the previous dilation, the rest the new one.
    layer->push_back(ResBlock(spec.bottleneck, inplanes, planes, stride, previous_dilation, ds));
    inplanes = planes * expansion;
    for (int b = 1; b < spec.blocks[i]; ++b)
      layer->push_back(ResBlock(spec.bottleneck, inplanes, planes, 1, dilation, false));
    layers_.push_back(register_module("layer" + std::to_string(i + 1), layer));
  }
  if (num_classes > 0) fc = register_module("fc", nn::Linear(inplanes, num_classes));
  // torchvision's init: kaiming normal (fan_out, relu) for convs, BN weight 1 and bias 0.
  for (auto& m : modules(false)) {
    if (auto* c = m->as<nn::Conv2d>())
      nn::init::kaiming_normal_(c->weight, 0, torch::kFanOut, torch::kReLU);
    if (auto* b = m->as<nn::BatchNorm2d>()) {
      nn::init::ones_(b->weight);
      nn::init::zeros_(b->bias);
    }
  }
}

std::int64_t ResNetImpl::stage_channels(int i) const {
  return (static_cast<std::int64_t>(spec_.base_width) << i) * (spec_.bottleneck ? 4 : 1);
}

torch::Tensor ResNetImpl::stem(const torch::Tensor& x) {
  return torch::max_pool2d(torch::relu(bn1(conv1(x))), 3, 2, 1);
}

torch::Tensor ResNetImpl::stage(int i, const torch::Tensor& x) {
  torch::Tensor y = x;
  for (const auto& block : *layers_.at(i)) y = block->as<ResBlock>()->forward(y);
  return y;
}

std::int64_t ResNetImpl::backbone_macs(FeatureShape& s) const {
  std::int64_t m = conv_macs(*conv1, s);
  pool_shape(s, 3, 2, 1);
  for (const auto& layer : layers_)
    for (const auto& block : *layer) m += block->as<ResBlock>()->macs(s);
  return m;
}

torch::Tensor ResNetImpl::classify(const torch::Tensor& features) {
  if (!fc) throw Error("resnet", "built without the ImageNet classifier (num_classes = 0)");
  return fc(torch::adaptive_avg_pool2d(features, {1, 1}).flatten(1));
}

std::int64_t ResNetImpl::classifier_macs() const {
  return fc ? fc->options.in_features() * fc->options.out_features() : 0;
}

BackbonePtr make_backbone(const BackboneOptions& o) {
  // Block counts of torchvision's resnet18/34/50/101 and densenet121.
  if (o.name == "resnet18")
    return std::make_shared<ResNetImpl>(ResNetSpec{false, {2, 2, 2, 2}, 64}, o.dilated,
                                        o.num_classes);
  if (o.name == "resnet34")
    return std::make_shared<ResNetImpl>(ResNetSpec{false, {3, 4, 6, 3}, 64}, o.dilated,
                                        o.num_classes);
  if (o.name == "resnet50")
    return std::make_shared<ResNetImpl>(ResNetSpec{true, {3, 4, 6, 3}, 64}, o.dilated,
                                        o.num_classes);
  if (o.name == "resnet101")
    return std::make_shared<ResNetImpl>(ResNetSpec{true, {3, 4, 23, 3}, 64}, o.dilated,
                                        o.num_classes);
  if (o.name == "densenet121")
    return std::make_shared<DenseNetImpl>(std::vector<int>{6, 12, 24, 16}, 32, 64, 4, o.dilated,
                                          o.num_classes);
  // A ResNet-18 shape at 1/8 of the width and one block per stage: CPU tests and the demo.
  if (o.name == "tiny")
    return std::make_shared<ResNetImpl>(ResNetSpec{false, {1, 1, 1, 1}, 8}, o.dilated,
                                        o.num_classes);
  throw Error("backbone", "unknown backbone '" + o.name + "'");
}

}  // namespace excap::model
