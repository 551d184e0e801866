// The six networks: output shapes, gradient flow, cross fusion per Eq. 1,
// GAP vs GMP, losses.
#include <doctest/doctest.h>
#include <torch/torch.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

#include "common/error.h"
#include "model/flops.h"
#include "model/heads.h"
#include "model/losses.h"
#include "model/model.h"
#include "model/weights.h"

using namespace excap::model;
using Shape = std::vector<std::int64_t>;
namespace F = torch::nn::functional;

namespace {

ModelConfig config(const std::string& arch, const std::string& backbone = "tiny",
                   bool dilated = true) {
  ModelConfig c;
  c.arch = parse_arch(arch);
  c.backbone = backbone;
  c.dilated = dilated;
  return c;
}

void check_shapes(MultiTaskNetImpl& net, std::int64_t h, std::int64_t w) {
  const ModelConfig& c = net.config();
  net.eval();
  torch::NoGradGuard no_grad;
  const ModelOutput out = net.forward(torch::randn({2, 3, h, w}));
  CHECK(out.cls_logits.defined() == net.has_cls());
  CHECK(out.seg_logits.defined() == net.has_seg());
  if (net.has_cls()) CHECK(out.cls_logits.sizes().vec() == Shape({2, c.num_cd}));
  if (net.has_seg()) CHECK(out.seg_logits.sizes().vec() == Shape({2, c.num_tissue, h, w}));
  const bool fused = c.arch == Arch::Mtcsn;
  CHECK(out.cls_feat_before.defined() == fused);
  CHECK(out.cls_feat_after.defined() == fused);
  if (fused) CHECK(out.cls_feat_after.sizes().vec() == Shape({2, effective_cls_hidden(c)}));
}

torch::Tensor random_mask(std::int64_t n, std::int64_t h, std::int64_t w) {
  auto m = torch::randint(0, 8, {n, h, w}, torch::kUInt8);
  m.index_put_({0, 0}, 255);  // one ignored row
  return m;
}

}  // namespace

TEST_CASE("models: every arch gives the documented shapes at 240x240 and 64x64 (tiny backbone)") {
  at::set_num_threads(2);
  torch::manual_seed(0);
  for (const auto& arch : known_archs()) {
    for (bool dilated : {true, false}) {
      CAPTURE(arch);
      CAPTURE(dilated);
      auto net = build_model(config(arch, "tiny", dilated));
      check_shapes(*net, 240, 240);
      check_shapes(*net, 64, 64);
    }
  }
  auto odd = build_model(config("mtcsn"));
  check_shapes(*odd, 72, 100);  // non-square, not a multiple of 8
}

TEST_CASE("models: MTCSN and hard sharing on ResNet-18 at 240x240") {
  at::set_num_threads(2);
  for (const std::string arch : {"mtcsn", "hard_share"}) {
    CAPTURE(arch);
    auto net = build_model(config(arch, "resnet18"));
    check_shapes(*net, 240, 240);
  }
}

TEST_CASE("models: a backward pass reaches every parameter of every arch") {
  at::set_num_threads(2);
  torch::manual_seed(1);
  for (const auto& arch : known_archs()) {
    CAPTURE(arch);
    auto net = build_model(config(arch));
    net->train();
    const auto x = torch::randn({2, 3, 64, 64});
    const auto out = net->forward(x);
    const auto losses =
        compute_losses(out, torch::tensor({0, 2}), random_mask(2, 64, 64), LossConfig{});
    REQUIRE(losses.at("loss").requires_grad());
    losses.at("loss").backward();
    for (const auto& p : net->named_parameters(true)) {
      CAPTURE(p.key());
      REQUIRE(p.value().grad().defined());
      CHECK(p.value().grad().abs().sum().item<double>() > 0);
    }
  }
}

