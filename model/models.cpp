#include <torch/torch.h>

#include "common/error.h"
#include "model/backbone.h"
#include "model/heads.h"
#include "model/model.h"

namespace excap::model {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

std::int64_t count_parameters(const nn::Module& module) {
  std::int64_t n = 0;
  for (const auto& p : module.parameters(true)) n += p.numel();
  return n;
}

namespace {

torch::Tensor upsample_to(const torch::Tensor& logits, const torch::Tensor& input) {
  // mmsegmentation resizes logits to the input with bilinear, align_corners=False.
  return F::interpolate(logits, F::InterpolateFuncOptions()
                                    .size(std::vector<std::int64_t>{input.size(2), input.size(3)})
                                    .mode(torch::kBilinear)
                                    .align_corners(false));
}

// DeepLabv3's rates are 12/24/36 at output stride 8; at stride 32 we scale them
// by 1/4 (3/6/9) so they still sample inside the smaller map.
std::vector<std::int64_t> aspp_dilations(bool dilated) {
  return dilated ? std::vector<std::int64_t>{1, 12, 24, 36} : std::vector<std::int64_t>{1, 3, 6, 9};
}

FeatureShape input_shape(std::int64_t h, std::int64_t w) { return {3, h, w}; }

// One backbone shared by the task heads: "cls", "seg_fcn", "seg_aspp",
// "hard_share" (Caruana 1997: shared trunk, separate heads) and "mtcsn"
// (hard sharing plus cross fusion between the two heads' hidden layers).
class SharedBackboneNetImpl : public MultiTaskNetImpl {
 public:
  explicit SharedBackboneNetImpl(const ModelConfig& c) : MultiTaskNetImpl(c) {
    backbone_ = register_module("backbone", make_backbone({c.backbone, c.dilated, 0}));
    const std::int64_t feat = backbone_->out_channels();
    if (has_cls())
      cls_head_ = register_module("cls_head", ClsBranch(feat, effective_cls_hidden(c), c.num_cd));
    if (c.arch == Arch::SegAspp)
      aspp_head_ =
          register_module("seg_head", ASPPHead(feat, effective_seg_channels(c), c.num_tissue,
                                               aspp_dilations(c.dilated), c.seg_dropout));
    else if (has_seg())
      fcn_head_ = register_module(
          "seg_head", FCNHead(feat, effective_seg_channels(c), c.num_tissue, c.seg_dropout));
    if (c.arch == Arch::Mtcsn)
      fusion_ =
          register_module("fusion", CrossFusion(effective_cls_hidden(c), effective_seg_channels(c),
                                                c.fusion_pool == FusionPool::Max));
  }

  ModelOutput forward(const torch::Tensor& x) override {
    const torch::Tensor feat = backbone_->forward(x);
    ModelOutput out;
    if (aspp_head_) {
      out.seg_logits = upsample_to(aspp_head_(feat), x);
      return out;
    }
    torch::Tensor x_cls = cls_head_ ? cls_head_->hidden(feat) : torch::Tensor();
    torch::Tensor x_seg = fcn_head_ ? fcn_head_->hidden(feat) : torch::Tensor();
    if (fusion_) {
      out.cls_feat_before = x_cls;
      std::tie(x_cls, x_seg) = fusion_(x_cls, x_seg);
      out.cls_feat_after = x_cls;
    }
    if (cls_head_) out.cls_logits = cls_head_->logits(x_cls);
    if (fcn_head_) out.seg_logits = upsample_to(fcn_head_->logits(x_seg), x);
    return out;
  }

  std::vector<std::string> backbone_prefixes() const override { return {"backbone."}; }

  std::vector<PartCost> part_costs(std::int64_t h, std::int64_t w) const override {
    std::vector<PartCost> parts;
    FeatureShape s = input_shape(h, w);
    parts.push_back({"backbone", count_parameters(*backbone_), backbone_->backbone_macs(s)});
    if (cls_head_) parts.push_back({"cls_head", count_parameters(*cls_head_), cls_head_->macs()});
    if (fcn_head_) parts.push_back({"seg_head", count_parameters(*fcn_head_), fcn_head_->macs(s)});
    if (aspp_head_)
      parts.push_back({"seg_head", count_parameters(*aspp_head_), aspp_head_->macs(s)});
    if (fusion_) parts.push_back({"fusion", count_parameters(*fusion_), fusion_->macs(s.h, s.w)});
    return parts;
  }

