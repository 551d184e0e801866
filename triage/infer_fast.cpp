#include "triage/infer_fast.h"

#include <array>
#include <sstream>
#include <tuple>
#include <type_traits>

#include "common/error.h"

namespace excap::trainer {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

namespace {

std::vector<std::int64_t> explicit_padding(const nn::Conv2dImpl& conv) {
  std::array<std::int64_t, 2> pad{-1, -1};
  // Unqualified visit: ADL picks c10::visit (LibTorch 1.x) or std::visit (2.x).
  visit(
      [&](const auto& p) {
        if constexpr (std::is_same_v<std::decay_t<decltype(p)>, torch::ExpandingArray<2>>) pad = *p;
      },
      conv.options.padding());
  if (pad[0] < 0) throw Error("fast inference", "only explicit conv padding can be folded");
  return {pad[0], pad[1]};
}

FoldedConv geometry(const nn::Conv2dImpl& conv) {
  FoldedConv f;
  const auto& o = conv.options;
  if (o.groups() != 1) throw Error("fast inference", "grouped convolutions are not folded");
  f.stride = {(*o.stride())[0], (*o.stride())[1]};
  f.dilation = {(*o.dilation())[0], (*o.dilation())[1]};
  f.padding = explicit_padding(conv);
  return f;
}

template <class T>
std::shared_ptr<T> child_as(nn::Module& parent, const std::string& name) {
  for (const auto& c : parent.named_children())
    if (c.key() == name) return std::dynamic_pointer_cast<T>(c.value());
  return nullptr;
}

std::shared_ptr<nn::Module> child(nn::Module& parent, const std::string& name) {
  return child_as<nn::Module>(parent, name);
}

template <class T>
T& need(const std::shared_ptr<T>& p, const std::string& what) {
  if (!p) throw Error("fast inference", "unexpected model structure: no " + what);
  return *p;
}

torch::Tensor upsample_to(const torch::Tensor& logits, const torch::Tensor& input) {
  // As the model: bilinear, align_corners=False (mmsegmentation's resize).
  return F::interpolate(logits, F::InterpolateFuncOptions()
                                    .size(std::vector<std::int64_t>{input.size(2), input.size(3)})
                                    .mode(torch::kBilinear)
                                    .align_corners(false));
}

void convert(FoldedConv& c, const FastPathOptions& o) {
  if (o.half) {
    c.weight = c.weight.to(torch::kHalf);
    if (c.bias.defined()) c.bias = c.bias.to(torch::kHalf);
  }
  if (o.channels_last) c.weight = c.weight.contiguous(torch::MemoryFormat::ChannelsLast);
}

}  // namespace

torch::Tensor FoldedConv::operator()(const torch::Tensor& x) const {
  return torch::conv2d(x, weight, bias, stride, padding, dilation);
}

FoldedConv plain_conv(const nn::Conv2dImpl& conv) {
  FoldedConv f = geometry(conv);
  f.weight = conv.weight.detach().clone();
  if (conv.bias.defined()) f.bias = conv.bias.detach().clone();
  return f;
}

FoldedConv fold_conv_bn(const nn::Conv2dImpl& conv, const nn::BatchNorm2dImpl& bn) {
  FoldedConv f = geometry(conv);
  // In double, so the folded weights are the exact product rounded once.
  const auto w = conv.weight.detach().to(torch::kDouble);
  const auto mean = bn.running_mean.detach().to(torch::kDouble);
  const auto var = bn.running_var.detach().to(torch::kDouble);
  const std::int64_t c = w.size(0);
  auto gamma =
      bn.weight.defined() ? bn.weight.detach().to(torch::kDouble) : torch::ones({c}, w.options());
  auto beta =
      bn.bias.defined() ? bn.bias.detach().to(torch::kDouble) : torch::zeros({c}, w.options());
  const auto scale = gamma / torch::sqrt(var + bn.options.eps());
  auto b =
      conv.bias.defined() ? conv.bias.detach().to(torch::kDouble) : torch::zeros({c}, w.options());
  f.weight = (w * scale.view({c, 1, 1, 1})).to(conv.weight.scalar_type());
  f.bias = ((b - mean) * scale + beta).to(conv.weight.scalar_type());
  return f;
}

std::string FoldReport::summary() const {
  std::ostringstream s;
  s << folded_pairs << " conv+BN pairs folded";
  if (!not_folded.empty()) {
    s << "; not folded: ";
    for (std::size_t i = 0; i < not_folded.size(); ++i) s << (i ? "; " : "") << not_folded[i];
  }
  return s.str();
}

FastInference::FastInference(model::MultiTaskNet net, const FastPathOptions& options)
    : net_(std::move(net)), options_(options) {
  if (!net_) throw Error("fast inference", "no model");
  net_->eval();
  torch::NoGradGuard no_grad;
  find_parts();
  if (!whole_model_fallback_ && options_.fold_bn)
    fold_batch_norms();
  else if (!options_.fold_bn)
    report_.not_folded.push_back("folding switched off");
  convert_layout();
}

void FastInference::find_parts() {
  nn::Module& root = *net_;
  if (child(root, "backbone_cls")) {
    whole_model_fallback_ = true;
    report_.not_folded.push_back("cross-stitch network: runs as built");
    return;
  }
  backbone_ = child_as<model::BackboneImpl>(root, "backbone");
  need(backbone_, "backbone");
  cls_head_ = child_as<model::ClsBranchImpl>(root, "cls_head");
  seg_head_ = child(root, "seg_head");
  fusion_ = child_as<model::CrossFusionImpl>(root, "fusion");
}

void FastInference::fold_batch_norms() {
  if (auto resnet = std::dynamic_pointer_cast<model::ResNetImpl>(backbone_))
    fold_resnet(*resnet);
  else
    report_.not_folded.push_back(
        "DenseNet backbone: pre-activation BN (norm -> relu -> conv) follows no conv to fold into");
  if (auto fcn = std::dynamic_pointer_cast<model::FCNHeadImpl>(seg_head_))
    fold_fcn_head(*fcn);
  else if (seg_head_)
    report_.not_folded.push_back("ASPP head: runs as built");
}

void FastInference::fold_resnet(model::ResNetImpl& resnet) {
  stem_ = fold_conv_bn(need(child_as<nn::Conv2dImpl>(resnet, "conv1"), "backbone.conv1"),
                       need(child_as<nn::BatchNorm2dImpl>(resnet, "bn1"), "backbone.bn1"));
  ++report_.folded_pairs;
  for (int i = 0; i < model::BackboneImpl::kStages; ++i) {
    const std::string lname = "layer" + std::to_string(i + 1);
    auto layer = child_as<nn::ModuleListImpl>(resnet, lname);
    std::vector<Block> blocks;
    for (const auto& item : need(layer, "backbone." + lname).named_children())
      blocks.push_back(fold_block(*item.value(), "backbone." + lname + "." + item.key()));
    stages_.push_back(std::move(blocks));
  }
  resnet_folded_ = true;
}

// One torchvision BasicBlock or Bottleneck, named as model/backbone.cpp registers it.
FastInference::Block FastInference::fold_block(nn::Module& b, const std::string& where) {
  auto conv = [&](const std::string& n) { return child_as<nn::Conv2dImpl>(b, n); };
  auto bn = [&](const std::string& n) { return child_as<nn::BatchNorm2dImpl>(b, n); };
  Block blk;
  blk.c1 = fold_conv_bn(need(conv("conv1"), where + ".conv1"), need(bn("bn1"), where + ".bn1"));
  blk.c2 = fold_conv_bn(need(conv("conv2"), where + ".conv2"), need(bn("bn2"), where + ".bn2"));
  report_.folded_pairs += 2;
  if (auto c3 = conv("conv3")) {
    blk.bottleneck = true;
    blk.c3 = fold_conv_bn(*c3, need(bn("bn3"), where + ".bn3"));
    ++report_.folded_pairs;
  }
  if (auto ds = child_as<nn::SequentialImpl>(b, "downsample")) {
    blk.has_downsample = true;
    blk.downsample =
        fold_conv_bn(need(child_as<nn::Conv2dImpl>(*ds, "0"), where + ".downsample.0"),
                     need(child_as<nn::BatchNorm2dImpl>(*ds, "1"), where + ".downsample.1"));
    ++report_.folded_pairs;
  }
  return blk;
}

void FastInference::fold_fcn_head(model::FCNHeadImpl& fcn) {
  auto convs = child_as<nn::ModuleListImpl>(fcn, "convs");
  for (const auto& item : need(convs, "seg_head.convs").named_children()) {
    nn::Module& m = *item.value();
    fcn_convs_.push_back(
        fold_conv_bn(need(child_as<nn::Conv2dImpl>(m, "conv"), "seg_head.convs.conv"),
                     need(child_as<nn::BatchNorm2dImpl>(m, "bn"), "seg_head.convs.bn")));
    ++report_.folded_pairs;
  }
  if (fcn_convs_.size() != 2) throw Error("fast inference", "FCN head without two convs");
  conv_seg_ = plain_conv(need(child_as<nn::Conv2dImpl>(fcn, "conv_seg"), "seg_head.conv_seg"));
  fcn_folded_ = true;
}

// fp16 and channels-last for the parts left as built and for the folded convs alike.
void FastInference::convert_layout() {
  if (options_.half) net_->to(torch::kHalf);
  if (options_.channels_last) {
    for (auto& p : net_->parameters())
      if (p.dim() == 4) p.set_data(p.data().contiguous(torch::MemoryFormat::ChannelsLast));
  }
  convert(stem_, options_);
  for (auto& s : stages_)
    for (auto& b : s) {
      convert(b.c1, options_), convert(b.c2, options_);
      if (b.bottleneck) convert(b.c3, options_);
      if (b.has_downsample) convert(b.downsample, options_);
    }
  for (auto& c : fcn_convs_) convert(c, options_);
  if (fcn_folded_) convert(conv_seg_, options_);
}

torch::Tensor FastInference::backbone_forward(const torch::Tensor& x) {
  if (!resnet_folded_) return backbone_->forward(x);
  // The ResNet graph of model/backbone.cpp with BN folded away.
  torch::Tensor y = torch::max_pool2d(stem_(x).relu_(), 3, 2, 1);
  for (const auto& stage : stages_) {
    for (const auto& b : stage) {
      torch::Tensor z = b.c1(y).relu_();
      z = b.c2(z);
      if (b.bottleneck) z = b.c3(z.relu_());
      z.add_(b.has_downsample ? b.downsample(y) : y);
      y = z.relu_();
    }
  }
  return y;
}

torch::Tensor FastInference::seg_hidden(const torch::Tensor& feat) {
  if (fcn_folded_) return fcn_convs_[0](feat).relu_();
  return std::dynamic_pointer_cast<model::FCNHeadImpl>(seg_head_)->hidden(feat);
}

torch::Tensor FastInference::seg_logits(const torch::Tensor& x_seg) {
  if (fcn_folded_) return conv_seg_(fcn_convs_[1](x_seg).relu_());  // dropout: identity in eval
  return std::dynamic_pointer_cast<model::FCNHeadImpl>(seg_head_)->logits(x_seg);
}

model::ModelOutput FastInference::forward(const torch::Tensor& input) {
  torch::Tensor x = input;
  if (options_.half) x = x.to(torch::kHalf);
  if (options_.channels_last) x = x.contiguous(torch::MemoryFormat::ChannelsLast);
  model::ModelOutput out;
  if (whole_model_fallback_) {
    out = net_->forward(x);
  } else {
    const torch::Tensor feat = backbone_forward(x);
    auto aspp = std::dynamic_pointer_cast<model::ASPPHeadImpl>(seg_head_);
    if (aspp) {
      out.seg_logits = upsample_to(aspp->forward(feat), x);
    } else {
      torch::Tensor x_cls = cls_head_ ? cls_head_->hidden(feat) : torch::Tensor();
      torch::Tensor x_seg = seg_head_ ? seg_hidden(feat) : torch::Tensor();
      if (fusion_) std::tie(x_cls, x_seg) = fusion_->forward(x_cls, x_seg);
      if (cls_head_) out.cls_logits = cls_head_->logits(x_cls);
      if (seg_head_) out.seg_logits = upsample_to(seg_logits(x_seg), x);
    }
  }
  if (out.cls_logits.defined()) out.cls_logits = out.cls_logits.to(torch::kFloat);
  if (out.seg_logits.defined()) out.seg_logits = out.seg_logits.to(torch::kFloat).contiguous();
  out.cls_feat_before = out.cls_feat_after = torch::Tensor();
  return out;
}

}  // namespace excap::trainer
