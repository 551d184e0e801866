#include "common/error.h"
#include "model/backbone.h"

namespace excap::model {

namespace nn = torch::nn;

namespace {
nn::Conv2d conv(std::int64_t in, std::int64_t out, std::int64_t k, std::int64_t stride = 1,
                std::int64_t padding = 0, std::int64_t dilation = 1) {
  return nn::Conv2d(
      nn::Conv2dOptions(in, out, k).stride(stride).padding(padding).dilation(dilation).bias(false));
}
}  // namespace

DenseLayerImpl::DenseLayerImpl(std::int64_t in_channels, std::int64_t growth, std::int64_t bn_size,
                               std::int64_t dilation) {
  norm1 = register_module("norm1", SyncableBatchNorm2d(in_channels));
  conv1 = register_module("conv1", conv(in_channels, bn_size * growth, 1));
  norm2 = register_module("norm2", SyncableBatchNorm2d(bn_size * growth));
  conv2 = register_module("conv2", conv(bn_size * growth, growth, 3, 1, dilation, dilation));
}

torch::Tensor DenseLayerImpl::forward(const torch::Tensor& x) {
  // torchvision _DenseLayer (drop_rate 0): BN-ReLU-1x1 bottleneck, BN-ReLU-3x3.
  return conv2(torch::relu(norm2(conv1(torch::relu(norm1(x))))));
}

std::int64_t DenseLayerImpl::macs(FeatureShape s) const {
  return conv_macs(*conv1, s) + conv_macs(*conv2, s);
}

DenseNetImpl::DenseNetImpl(std::vector<int> block_config, std::int64_t growth,
                           std::int64_t init_features, std::int64_t bn_size, bool dilated,
                           int num_classes)
    : growth_(growth) {
  features_ = register_module("features", std::make_shared<nn::Module>());
  conv0 = features_->register_module("conv0", conv(3, init_features, 7, 2, 3));
  norm0 = features_->register_module("norm0", SyncableBatchNorm2d(init_features));
  std::int64_t channels = init_features;
  for (std::size_t b = 0; b < block_config.size(); ++b) {
    // Output stride 8 (our choice; torchvision has no dilated DenseNet): the
    // last two transitions keep their resolution and blocks 3/4 dilate by 2/4.
    const std::int64_t dilation = dilated && b >= 2 ? (b == 2 ? 2 : 4) : 1;
    auto block = features_->register_module("denseblock" + std::to_string(b + 1),
                                            std::make_shared<nn::Module>());
    std::vector<DenseLayer> layers;
    for (int l = 0; l < block_config[b]; ++l) {
      layers.push_back(block->register_module("denselayer" + std::to_string(l + 1),
                                              DenseLayer(channels, growth, bn_size, dilation)));
      channels += growth;
    }
    blocks_.push_back(std::move(layers));
    if (b + 1 < block_config.size()) {
      auto trans = features_->register_module("transition" + std::to_string(b + 1),
                                              std::make_shared<nn::Module>());
      Transition t;
      t.norm = trans->register_module("norm", SyncableBatchNorm2d(channels));
      t.conv = trans->register_module("conv", conv(channels, channels / 2, 1));
      t.pool = !(dilated && b >= 1);
      transitions_.push_back(t);
      channels /= 2;
    }
    stage_channels_.push_back(channels);
  }
  if (block_config.size() != kStages) throw Error("densenet", "needs four dense blocks");
  norm5 = features_->register_module("norm5", SyncableBatchNorm2d(channels));
  if (num_classes > 0)
    classifier = register_module("classifier", nn::Linear(channels, num_classes));
  // torchvision's init: kaiming normal (fan_in) for convs, BN 1/0, linear bias 0.
  for (auto& m : modules(false)) {
    if (auto* c = m->as<nn::Conv2d>()) nn::init::kaiming_normal_(c->weight);
    if (auto* n = m->as<nn::BatchNorm2d>()) {
      nn::init::ones_(n->weight);
      nn::init::zeros_(n->bias);
    }
    if (auto* l = m->as<nn::Linear>()) nn::init::zeros_(l->bias);
  }
}

torch::Tensor DenseNetImpl::stem(const torch::Tensor& x) {
  return torch::max_pool2d(torch::relu(norm0(conv0(x))), 3, 2, 1);
}

torch::Tensor DenseNetImpl::stage(int i, const torch::Tensor& x) {
  torch::Tensor y = x;
  for (auto& layer : blocks_.at(i)) y = torch::cat({y, layer(y)}, 1);
  if (i + 1 < kStages) {
    Transition& t = transitions_[i];
    y = t.conv(torch::relu(t.norm(y)));
    if (t.pool) y = torch::avg_pool2d(y, 2, 2);
    return y;
  }
  // torchvision's forward applies F.relu after features (which ends in norm5).
  return torch::relu(norm5(y));
}

std::int64_t DenseNetImpl::backbone_macs(FeatureShape& s) const {
  std::int64_t m = conv_macs(*conv0, s);
  pool_shape(s, 3, 2, 1);
  for (std::size_t b = 0; b < blocks_.size(); ++b) {
    for (const auto& layer : blocks_[b]) {
      m += layer->macs(s);
      s.c += growth_;  // each layer appends `growth` channels
    }
    if (b + 1 < blocks_.size()) {
      m += conv_macs(*transitions_[b].conv, s);
      if (transitions_[b].pool) pool_shape(s, 2, 2, 0);
    }
  }
  return m;
}

torch::Tensor DenseNetImpl::classify(const torch::Tensor& features) {
  if (!classifier)
    throw Error("densenet", "built without the ImageNet classifier (num_classes = 0)");
  return classifier(torch::adaptive_avg_pool2d(features, {1, 1}).flatten(1));
}

std::int64_t DenseNetImpl::classifier_macs() const {
  return classifier ? classifier->options.in_features() * classifier->options.out_features() : 0;
}

}  // namespace excap::model