 private:
  BackbonePtr backbone_;
  ClsBranch cls_head_{nullptr};
  FCNHead fcn_head_{nullptr};
  ASPPHead aspp_head_{nullptr};
  CrossFusion fusion_{nullptr};
};

// Cross-stitch networks (Misra et al. 2016): one backbone column per task,
// a cross-stitch unit after each of the four stages mixing the two columns.
class CrossStitchNetImpl : public MultiTaskNetImpl {
 public:
  explicit CrossStitchNetImpl(const ModelConfig& c) : MultiTaskNetImpl(c) {
    cls_column_ = register_module("backbone_cls", make_backbone({c.backbone, c.dilated, 0}));
    seg_column_ = register_module("backbone_seg", make_backbone({c.backbone, c.dilated, 0}));
    stitch_ = register_module("stitch", nn::ModuleList());
    for (int i = 0; i < BackboneImpl::kStages; ++i) stitch_->push_back(CrossStitchUnit());
    const std::int64_t feat = cls_column_->out_channels();
    cls_head_ = register_module("cls_head", ClsBranch(feat, effective_cls_hidden(c), c.num_cd));
    seg_head_ = register_module(
        "seg_head", FCNHead(feat, effective_seg_channels(c), c.num_tissue, c.seg_dropout));
  }

  ModelOutput forward(const torch::Tensor& x) override {
    torch::Tensor a = cls_column_->stem(x), b = seg_column_->stem(x);
    for (int i = 0; i < BackboneImpl::kStages; ++i) {
      a = cls_column_->stage(i, a);
      b = seg_column_->stage(i, b);
      std::tie(a, b) = stitch_->ptr<CrossStitchUnitImpl>(i)->forward(a, b);
    }
    ModelOutput out;
    out.cls_logits = cls_head_->logits(cls_head_->hidden(a));
    out.seg_logits = upsample_to(seg_head_->logits(seg_head_->hidden(b)), x);
    return out;
  }

  std::vector<std::string> backbone_prefixes() const override {
    return {"backbone_cls.", "backbone_seg."};
  }

  std::vector<PartCost> part_costs(std::int64_t h, std::int64_t w) const override {
    FeatureShape s = input_shape(h, w), s2 = s;
    const std::int64_t m = cls_column_->backbone_macs(s) + seg_column_->backbone_macs(s2);
    return {{"backbone", count_parameters(*cls_column_) + count_parameters(*seg_column_), m},
            {"cross_stitch", count_parameters(*stitch_),
             0},  // elementwise mixing only: no MACs counted
            {"cls_head", count_parameters(*cls_head_), cls_head_->macs()},
            {"seg_head", count_parameters(*seg_head_), seg_head_->macs(s)}};
  }

 private:
  BackbonePtr cls_column_, seg_column_;
  nn::ModuleList stitch_{nullptr};
  ClsBranch cls_head_{nullptr};
  FCNHead seg_head_{nullptr};
};

bool starts_with_any(const std::string& name, const std::vector<std::string>& prefixes) {
  for (const auto& p : prefixes)
    if (name.compare(0, p.size(), p) == 0) return true;
  return false;
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// mmsegmentation's and mmclassification's init for everything outside the
// backbone: ConvModule convs kaiming normal (fan_out, relu), the last 1x1
// conv_seg and the classifier's linear layers N(0, 0.01), biases 0; batch
// norms keep 1/0. The backbone keeps torchvision's init.
void init_heads_mmseg(MultiTaskNetImpl& net) {
  torch::NoGradGuard no_grad;
  const auto skip = net.backbone_prefixes();
  for (const auto& item : net.named_modules("", false)) {
    if (starts_with_any(item.key() + ".", skip)) continue;
    if (auto* c = item.value()->as<nn::Conv2d>()) {
      if (ends_with(item.key(), "conv_seg"))
        nn::init::normal_(c->weight, 0, 0.01);
      else
        nn::init::kaiming_normal_(c->weight, 0, torch::kFanOut, torch::kReLU);
      if (c->bias.defined()) nn::init::zeros_(c->bias);
    } else if (auto* l = item.value()->as<nn::Linear>()) {
      nn::init::normal_(l->weight, 0, 0.01);
      if (l->bias.defined()) nn::init::zeros_(l->bias);
    }
  }
}

}  // namespace

MultiTaskNet build_model(const ModelConfig& config) {
  validate(config);
  MultiTaskNet net;
  if (config.arch == Arch::CrossStitch)
    net = std::make_shared<CrossStitchNetImpl>(config);
  else
    net = std::make_shared<SharedBackboneNetImpl>(config);
  if (config.head_init == HeadInit::Mmseg) init_heads_mmseg(*net);
  return net;
}

}  // namespace excap::model
