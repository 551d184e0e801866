// Training losses as a named map (mmsegmentation style): loss_cls, loss_seg,
// loss_consistency, and "loss", the weighted total to call backward() on.
#pragma once
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <map>
#include <string>

#include "model/model.h"

namespace excap::model {

struct LossConfig {
  double alpha = 0.1;  // weight of the consistency term (paper Eq. 3, alpha = 0.1)
  TaskWeighting weighting = TaskWeighting::Fixed;  // Fixed (w_cls, w_seg) or Learned (Kendall 2018)
  double w_cls = 1, w_seg = 1;                     // the lambda_i of Eq. 2 when fixed
  int ignore_index = 255;                          // label value dropped by both cross-entropies
};

// Learned homoscedastic task uncertainty (Kendall, Gal, Cipolla 2018): one
// s = log sigma^2 per task, each term becomes exp(-s) * L + s / 2 (their
// classification form). Give its parameters to the optimiser with the model's.
class TaskUncertaintyImpl : public torch::nn::Module {
 public:
  TaskUncertaintyImpl();
  torch::Tensor log_var_cls, log_var_seg;
};
TORCH_MODULE(TaskUncertainty);

// cd_target: [N] integer labels (ignored when the model has no classifier);
// mask_target: [N,H,W] or [N,1,H,W] integer (uint8 is fine) tissue labels at
// the input size (ignored when the model has no segmenter). Returns:
//   loss_cls          cross-entropy of the CD logits (Eq. 3, first term)
//   loss_consistency  MSE between X_cls before and after fusion (Eq. 4), MTCSN only
//   loss_seg          pixel cross-entropy (Eq. 5)
//   loss              lambda_cls * (loss_cls + alpha * loss_consistency) + lambda_seg * loss_seg
// The parts are detached (for logging); only "loss" carries gradient. With
// Learned weighting `uncertainty` must be given; "log_var_cls" and
// "log_var_seg" are then reported too. A batch whose every target is
// ignore_index contributes 0, not NaN. Throws excap::Error on shape mismatches.
std::map<std::string, torch::Tensor> compute_losses(const ModelOutput& out,
                                                    const torch::Tensor& cd_target,
                                                    const torch::Tensor& mask_target,
                                                    const LossConfig& cfg,
                                                    TaskUncertaintyImpl* uncertainty = nullptr);

}  // namespace excap::model