TEST_CASE(
    "models: MTCSN's M gets gradient from the classification path and from the segmentation path") {
  torch::manual_seed(2);
  auto net = build_model(config("mtcsn"));
  net->train();
  const auto x = torch::randn({2, 3, 64, 64});
  const auto params = net->named_parameters(true);
  const torch::Tensor& m = params["fusion.m.weight"];
  auto zero = [&] {
    for (auto& p : net->parameters()) p.mutable_grad() = torch::Tensor();
  };

  // Classification only: M is reached through Pool(M(X_seg)); the segmentation
  // output layers are not on this path.
  net->forward(x).cls_logits.pow(2).sum().backward();
  REQUIRE(m.grad().defined());
  CHECK(m.grad().abs().sum().item<double>() > 0);
  CHECK_FALSE(params["seg_head.conv_seg.weight"].grad().defined());
  zero();

  // Segmentation only: M is reached through M^T(Pad(X_cls)); fc2 is not on this path.
  net->forward(x).seg_logits.pow(2).sum().backward();
  REQUIRE(m.grad().defined());
  CHECK(m.grad().abs().sum().item<double>() > 0);
  CHECK_FALSE(params["cls_head.fc2.weight"].grad().defined());
  CHECK(params["cls_head.fc1.weight"].grad().defined());  // X_cls feeds the segmentation branch
}

TEST_CASE("models: cross fusion computes Eq. 1 with one M and its transpose") {
  torch::manual_seed(3);
  for (bool max_pool : {false, true}) {
    CAPTURE(max_pool);
    CrossFusion fusion(6, 5, max_pool);
    const auto x_cls = torch::randn({2, 6});
    const auto x_seg = torch::randn({2, 5, 4, 3});
    const auto [cls, seg] = fusion(x_cls, x_seg);
    const auto w = fusion->weight();  // [C1=6, C2=5, 1, 1]
    const auto mapped = F::conv2d(x_seg, w);
    const auto pooled = max_pool ? std::get<0>(mapped.flatten(2).max(2)) : mapped.mean({2, 3});
    CHECK(torch::allclose(cls, x_cls + pooled, 1e-5, 1e-6));
    // M^T as a real 1x1 conv with the transposed weight over the padded X_cls.
    const auto padded = x_cls.view({2, 6, 1, 1}).expand({2, 6, 4, 3});
    CHECK(torch::allclose(seg, x_seg + F::conv2d(padded, w.transpose(0, 1)), 1e-5, 1e-6));
    CHECK(fusion->parameters().size() == 1);  // one shared matrix, no bias
  }
  CrossFusion fusion(6, 5, false);
  CHECK_THROWS_AS(fusion(torch::randn({2, 5}), torch::randn({2, 5, 4, 4})), excap::Error);
}

TEST_CASE("models: GAP and GMP cross fusion give different outputs from the same weights") {
  torch::manual_seed(4);
  auto avg = build_model(config("mtcsn"));
  ModelConfig c = config("mtcsn");
  c.fusion_pool = FusionPool::Max;
  auto max = build_model(c);
  {
    torch::NoGradGuard no_grad;
    auto src = state_dict(*avg);
    for (auto& [name, t] : state_dict(*max)) t.copy_(src.at(name));
  }
  avg->eval();
  max->eval();
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({2, 3, 64, 64});
  const auto a = avg->forward(x), b = max->forward(x);
  CHECK((a.cls_logits - b.cls_logits).abs().max().item<double>() > 1e-4);
  CHECK((a.cls_feat_after - b.cls_feat_after).abs().max().item<double>() > 1e-4);
  CHECK(torch::equal(a.cls_feat_before, b.cls_feat_before));
  // Pool only acts on the classification side of Eq. 1.
  CHECK(torch::allclose(a.seg_logits, b.seg_logits));
}

