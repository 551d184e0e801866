#include "model/heads.h"

#include "common/error.h"

namespace excap::model {

namespace nn = torch::nn;

ConvBNReLUImpl::ConvBNReLUImpl(std::int64_t in, std::int64_t out, std::int64_t kernel,
                               std::int64_t dilation) {
  const std::int64_t pad = kernel == 1 ? 0 : dilation * (kernel / 2);
  conv = register_module(
      "conv",
      nn::Conv2d(nn::Conv2dOptions(in, out, kernel).padding(pad).dilation(dilation).bias(false)));
  bn = register_module("bn", SyncableBatchNorm2d(out));
}

torch::Tensor ConvBNReLUImpl::forward(const torch::Tensor& x) { return torch::relu(bn(conv(x))); }

ClsBranchImpl::ClsBranchImpl(std::int64_t in_channels, std::int64_t hidden,
                             std::int64_t num_classes) {
  fc1 = register_module("fc1", nn::Linear(in_channels, hidden));
  fc2 = register_module("fc2", nn::Linear(hidden, num_classes));
}

torch::Tensor ClsBranchImpl::hidden(const torch::Tensor& feature_map) {
  return torch::relu(fc1(feature_map.mean({2, 3})));
}

torch::Tensor ClsBranchImpl::logits(const torch::Tensor& x_cls) { return fc2(x_cls); }

std::int64_t ClsBranchImpl::macs() const {
  return fc1->options.in_features() * fc1->options.out_features() +
         fc2->options.in_features() * fc2->options.out_features();
}

FCNHeadImpl::FCNHeadImpl(std::int64_t in_channels, std::int64_t channels, std::int64_t num_classes,
                         double p)
    : channels_(channels) {
  convs = register_module("convs", nn::ModuleList(ConvBNReLU(in_channels, channels, 3),
                                                  ConvBNReLU(channels, channels, 3)));
  dropout = register_module("dropout", nn::Dropout2d(p));
  conv_seg = register_module("conv_seg", nn::Conv2d(nn::Conv2dOptions(channels, num_classes, 1)));
}

torch::Tensor FCNHeadImpl::hidden(const torch::Tensor& feature_map) {
  return convs->ptr<ConvBNReLUImpl>(0)->forward(feature_map);
}

torch::Tensor FCNHeadImpl::logits(const torch::Tensor& x_seg) {
  return conv_seg(dropout(convs->ptr<ConvBNReLUImpl>(1)->forward(x_seg)));
}

std::int64_t FCNHeadImpl::macs(FeatureShape s) const {
  std::int64_t m = 0;
  for (std::size_t i = 0; i < convs->size(); ++i) m += convs->ptr<ConvBNReLUImpl>(i)->macs(s);
  return m + conv_macs(*conv_seg, s);
}

ASPPHeadImpl::ASPPHeadImpl(std::int64_t in_channels, std::int64_t channels,
                           std::int64_t num_classes, std::vector<std::int64_t> dilations,
                           double p) {
  image_pool = register_module("image_pool", ConvBNReLU(in_channels, channels, 1));
  aspp = register_module("aspp", nn::ModuleList());
  for (std::int64_t d : dilations)
    aspp->push_back(ConvBNReLU(in_channels, channels, d == 1 ? 1 : 3, d));
  bottleneck =
      register_module("bottleneck", ConvBNReLU((dilations.size() + 1) * channels, channels, 3));
  dropout = register_module("dropout", nn::Dropout2d(p));
  conv_seg = register_module("conv_seg", nn::Conv2d(nn::Conv2dOptions(channels, num_classes, 1)));
}

torch::Tensor ASPPHeadImpl::forward(const torch::Tensor& x) {
  std::vector<torch::Tensor> branches;
  const torch::Tensor pooled = image_pool(torch::adaptive_avg_pool2d(x, {1, 1}));
  branches.push_back(
      pooled.expand({-1, -1, x.size(2), x.size(3)}));  // bilinear from 1x1 is a broadcast
  for (std::size_t i = 0; i < aspp->size(); ++i)
    branches.push_back(aspp->ptr<ConvBNReLUImpl>(i)->forward(x));
  return conv_seg(dropout(bottleneck(torch::cat(branches, 1))));
}

std::int64_t ASPPHeadImpl::macs(FeatureShape s) const {
  FeatureShape one{s.c, 1, 1};
  std::int64_t m = image_pool->macs(one);
  FeatureShape out = s;
  for (std::size_t i = 0; i < aspp->size(); ++i) {
    FeatureShape b = s;
    m += aspp->ptr<ConvBNReLUImpl>(i)->macs(b);
    out = b;
  }
  out.c *= static_cast<std::int64_t>(aspp->size() + 1);
  m += bottleneck->macs(out);
  return m + conv_macs(*conv_seg, out);
}

CrossFusionImpl::CrossFusionImpl(std::int64_t cls_channels, std::int64_t seg_channels,
                                 bool max_pool)
    : max_pool_(max_pool) {
  m = register_module("m",
                      nn::Conv2d(nn::Conv2dOptions(seg_channels, cls_channels, 1).bias(false)));
}

std::pair<torch::Tensor, torch::Tensor> CrossFusionImpl::forward(const torch::Tensor& x_cls,
                                                                 const torch::Tensor& x_seg) {
  const std::int64_t c1 = m->weight.size(0), c2 = m->weight.size(1);
  if (x_cls.dim() != 2 || x_cls.size(1) != c1 || x_seg.dim() != 4 || x_seg.size(1) != c2)
    throw Error("cross fusion", "expects X_cls [N," + std::to_string(c1) + "] and X_seg [N," +
                                    std::to_string(c2) + ",H,W]");
  const torch::Tensor to_cls = m(x_seg);  // M(X_seg): [N,C1,H,W]
  const torch::Tensor pooled = max_pool_ ? to_cls.amax({2, 3}) : to_cls.mean({2, 3});
  // M^T(Pad(X_cls)): Pad is constant over HxW, so the transposed 1x1 conv is one
  // [N,C1] x [C1,C2] product broadcast over HxW (same numbers, H*W times fewer MACs).
  const torch::Tensor to_seg = torch::matmul(x_cls, m->weight.view({c1, c2}));
  return {x_cls + pooled, x_seg + to_seg.view({-1, c2, 1, 1})};
}

std::int64_t CrossFusionImpl::macs(std::int64_t h, std::int64_t w) const {
  const std::int64_t c1 = m->weight.size(0), c2 = m->weight.size(1);
  return c1 * c2 * h * w + c1 * c2;
}

CrossStitchUnitImpl::CrossStitchUnitImpl() {
  alpha = register_parameter("alpha", torch::tensor({{0.9f, 0.1f}, {0.1f, 0.9f}}));
}

std::pair<torch::Tensor, torch::Tensor> CrossStitchUnitImpl::forward(const torch::Tensor& a,
                                                                     const torch::Tensor& b) {
  return {alpha[0][0] * a + alpha[0][1] * b, alpha[1][0] * a + alpha[1][1] * b};
}

}  // namespace excap::model
