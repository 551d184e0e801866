// Backbones against torchvision: names, parameter counts, MAC counts and
// eval-mode outputs of randomly initialised models (scripts/torch_reference.py).
#include <doctest/doctest.h>
#include <torch/torch.h>

#include <map>
#include <string>

#include "model/backbone.h"
#include "model/model.h"
#include "model/tensor_io.h"
#include "model/weights.h"
#include "test_support.h"

using namespace excap::model;
using Shape = std::vector<std::int64_t>;
using excap::test::ScratchDir;

TEST_CASE("backbones: parameter counts equal torchvision's") {
  // torchvision.models.<name>(weights=None) parameter counts, ImageNet classifier included.
  const std::map<std::string, std::int64_t> expected{{"resnet18", 11689512},
                                                     {"resnet34", 21797672},
                                                     {"resnet50", 25557032},
                                                     {"resnet101", 44549160},
                                                     {"densenet121", 7978856}};
  for (const auto& [name, count] : expected) {
    CAPTURE(name);
    CHECK(count_parameters(*make_backbone({name, false, 1000})) == count);
    CHECK(count_parameters(*make_backbone({name, true, 1000})) ==
          count);  // dilation adds no parameter
  }
}

TEST_CASE("backbones: state-dict names follow torchvision") {
  const auto r50 = state_dict(*make_backbone({"resnet50", true, 1000}));
  for (const char* key :
       {"conv1.weight", "bn1.num_batches_tracked", "layer1.0.downsample.1.running_var",
        "layer3.5.conv3.weight", "layer4.2.bn3.bias", "fc.weight"})
    CHECK_MESSAGE(r50.count(key) == 1, key);
  CHECK(r50.size() == 320);  // len(torchvision.models.resnet50().state_dict())
  const auto d121 = state_dict(*make_backbone({"densenet121", false, 1000}));
  for (const char* key :
       {"features.conv0.weight", "features.denseblock1.denselayer1.norm1.weight",
        "features.denseblock4.denselayer16.conv2.weight", "features.transition3.conv.weight",
        "features.norm5.running_mean", "classifier.bias"})
    CHECK_MESSAGE(d121.count(key) == 1, key);
  CHECK(state_dict(*make_backbone({"tiny", true, 0})).count("layer4.0.downsample.0.weight") == 1);
}

TEST_CASE("backbones: analytic MAC walk equals torchvision's conv+linear MACs at 224x224") {
  // Forward-hook counts of torchvision models at 1x3x224x224 (the GFLOPS column
  // of torchvision's model table: 1.81, 4.09, 2.83).
  const std::map<std::string, std::int64_t> expected{
      {"resnet18", 1814073344}, {"resnet50", 4089184256}, {"densenet121", 2834161664}};
  for (const auto& [name, macs] : expected) {
    CAPTURE(name);
    auto bb = make_backbone({name, false, 1000});
    FeatureShape s{3, 224, 224};
    CHECK(bb->backbone_macs(s) + bb->classifier_macs() == macs);
    CHECK(s.c == bb->out_channels());
    CHECK(s.h == 7);
  }
}

TEST_CASE("backbones: output stride 32, or 8 when dilated, for every backbone") {
  torch::NoGradGuard no_grad;
  for (const std::string name : {"resnet18", "resnet34", "resnet50", "densenet121", "tiny"}) {
    for (bool dilated : {false, true}) {
      CAPTURE(name);
      CAPTURE(dilated);
      auto bb = make_backbone({name, dilated, 0});
      bb->eval();
      const auto y = bb->forward(torch::randn({1, 3, 64, 64}));
      CHECK(y.sizes().vec() == Shape({1, bb->out_channels(), dilated ? 8 : 2, dilated ? 8 : 2}));
      FeatureShape s{3, 64, 64};
      bb->backbone_macs(s);
      CHECK(s.h == y.size(2));
    }
  }
}

TEST_CASE(
    "backbones: parity with torchvision (resnet18, resnet50, densenet121, dilated resnet50)") {
  const std::string py = excap::test::reference_python();
  if (py.empty()) return;  // reference_python() printed why
  at::set_num_threads(2);
  ScratchDir dir("model_parity");
  std::string log;
  const int rc = excap::test::run_command(
      {py, EXCAP_SCRIPTS_DIR "/torch_reference.py", dir.path().string(), "--size", "64", "--models",
       "resnet18,resnet50,densenet121,resnet50_dilated"},
      &log);
  REQUIRE_MESSAGE(rc == 0, log);
  torch::NoGradGuard no_grad;
  const std::map<std::string, BackboneOptions> cases{
      {"resnet18", {"resnet18", false, 1000}},
      {"resnet50", {"resnet50", false, 1000}},
      {"densenet121", {"densenet121", false, 1000}},
      {"resnet50_dilated", {"resnet50", true, 1000}}};
  for (const auto& [file, opts] : cases) {
    CAPTURE(file);
    auto bb = make_backbone(opts);
    bb->eval();
    // strict: every torchvision name (num_batches_tracked included) is ours and vice versa.
    const LoadReport report = load_weights(dir / (file + ".safetensors"), *bb, true);
    CHECK(report.loaded == state_dict(*bb).size());
    std::map<std::string, std::string> meta;
    auto io = load_tensors(dir / (file + "_io.safetensors"), &meta);
    const auto features = bb->forward(io.at("input"));
    const auto logits = bb->classify(features);
    REQUIRE(features.sizes() == io.at("features").sizes());
    const double feat_err = (features - io.at("features")).abs().max().item<double>();
    const double logit_err = (logits - io.at("logits")).abs().max().item<double>();
    MESSAGE(file << ": max |features - torchvision| = " << feat_err
                 << " (max |features| = " << io.at("features").abs().max().item<double>()
                 << "), max |logits - torchvision| = " << logit_err);
    CHECK(feat_err < 1e-4);
    CHECK(logit_err < 1e-4);
    CHECK(count_parameters(*bb) == std::stoll(meta.at("params")));
    if (file == "resnet18") {
      // The comparison is sensitive: one nudged BN statistic breaks it.
      state_dict(*bb).at("layer4.1.bn2.running_mean").add_(1e-2);
      CHECK((bb->forward(io.at("input")) - io.at("features")).abs().max().item<double>() > 1e-4);
    }
    FeatureShape s{3, 64, 64};
    CHECK(bb->backbone_macs(s) + bb->classifier_macs() == std::stoll(meta.at("macs_at_size")));
  }
}