TEST_CASE("models: cross-stitch units start at [[0.9, 0.1], [0.1, 0.9]] and mix the columns") {
  auto net = build_model(config("cross_stitch"));
  const auto params = net->named_parameters(true);
  for (int i = 0; i < 4; ++i) {
    const auto& alpha = params["stitch." + std::to_string(i) + ".alpha"];
    CHECK(torch::allclose(alpha, torch::tensor({{0.9f, 0.1f}, {0.1f, 0.9f}})));
  }
  CHECK(params.contains("backbone_cls.layer4.0.conv1.weight"));
  CHECK(params.contains("backbone_seg.layer4.0.conv1.weight"));
}

TEST_CASE("losses: named map, Eq. 3-5 values, ignore index, uncertainty weighting") {
  torch::manual_seed(5);
  ModelOutput out;
  out.cls_logits = torch::randn({3, 3}, torch::requires_grad());
  out.seg_logits = torch::randn({3, 8, 4, 4}, torch::requires_grad());
  out.cls_feat_before = torch::randn({3, 6}, torch::requires_grad());
  out.cls_feat_after = out.cls_feat_before + torch::randn({3, 6});
  const auto cd = torch::tensor({0, 1, 2});
  auto mask = torch::randint(0, 8, {3, 4, 4}, torch::kUInt8);
  mask.index_put_({0}, 255);
  LossConfig cfg;
  cfg.w_seg = 2;
  auto l = compute_losses(out, cd, mask, cfg);
  const auto ce_cls = F::cross_entropy(out.cls_logits, cd);
  const auto ce_seg = F::cross_entropy(out.seg_logits, mask.to(torch::kLong),
                                       F::CrossEntropyFuncOptions().ignore_index(255));
  const auto mse = F::mse_loss(out.cls_feat_after, out.cls_feat_before);
  CHECK(torch::allclose(l.at("loss_cls"), ce_cls));
  CHECK(torch::allclose(l.at("loss_seg"), ce_seg));
  CHECK(torch::allclose(l.at("loss_consistency"), mse));
  CHECK(torch::allclose(l.at("loss"), ce_cls + 0.1 * mse + 2 * ce_seg));
  CHECK_FALSE(l.at("loss_cls").requires_grad());

  // Every pixel ignored: 0, not NaN.
  l = compute_losses(out, cd, torch::full({3, 4, 4}, 255, torch::kUInt8), LossConfig{});
  CHECK(l.at("loss_seg").item<double>() == 0.0);
  CHECK(std::isfinite(l.at("loss").item<double>()));

  // Kendall et al.: exp(-s) * L + s / 2 per task, gradient reaching s.
  cfg.weighting = TaskWeighting::Learned;
  CHECK_THROWS_AS(compute_losses(out, cd, mask, cfg), excap::Error);
  TaskUncertainty unc;
  {
    torch::NoGradGuard no_grad;
    unc->log_var_cls.fill_(0.5);
    unc->log_var_seg.fill_(-0.3);
  }
  l = compute_losses(out, cd, mask, cfg, unc.get());
  const double expect = std::exp(-0.5) * (ce_cls + 0.1 * mse).item<double>() + 0.25 +
                        std::exp(0.3) * ce_seg.item<double>() - 0.15;
  CHECK(l.at("loss").item<double>() == doctest::Approx(expect).epsilon(1e-5));
  l.at("loss").backward();
  CHECK(unc->log_var_cls.grad().defined());
  CHECK(unc->log_var_seg.grad().defined());

  // Wrong target shapes are refused with a message.
  CHECK_THROWS_WITH_AS(compute_losses(out, cd, torch::zeros({3, 5, 5}), LossConfig{}),
                       doctest::Contains("mask target"), excap::Error);
  CHECK_THROWS_WITH_AS(compute_losses(out, torch::tensor({0, 1}), mask, LossConfig{}),
                       doctest::Contains("CD target"), excap::Error);
}

