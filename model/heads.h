// Task heads and the modules that connect two task branches: classification
// branch, FCN and ASPP segmentation heads, the cross fusion module (paper
// Eq. 1) and the cross-stitch unit (Misra et al. 2016).
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "model/backbone.h"

namespace excap::model {

// 3x3 (or 1x1) conv without bias, BN, ReLU: mmsegmentation's ConvModule.
class ConvBNReLUImpl : public torch::nn::Module {
 public:
  ConvBNReLUImpl(std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t dilation = 1);
  torch::Tensor forward(const torch::Tensor& x);
  std::int64_t macs(FeatureShape& s) const { return conv_macs(*conv, s); }

 private:
  torch::nn::Conv2d conv{nullptr};
  SyncableBatchNorm2d bn{nullptr};
};
TORCH_MODULE(ConvBNReLU);

// Global average pooling, fc1 + ReLU (the hidden feature X_cls in R^C1 that
// cross fusion reads), fc2 to the class logits. The paper's branch is "mainly
// constructed by fully connected layers" (section 3.1).
class ClsBranchImpl : public torch::nn::Module {
 public:
  ClsBranchImpl(std::int64_t in_channels, std::int64_t hidden, std::int64_t num_classes);
  torch::Tensor hidden(const torch::Tensor& feature_map);  // [N,C,H,W] -> [N,C1]
  torch::Tensor logits(const torch::Tensor& x_cls);        // [N,C1] -> [N,classes]
  std::int64_t hidden_channels() const { return fc1->options.out_features(); }
  std::int64_t macs() const;

 private:
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(ClsBranch);

// FCN-style head (mmsegmentation FCNHead, num_convs=2, no concat): convs.0
// gives the hidden feature X_seg in R^{C2xHxW}; convs.1, dropout and the 1x1
// conv_seg give the logits at the feature resolution.
class FCNHeadImpl : public torch::nn::Module {
 public:
  FCNHeadImpl(std::int64_t in_channels, std::int64_t channels, std::int64_t num_classes,
              double dropout);
  torch::Tensor hidden(const torch::Tensor& feature_map);
  torch::Tensor logits(const torch::Tensor& x_seg);
  std::int64_t channels() const { return channels_; }
  std::int64_t macs(FeatureShape s) const;

 private:
  std::int64_t channels_;
  torch::nn::ModuleList convs{nullptr};
  torch::nn::Dropout2d dropout{nullptr};
  torch::nn::Conv2d conv_seg{nullptr};
};
TORCH_MODULE(FCNHead);

// DeepLabv3 ASPP head (Chen et al. 2017; mmsegmentation ASPPHead): image
// pooling branch, 1x1 branch and three dilated 3x3 branches, a 3x3 bottleneck
// over their concatenation, dropout, 1x1 conv_seg.
class ASPPHeadImpl : public torch::nn::Module {
 public:
  ASPPHeadImpl(std::int64_t in_channels, std::int64_t channels, std::int64_t num_classes,
               std::vector<std::int64_t> dilations, double dropout);
  torch::Tensor forward(const torch::Tensor& feature_map);
  std::int64_t macs(FeatureShape s) const;

 private:
  ConvBNReLU image_pool{nullptr};
  torch::nn::ModuleList aspp{nullptr};
  ConvBNReLU bottleneck{nullptr};
  torch::nn::Dropout2d dropout{nullptr};
  torch::nn::Conv2d conv_seg{nullptr};
};
TORCH_MODULE(ASPPHead);

// Cross fusion, paper Eq. 1, with one shared 1x1 conv M: C2 -> C1 (no bias:
// a bias has no transpose) and its transpose M^T: C1 -> C2:
//   X~cls = X_cls + Pool(M(X_seg)),   X~seg = X_seg + M^T(Pad(X_cls)),
// Pool global average ("avg", default) or max ("max"), Pad broadcasting X_cls over HxW.
class CrossFusionImpl : public torch::nn::Module {
 public:
  CrossFusionImpl(std::int64_t cls_channels, std::int64_t seg_channels, bool max_pool);
  // x_cls [N,C1], x_seg [N,C2,H,W] -> (X~cls, X~seg)
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& x_cls,
                                                  const torch::Tensor& x_seg);
  std::int64_t macs(std::int64_t h, std::int64_t w) const;
  const torch::Tensor& weight() const { return m->weight; }
  bool max_pool() const { return max_pool_; }

 private:
  bool max_pool_;
  torch::nn::Conv2d m{nullptr};
};
TORCH_MODULE(CrossFusion);

// Cross-stitch unit (Misra et al. 2016, Eq. 1): [a'; b'] = [[a_SS, a_SD]; [a_DS, a_DD]] [a; b],
// one learned 2x2 matrix per stage, initialised to 0.9 on the diagonal and 0.1 off it (their
// section 4).
class CrossStitchUnitImpl : public torch::nn::Module {
 public:
  CrossStitchUnitImpl();
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& a, const torch::Tensor& b);
  torch::Tensor alpha;
};
TORCH_MODULE(CrossStitchUnit);

}  // namespace excap::model
