// The networks of the paper's Tables 3-6 behind one interface: single-task
// classifier and segmenters (FCN, ASPP), hard parameter sharing, cross-stitch
// and MTCSN. forward() returns the logits of each task and the features the
// consistency loss needs.
#pragma once
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/config.h"

namespace excap::model {

struct ModelOutput {
  torch::Tensor cls_logits;       // [N, num_cd]; undefined for segmentation-only models
  torch::Tensor seg_logits;       // [N, num_tissue, H, W] at the input size; undefined for "cls"
  torch::Tensor cls_feat_before;  // X_cls before cross fusion [N, C1] (MTCSN only, Eq. 4)
  torch::Tensor cls_feat_after;   // X~cls after cross fusion [N, C1] (MTCSN only)
};

// Parameters and analytic conv/linear multiply-accumulates of one part of a model.
struct PartCost {
  std::string part;  // "backbone", "cls_head", "seg_head", "fusion", "cross_stitch"
  std::int64_t params = 0;
  std::int64_t macs = 0;
};

class MultiTaskNetImpl : public torch::nn::Module {
 public:
  explicit MultiTaskNetImpl(ModelConfig config) : config_(std::move(config)) {}
  virtual ModelOutput forward(const torch::Tensor& x) = 0;
  bool has_cls() const { return arch_has_cls(config_.arch); }
  bool has_seg() const { return arch_has_seg(config_.arch); }
  const ModelConfig& config() const { return config_; }
  // Prefixes under which a torchvision backbone's state dict lives in this
  // model ("backbone." or, for cross-stitch, one per column).
  virtual std::vector<std::string> backbone_prefixes() const = 0;
  // Analytic cost per part for an input of h x w pixels (see model/flops.h).
  virtual std::vector<PartCost> part_costs(std::int64_t h, std::int64_t w) const = 0;

 private:
  ModelConfig config_;
};

using MultiTaskNet = std::shared_ptr<MultiTaskNetImpl>;

// Builds the network `config` names, randomly initialised: torchvision's init
// for the backbone, `config.head_init` for the rest. Throws excap::Error for a
// bad config.
MultiTaskNet build_model(const ModelConfig& config);

// Sum of numel over parameters (not buffers), as torchvision counts them.
std::int64_t count_parameters(const torch::nn::Module& module);

}  // namespace excap::model
