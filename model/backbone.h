// Backbones with torchvision's exact parameter and buffer names
// (`layer1.0.downsample.1.running_var`, `features.denseblock1.denselayer1.norm1.weight`),
// so torchvision state dicts load by name. Each is a stem followed by four
// stages; multi-task models use the stages to interleave two columns.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/sync_bn.h"

namespace excap::model {

// Channels and spatial size of a feature map, for the analytic MAC count.
struct FeatureShape {
  std::int64_t c = 0, h = 0, w = 0;
};

// Multiply-accumulates of one conv at input shape `s`; `s` becomes the output shape.
std::int64_t conv_macs(const torch::nn::Conv2dImpl& conv, FeatureShape& s);
// Output size of a pooling window (PyTorch's floor formula, ceil_mode off).
void pool_shape(FeatureShape& s, std::int64_t kernel, std::int64_t stride, std::int64_t padding);

class BackboneImpl : public torch::nn::Module {
 public:
  static constexpr int kStages = 4;
  virtual torch::Tensor stem(const torch::Tensor& x) = 0;
  virtual torch::Tensor stage(int i, const torch::Tensor& x) = 0;  // i in [0, 4)
  virtual std::int64_t out_channels() const = 0;
  virtual std::int64_t stage_channels(int i) const = 0;
  // Analytic conv MAC count of stem + stages; `s` goes from input to output shape.
  virtual std::int64_t backbone_macs(FeatureShape& s) const = 0;

  torch::Tensor forward(const torch::Tensor& x);  // stem, then the four stages
  // The ImageNet classifier (torchvision's `fc` / `classifier`), only when
  // built with num_classes > 0: global average pooling + linear, as torchvision.
  virtual torch::Tensor classify(const torch::Tensor& features) = 0;
  virtual std::int64_t classifier_macs() const = 0;
};

using BackbonePtr = std::shared_ptr<BackboneImpl>;

struct BackboneOptions {
  std::string name = "resnet50";  // resnet18/34/50/101, densenet121, tiny
  bool dilated = false;           // output stride 8 instead of 32
  int num_classes = 0;            // > 0: add torchvision's ImageNet classifier (for parity)
};

// Throws excap::Error for an unknown name.
BackbonePtr make_backbone(const BackboneOptions& opts);

// ---- ResNet (torchvision.models.resnet, v1.5: stride on the 3x3 conv) ----

struct ResNetSpec {
  bool bottleneck = false;
  std::vector<int> blocks;  // per stage
  int base_width = 64;      // stem output / layer1 planes
};

class ResBlockImpl : public torch::nn::Module {
 public:
  ResBlockImpl(bool bottleneck, std::int64_t inplanes, std::int64_t planes, std::int64_t stride,
               std::int64_t dilation, bool downsample);
  torch::Tensor forward(const torch::Tensor& x);
  std::int64_t macs(FeatureShape& s) const;
  std::int64_t out_channels() const;

 private:
  bool bottleneck_;
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  SyncableBatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  torch::nn::Sequential downsample{nullptr};
};
TORCH_MODULE(ResBlock);

class ResNetImpl : public BackboneImpl {
 public:
  ResNetImpl(const ResNetSpec& spec, bool dilated, int num_classes);
  torch::Tensor stem(const torch::Tensor& x) override;
  torch::Tensor stage(int i, const torch::Tensor& x) override;
  std::int64_t out_channels() const override { return stage_channels(3); }
  std::int64_t stage_channels(int i) const override;
  std::int64_t backbone_macs(FeatureShape& s) const override;
  torch::Tensor classify(const torch::Tensor& features) override;
  std::int64_t classifier_macs() const override;

 private:
  ResNetSpec spec_;
  torch::nn::Conv2d conv1{nullptr};
  SyncableBatchNorm2d bn1{nullptr};
  std::vector<torch::nn::ModuleList> layers_;
  torch::nn::Linear fc{nullptr};
};

// ---- DenseNet-121 (torchvision.models.densenet) ----

class DenseLayerImpl : public torch::nn::Module {
 public:
  DenseLayerImpl(std::int64_t in_channels, std::int64_t growth, std::int64_t bn_size,
                 std::int64_t dilation);
  torch::Tensor forward(const torch::Tensor& x);  // x: the concatenated previous features
  std::int64_t macs(FeatureShape s) const;

 private:
  SyncableBatchNorm2d norm1{nullptr}, norm2{nullptr};
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
};
TORCH_MODULE(DenseLayer);

class DenseNetImpl : public BackboneImpl {
 public:
  DenseNetImpl(std::vector<int> block_config, std::int64_t growth, std::int64_t init_features,
               std::int64_t bn_size, bool dilated, int num_classes);
  torch::Tensor stem(const torch::Tensor& x) override;
  torch::Tensor stage(int i, const torch::Tensor& x) override;
  std::int64_t out_channels() const override { return stage_channels(3); }
  std::int64_t stage_channels(int i) const override { return stage_channels_[i]; }
  std::int64_t backbone_macs(FeatureShape& s) const override;
  torch::Tensor classify(const torch::Tensor& features) override;
  std::int64_t classifier_macs() const override;

 private:
  struct Transition {
    SyncableBatchNorm2d norm{nullptr};
    torch::nn::Conv2d conv{nullptr};
    bool pool = true;  // AvgPool2d(2, 2); dropped when dilated
  };
  std::shared_ptr<torch::nn::Module> features_;
  torch::nn::Conv2d conv0{nullptr};
  SyncableBatchNorm2d norm0{nullptr}, norm5{nullptr};
  std::vector<std::vector<DenseLayer>> blocks_;
  std::vector<Transition> transitions_;  // after blocks 1..3
  std::vector<std::int64_t> stage_channels_;
  std::int64_t growth_;
  torch::nn::Linear classifier{nullptr};
};

}  // namespace excap::model
