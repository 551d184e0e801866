// The inference fast path used by triage: batch-norm folded into the
// preceding convolution, optional channels-last activations, fp16 on CUDA.
//
// Folding (eval mode only): BN(conv(x)) = conv'(x) with
//   s = gamma / sqrt(running_var + eps),  W' = W * s[c_out],  b' = (b - mean) * s + beta,
// so the BN pass over the activation disappears. Where it applies:
//   * ResNet backbones (stem conv1/bn1, every block's convN/bnN and
//     downsample.0/.1): all pairs folded; the residual graph is re-run here
//     on the folded weights (the block structure of model/backbone.cpp).
//   * the FCN segmentation head (convs.i.conv/.bn, mmseg ConvModule): folded.
//   * the classification branch, cross fusion and conv_seg have no BN.
// Where it does not (the model's own forward runs, unfolded):
//   * DenseNet-121: its BN is pre-activation (norm -> relu -> conv), so it
//     follows no convolution it could be folded into.
//   * the ASPP head and cross-stitch networks: left as built (baselines, not
//     what triage ships with); the report says so.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "model/backbone.h"
#include "model/heads.h"
#include "model/model.h"

namespace excap::trainer {

// A convolution with its BN folded in (weights on the model's device).
struct FoldedConv {
  torch::Tensor weight, bias;
  std::vector<std::int64_t> stride, padding, dilation;
  torch::Tensor operator()(const torch::Tensor& x) const;
};

// W', b' of conv followed by bn (eval statistics). The conv may have a bias.
FoldedConv fold_conv_bn(const torch::nn::Conv2dImpl& conv, const torch::nn::BatchNorm2dImpl& bn);
FoldedConv plain_conv(const torch::nn::Conv2dImpl& conv);  // no BN to fold

struct FastPathOptions {
  bool fold_bn = true;
  bool channels_last = false;  // NHWC activations and weights (measure: not always faster on CPU)
  bool half = false;           // fp16 weights and activations (CUDA only); logits come back float
};

struct FoldReport {
  int folded_pairs = 0;                 // conv+BN pairs folded
  std::vector<std::string> not_folded;  // parts left as built, with the reason
  std::string summary() const;          // one line
};

// Wraps a loaded model for inference. The model is put in eval mode; with
// half it is converted to fp16 in place (the wrapper owns the model from then on).
class FastInference {
 public:
  FastInference(model::MultiTaskNet net, const FastPathOptions& options);
  // x: float [N,3,H,W] normalised, on the model's device. Call under
  // c10::InferenceMode. Returns cls_logits and seg_logits (float) only.
  model::ModelOutput forward(const torch::Tensor& x);
  const FoldReport& report() const { return report_; }
  const FastPathOptions& options() const { return options_; }
  model::MultiTaskNetImpl& net() { return *net_; }

 private:
  struct Block {
    bool bottleneck = false, has_downsample = false;
    FoldedConv c1, c2, c3, downsample;
  };
  // Construction steps, in order.
  void find_parts();
  void fold_resnet(model::ResNetImpl& resnet);
  Block fold_block(torch::nn::Module& block, const std::string& where);
  void fold_fcn_head(model::FCNHeadImpl& fcn);
  void fold_batch_norms();
  void convert_layout();

  torch::Tensor backbone_forward(const torch::Tensor& x);
  torch::Tensor seg_hidden(const torch::Tensor& feat);
  torch::Tensor seg_logits(const torch::Tensor& x_seg);

  model::MultiTaskNet net_;
  FastPathOptions options_;
  FoldReport report_;
  bool whole_model_fallback_ = false;  // cross-stitch: the model's forward
  std::shared_ptr<model::BackboneImpl> backbone_;
  bool resnet_folded_ = false;
  FoldedConv stem_;
  std::vector<std::vector<Block>> stages_;
  std::shared_ptr<model::ClsBranchImpl> cls_head_;
  std::shared_ptr<torch::nn::Module> seg_head_;  // FCN or ASPP
  bool fcn_folded_ = false;
  std::vector<FoldedConv> fcn_convs_;  // convs.0 (hidden), convs.1
  FoldedConv conv_seg_;
  std::shared_ptr<model::CrossFusionImpl> fusion_;
};

}  // namespace excap::trainer