TEST_CASE("model cost: parts, totals and the fusion's share") {
  auto net = build_model(config("mtcsn", "resnet50"));
  const ModelCost cost = model_cost(*net, 240, 240);
  REQUIRE(cost.parts.size() == 4);
  CHECK(cost.params() == count_parameters(*net));
  const auto& fusion = cost.parts[3];
  CHECK(fusion.part == "fusion");
  CHECK(fusion.params == 256 * 256);
  CHECK(fusion.macs == 256 * 256 * 30 * 30 + 256 * 256);  // M at 30x30 (stride 8), M^T once
  CHECK(cost.parts[0].macs > cost.parts[1].macs);
  CHECK(format_cost(cost).find("total") != std::string::npos);
  CHECK_THROWS_AS(model_cost(*net, 16, 16), excap::Error);
}

TEST_CASE("model config: JSON round trip, defaults, validation") {
  ModelConfig c = config("seg_aspp", "densenet121", false);
  c.fusion_pool = FusionPool::Max;
  c.num_tissue = 5;
  const nlohmann::json j = c;
  const ModelConfig d = j.get<ModelConfig>();
  CHECK(nlohmann::json(d) == j);
  CHECK(nlohmann::json::parse(R"({"arch":"cls"})").get<ModelConfig>().backbone == "resnet50");
  CHECK_THROWS_AS(build_model(config("unet")), excap::Error);
  CHECK_THROWS_AS(build_model(config("mtcsn", "vgg16")), excap::Error);
  CHECK_THROWS_WITH_AS(nlohmann::json::parse(R"({"fusion_pool":"median"})").get<ModelConfig>(),
                       doctest::Contains("fusion_pool"), excap::Error);
  CHECK_THROWS_AS(nlohmann::json::parse(R"({"num_cd":"three"})").get<ModelConfig>(), excap::Error);
}

TEST_CASE(
    "models: --head-init mmseg sets the heads as mmsegmentation does and leaves the backbone") {
  ModelConfig c = config("mtcsn", "resnet18");
  torch::manual_seed(3);
  const MultiTaskNet plain = build_model(c);
  c.head_init = HeadInit::Mmseg;
  torch::manual_seed(3);
  const MultiTaskNet mm = build_model(c);
  const auto a = plain->named_parameters(true), b = mm->named_parameters(true);
  // The backbone is built (and drawn) first: the same numbers under either init.
  CHECK(torch::equal(a["backbone.conv1.weight"], b["backbone.conv1.weight"]));
  CHECK(torch::equal(a["backbone.layer4.1.conv2.weight"], b["backbone.layer4.1.conv2.weight"]));
  auto sd = [](const torch::Tensor& t) { return t.std().item<double>(); };
  // ConvModule: kaiming normal over fan_out (256 * 3 * 3), std sqrt(2 / fan_out).
  const auto conv = b["seg_head.convs.0.conv.weight"];
  CHECK(sd(conv) == doctest::Approx(std::sqrt(2.0 / (256 * 9))).epsilon(0.03));
  // LibTorch's default (kaiming uniform, a = sqrt(5)): std 1 / sqrt(3 fan_in), fan_in 512 * 9.
  CHECK(sd(a["seg_head.convs.0.conv.weight"]) ==
        doctest::Approx(1 / std::sqrt(3.0 * 512 * 9)).epsilon(0.03));
  // conv_seg and the classifier's linear layers: N(0, 0.01), biases 0.
  CHECK(sd(b["seg_head.conv_seg.weight"]) == doctest::Approx(0.01).epsilon(0.15));
  CHECK(sd(b["cls_head.fc1.weight"]) == doctest::Approx(0.01).epsilon(0.03));
  CHECK(b["seg_head.conv_seg.bias"].abs().max().item<float>() == 0);
  CHECK(b["cls_head.fc2.bias"].abs().max().item<float>() == 0);
  CHECK(a["cls_head.fc2.bias"].abs().max().item<float>() > 0);
  // The fusion's 1x1 conv is a head layer too.
  CHECK(sd(b["fusion.m.weight"]) == doctest::Approx(std::sqrt(2.0 / 256)).epsilon(0.05));
}
