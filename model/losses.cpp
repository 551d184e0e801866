#include "model/losses.h"

#include <torch/torch.h>

#include "common/error.h"

namespace excap::model {

namespace F = torch::nn::functional;

TaskUncertaintyImpl::TaskUncertaintyImpl() {
  // s = 0: both tasks start with weight 1, as the fixed default.
  log_var_cls = register_parameter("log_var_cls", torch::zeros({}));
  log_var_seg = register_parameter("log_var_seg", torch::zeros({}));
}

namespace {

// Mean cross-entropy over targets != ignore_index; 0 (with gradient) when none.
torch::Tensor masked_cross_entropy(const torch::Tensor& logits, const torch::Tensor& target,
                                   int ignore_index) {
  const torch::Tensor sum = F::cross_entropy(
      logits, target,
      F::CrossEntropyFuncOptions().ignore_index(ignore_index).reduction(torch::kSum));
  const torch::Tensor valid = (target != ignore_index).sum().clamp_min(1).to(sum.scalar_type());
  return sum / valid;
}

std::string shape_text(const torch::Tensor& t) {
  std::string s = "[";
  for (std::int64_t i = 0; i < t.dim(); ++i) s += (i ? "," : "") + std::to_string(t.size(i));
  return s + "]";
}

}  // namespace

std::map<std::string, torch::Tensor> compute_losses(const ModelOutput& out,
                                                    const torch::Tensor& cd_target,
                                                    const torch::Tensor& mask_target,
                                                    const LossConfig& cfg,
                                                    TaskUncertaintyImpl* uncertainty) {
  const bool learned = cfg.weighting == TaskWeighting::Learned;
  if (learned && !uncertainty)
    throw Error("loss config", "uncertainty weighting needs its TaskUncertainty module");
  if (!out.cls_logits.defined() && !out.seg_logits.defined())
    throw Error("losses", "the model produced no logits");

  std::map<std::string, torch::Tensor> losses;
  torch::Tensor total;
  auto add = [&](torch::Tensor term) { total = total.defined() ? total + term : term; };

  if (out.cls_logits.defined()) {
    if (!cd_target.defined() || cd_target.dim() != 1 || cd_target.size(0) != out.cls_logits.size(0))
      throw Error("losses", "CD target must be [N] for logits " + shape_text(out.cls_logits) +
                                ", got " + (cd_target.defined() ? shape_text(cd_target) : "none"));
    const torch::Tensor ce = masked_cross_entropy(
        out.cls_logits, cd_target.to(out.cls_logits.device(), torch::kLong), cfg.ignore_index);
    torch::Tensor cls_term = ce;
    losses["loss_cls"] = ce.detach();
    if (out.cls_feat_before.defined() && out.cls_feat_after.defined()) {
      // Eq. 4: MSE between the classification feature before and after fusion.
      const torch::Tensor consistency = F::mse_loss(out.cls_feat_after, out.cls_feat_before);
      losses["loss_consistency"] = consistency.detach();
      cls_term = cls_term + cfg.alpha * consistency;
    }
    if (learned) {
      add(torch::exp(-uncertainty->log_var_cls) * cls_term + 0.5 * uncertainty->log_var_cls);
      losses["log_var_cls"] = uncertainty->log_var_cls.detach();
    } else {
      add(cfg.w_cls * cls_term);
    }
  }
  if (out.seg_logits.defined()) {
    torch::Tensor mask = mask_target.defined() && mask_target.dim() == 4 && mask_target.size(1) == 1
                             ? mask_target.squeeze(1)
                             : mask_target;
    if (!mask.defined() || mask.dim() != 3 || mask.size(0) != out.seg_logits.size(0) ||
        mask.size(1) != out.seg_logits.size(2) || mask.size(2) != out.seg_logits.size(3))
      throw Error("losses", "mask target must be [N,H,W] for logits " + shape_text(out.seg_logits) +
                                ", got " +
                                (mask_target.defined() ? shape_text(mask_target) : "none"));
    const torch::Tensor ce = masked_cross_entropy(
        out.seg_logits, mask.to(out.seg_logits.device(), torch::kLong), cfg.ignore_index);
    losses["loss_seg"] = ce.detach();
    if (learned) {
      add(torch::exp(-uncertainty->log_var_seg) * ce + 0.5 * uncertainty->log_var_seg);
      losses["log_var_seg"] = uncertainty->log_var_seg.detach();
    } else {
      add(cfg.w_seg * ce);
    }
  }
  losses["loss"] = total;
  return losses;
}

}  // namespace excap::model
