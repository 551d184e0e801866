// Batch-norm folding (triage/infer_fast.h): the fast path gives the model's
// own eval-mode outputs to 1e-4, with non-trivial BN statistics.
#include <doctest/doctest.h>

#include <torch/torch.h>

#include "model/model.h"
#include "triage/infer_fast.h"

// glog (pulled in by LibTorch) defines CHECK too; the assertions here are doctest's.
#undef CHECK
#define CHECK DOCTEST_CHECK

using namespace excap;

namespace {

// Random BN statistics and affine parameters, so eval-mode BN is far from identity.
void randomise_bn(model::MultiTaskNetImpl& net) {
  torch::NoGradGuard no_grad;
  for (auto& m : net.modules(false)) {
    if (auto* bn = m->as<torch::nn::BatchNorm2d>()) {
      bn->running_mean.uniform_(-0.5, 0.5);
      bn->running_var.uniform_(0.5, 2.0);
      bn->weight.uniform_(0.5, 1.5);
      bn->bias.uniform_(-0.3, 0.3);
    }
  }
}

struct Diff {
  double cls = 0, seg = 0, cls_scale = 0;
};

Diff compare(const model::ModelConfig& cfg, int size, int batch,
             trainer::FoldReport* report = nullptr, bool channels_last = false) {
  torch::manual_seed(5);
  model::MultiTaskNet net = model::build_model(cfg);
  randomise_bn(*net);
  net->eval();
  const torch::Tensor x = torch::randn({batch, 3, size, size});
  model::ModelOutput ref;
  {
    torch::NoGradGuard no_grad;
    ref = net->forward(x);
  }
  trainer::FastPathOptions o;
  o.channels_last = channels_last;
  trainer::FastInference fast(net, o);
  if (report) *report = fast.report();
  c10::InferenceMode guard;
  const model::ModelOutput out = fast.forward(x);
  Diff d;
  d.cls = (out.cls_logits - ref.cls_logits).abs().max().item<double>();
  d.seg = (out.seg_logits - ref.seg_logits).abs().max().item<double>();
  d.cls_scale = ref.cls_logits.abs().max().item<double>();
  return d;
}

model::ModelConfig config(const std::string& backbone, bool dilated) {
  model::ModelConfig c;
  c.arch = model::Arch::Mtcsn;
  c.backbone = backbone;
  c.dilated = dilated;
  return c;
}

}  // namespace

TEST_CASE("BN folding: tiny MTCSN (dilated and not) matches the unfolded model to 1e-4") {
  for (bool dilated : {true, false}) {
    trainer::FoldReport report;
    const Diff d = compare(config("tiny", dilated), 64, 3, &report);
    INFO("dilated " << dilated << ": cls diff " << d.cls << ", seg diff " << d.seg);
    CHECK(d.cls < 1e-4);
    CHECK(d.seg < 1e-4);
    // stem + 4 blocks x 2 + 3 downsamples + 2 FCN head convs
    CHECK(report.folded_pairs == 1 + 8 + 3 + 2);
    CHECK(report.not_folded.empty());
  }
}

TEST_CASE("BN folding: ResNet-18 and bottleneck ResNet-50 MTCSN match to 1e-4") {
  trainer::FoldReport r18, r50;
  const Diff a = compare(config("resnet18", true), 48, 2, &r18);
  INFO("resnet18: cls " << a.cls << " seg " << a.seg);
  CHECK(a.cls < 1e-4);
  CHECK(a.seg < 1e-4);
  CHECK(r18.folded_pairs == 1 + 16 + 3 + 2);
  const Diff b = compare(config("resnet50", false), 64, 2, &r50);
  INFO("resnet50: cls " << b.cls << " seg " << b.seg);
  CHECK(b.cls < 1e-4);
  CHECK(b.seg < 1e-4);
  CHECK(r50.folded_pairs == 1 + 16 * 3 + 4 + 2);
}

TEST_CASE("BN folding with channels-last activations still matches to 1e-4") {
  const Diff d = compare(config("tiny", true), 64, 2, nullptr, /*channels_last=*/true);
  CHECK(d.cls < 1e-4);
  CHECK(d.seg < 1e-4);
}

TEST_CASE(
    "BN folding: DenseNet's pre-activation BN is reported as not folded and outputs still match") {
  trainer::FoldReport report;
  const Diff d = compare(config("densenet121", false), 32, 1, &report);
  CHECK(d.cls < 1e-4);
  CHECK(d.seg < 1e-4);
  CHECK(report.folded_pairs == 2);  // the FCN head's two ConvModules
  REQUIRE(report.not_folded.size() == 1);
  CHECK(report.not_folded[0].find("pre-activation") != std::string::npos);
}

TEST_CASE("fold_conv_bn computes W*s and (b-mean)*s+beta") {
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(2, 3, 1).bias(true));
  torch::nn::BatchNorm2d bn(3);
  {
    torch::NoGradGuard g;
    conv->weight.fill_(1.0);
    conv->bias.fill_(0.5);
    bn->running_mean.copy_(torch::tensor({0.5f, 1.0f, -1.0f}));
    bn->running_var.copy_(torch::tensor({4.0f, 1.0f, 0.25f}));
    bn->weight.copy_(torch::tensor({2.0f, 1.0f, 1.0f}));
    bn->bias.copy_(torch::tensor({0.0f, 1.0f, 0.0f}));
  }
  bn->options.eps(0);
  const trainer::FoldedConv f = trainer::fold_conv_bn(*conv, *bn);
  CHECK(f.weight[0][0][0][0].item<double>() == doctest::Approx(1.0));  // 2/sqrt(4)
  CHECK(f.weight[2][1][0][0].item<double>() == doctest::Approx(2.0));  // 1/sqrt(0.25)
  CHECK(f.bias[0].item<double>() == doctest::Approx(0.0));
  CHECK(f.bias[1].item<double>() == doctest::Approx(0.5));  // (0.5-1)*1+1
  CHECK(f.bias[2].item<double>() == doctest::Approx(3.0));  // (0.5+1)*2
}
