// Weight files: save/load by name, reports and refusals, import of torchvision
// state dicts (safetensors and .pth), and the `excap weights` / `excap model` commands.
#include <doctest/doctest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "common/error.h"
#include "common/fsutil.h"
#include "common/safetensors.h"
#include "model/backbone.h"
#include "model/model.h"
#include "model/tensor_io.h"
#include "model/weights.h"
#include "test_support.h"

using namespace excap::model;
using excap::test::ScratchDir;

namespace {

ModelConfig config(const std::string& arch, const std::string& backbone = "tiny") {
  ModelConfig c;
  c.arch = parse_arch(arch);
  c.backbone = backbone;
  return c;
}

bool same_state(const torch::nn::Module& a, const torch::nn::Module& b) {
  const auto sa = state_dict(a), sb = state_dict(b);
  if (sa.size() != sb.size()) return false;
  for (const auto& [name, t] : sa)
    if (!sb.count(name) || !torch::equal(t, sb.at(name))) return false;
  return true;
}

std::string excap_cmd() { return excap::test::built_binary("excap"); }

}  // namespace

TEST_CASE("weights: save and load round trip bit-exact, config in the metadata") {
  ScratchDir dir("weights_roundtrip");
  torch::manual_seed(10);
  ModelConfig c = config("mtcsn");
  c.fusion_pool = FusionPool::Max;
  auto a = build_model(c);
  {
    torch::NoGradGuard no_grad;  // make buffers non-trivial too
    for (auto& b : a->buffers()) b.add_(3);
  }
  save_weights(dir / "w.safetensors", *a, c);
  CHECK(nlohmann::json(read_weights_config(dir / "w.safetensors")) == nlohmann::json(c));
  torch::manual_seed(11);
  auto b = build_model(read_weights_config(dir / "w.safetensors"));
  CHECK_FALSE(same_state(*a, *b));
  const LoadReport r = load_weights(dir / "w.safetensors", *b, true);
  CHECK(r.missing.empty());
  CHECK(r.unexpected.empty());
  CHECK(r.loaded == state_dict(*a).size());
  CHECK(same_state(*a, *b));
  a->eval();
  b->eval();
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({1, 3, 64, 64});
  CHECK(torch::equal(a->forward(x).seg_logits, b->forward(x).seg_logits));
  // Python's safetensors reads what we write: the names, dtypes and the "pt" format tag.
  const auto header = excap::safetensors::read_header(dir / "w.safetensors");
  CHECK(header.metadata.at("format") == "pt");
  CHECK(header.tensors.at("backbone.bn1.num_batches_tracked").dtype() ==
        excap::safetensors::DType::I64);
}

TEST_CASE(
    "weights: missing and unexpected keys are reported, strict refuses them, shape mismatches name "
    "the tensor") {
  ScratchDir dir("weights_mismatch");
  auto hard = build_model(config("hard_share"));
  save_weights(dir / "hard.safetensors", *hard, hard->config());
  auto mtcsn = build_model(config("mtcsn"));
  const LoadReport r = load_weights(dir / "hard.safetensors", *mtcsn, false);
  CHECK(r.missing == std::vector<std::string>{"fusion.m.weight"});
  CHECK(r.unexpected.empty());
  CHECK(r.summary().find("fusion.m.weight") != std::string::npos);
  CHECK_THROWS_WITH_AS(load_weights(dir / "hard.safetensors", *mtcsn, true),
                       doctest::Contains("fusion.m.weight"), excap::Error);
  auto cls = build_model(config("cls"));
  const LoadReport u = load_weights(dir / "hard.safetensors", *cls, false);
  CHECK(u.missing.empty());
  CHECK(std::find(u.unexpected.begin(), u.unexpected.end(), "seg_head.conv_seg.weight") !=
        u.unexpected.end());

  ModelConfig five = config("hard_share");
  five.num_tissue = 5;
  auto other = build_model(five);
  const auto before = state_dict(*other).at("backbone.conv1.weight").clone();
  try {
    load_weights(dir / "hard.safetensors", *other, false);
    FAIL("loaded an 8-class head into a 5-class model");
  } catch (const excap::Error& e) {
    const std::string msg = e.what();
    CAPTURE(msg);
    CHECK(msg.find("hard.safetensors") != std::string::npos);
    CHECK(msg.find("seg_head.conv_seg") != std::string::npos);
    CHECK(msg.find("has shape [8") != std::string::npos);
    CHECK(msg.find("needs [5") != std::string::npos);
  }
  CHECK(
      torch::equal(before, state_dict(*other).at("backbone.conv1.weight")));  // nothing half-loaded
  CHECK_THROWS_WITH_AS(read_weights_config(dir / "nope.safetensors"),
                       doctest::Contains("nope.safetensors"), excap::Error);
  save_tensors(dir / "plain.safetensors", {{"x", torch::zeros({2})}});
  CHECK_THROWS_WITH_AS(read_weights_config(dir / "plain.safetensors"),
                       doctest::Contains("no model configuration"), excap::Error);
}

TEST_CASE("weights: tensor adapters keep dtype, shape and bits") {
  ScratchDir dir("weights_dtypes");
  std::map<std::string, torch::Tensor> t{{"u8", torch::randint(0, 255, {2, 3, 4}, torch::kUInt8)},
                                         {"i32", torch::randint(-9, 9, {5}, torch::kInt32)},
                                         {"i64", torch::randint(-9, 9, {5}, torch::kInt64)},
                                         {"f16", torch::randn({3, 3}).to(torch::kHalf)},
                                         {"bf16", torch::randn({3, 3}).to(torch::kBFloat16)},
                                         {"f32", torch::randn({2, 2})},
                                         {"f64", torch::randn({2, 2}, torch::kDouble)},
                                         {"bool", torch::rand({7}) > 0.5},
                                         {"strided", torch::randn({4, 6}).t()}};
  save_tensors(dir / "t.safetensors", t, {{"k", "v"}});
  std::map<std::string, std::string> meta;
  const auto back = load_tensors(dir / "t.safetensors", &meta);
  CHECK(meta.at("k") == "v");
  for (const auto& [name, x] : t) {
    CAPTURE(name);
    CHECK((back.at(name).scalar_type() == x.scalar_type()));
    CHECK(torch::equal(back.at(name), x));
  }
  CHECK_THROWS_AS(to_safetensor(torch::zeros({2}, torch::kComplexFloat)), excap::Error);
}

TEST_CASE("weights: torchvision names map into every arch, legacy DenseNet keys are remapped") {
  CHECK(remap_legacy_key("features.denseblock1.denselayer1.norm.1.weight") ==
        "features.denseblock1.denselayer1.norm1.weight");
  CHECK(remap_legacy_key("module.features.denseblock3.denselayer12.conv.2.weight") ==
        "features.denseblock3.denselayer12.conv2.weight");
  CHECK(remap_legacy_key("features.norm5.running_var") == "features.norm5.running_var");
  CHECK(remap_legacy_key("layer1.0.conv1.weight") == "layer1.0.conv1.weight");

  const auto torchvision = state_dict(*make_backbone({"tiny", false, 1000}));
  for (const std::string arch : {"mtcsn", "cls", "seg_aspp", "cross_stitch"}) {
    CAPTURE(arch);
    auto net = build_model(config(arch));
    const BackboneImport imp = map_backbone_weights(torchvision, *net, "tv.safetensors");
    const std::size_t columns = arch == "cross_stitch" ? 2 : 1;
    CHECK(imp.tensors.size() == columns * (torchvision.size() - 2));
    CHECK(imp.dropped == std::vector<std::string>{"fc.bias", "fc.weight"});
    CHECK(imp.tensors.size() + imp.not_in_file.size() == state_dict(*net).size());
  }
  auto r18 = build_model(config("mtcsn", "resnet18"));
  CHECK_THROWS_WITH_AS(map_backbone_weights(torchvision, *r18, "tv.safetensors"),
                       doctest::Contains("'backbone.bn1.bias' needs [64]"), excap::Error);
  CHECK_THROWS_WITH_AS(map_backbone_weights({{"foo", torch::zeros({1})}}, *r18, "tv.safetensors"),
                       doctest::Contains("no tensor matches"), excap::Error);
}

TEST_CASE("cli: excap model info prints parameters and GFLOPs per part") {
  std::string out;
  REQUIRE_MESSAGE(excap::test::run_command({excap_cmd(), "model", "info", "--model", "mtcsn",
                                            "--backbone", "resnet50", "--size", "240"},
                                           &out) == 0,
                  out);
  for (const char* part : {"backbone", "cls_head", "seg_head", "fusion", "total", "GFLOPs"})
    CHECK_MESSAGE(out.find(part) != std::string::npos, part);
  auto net = build_model(config("mtcsn", "resnet50"));
  CHECK(out.find(std::to_string(count_parameters(*net))) != std::string::npos);
  CHECK(excap::test::run_command(
            {excap_cmd(), "model", "info", "--model", "unet", "--backbone", "resnet50"}, &out) !=
        0);
  CHECK(out.find("unet") != std::string::npos);
}

TEST_CASE(
    "cli: excap weights import takes torchvision safetensors and writes loadable model weights") {
  ScratchDir dir("weights_import");
  torch::manual_seed(12);
  auto tv = make_backbone({"tiny", true, 1000});
  save_tensors(dir / "tv.safetensors", state_dict(*tv));
  std::string out;
  REQUIRE_MESSAGE(
      excap::test::run_command(
          {excap_cmd(), "weights", "import", (dir / "tv.safetensors").string(), "--arch",
           "cross_stitch", "--backbone", "tiny", "--out", (dir / "w.safetensors").string()},
          &out) == 0,
      out);
  CHECK(out.find("fc.weight") != std::string::npos);  // dropped keys are listed
  const ModelConfig c = read_weights_config(dir / "w.safetensors");
  CHECK(c.arch == Arch::CrossStitch);
  auto net = build_model(c);
  const LoadReport r = load_weights(dir / "w.safetensors", *net, false);
  CHECK(r.unexpected.empty());
  CHECK(r.loaded == 2 * (state_dict(*tv).size() - 2));
  CHECK(torch::equal(state_dict(*net).at("backbone_seg.layer2.0.conv1.weight"),
                     state_dict(*tv).at("layer2.0.conv1.weight")));

  // A backbone that does not fit the arch is refused with the tensor's name.
  CHECK(excap::test::run_command(
            {excap_cmd(), "weights", "import", (dir / "tv.safetensors").string(), "--arch", "mtcsn",
             "--backbone", "resnet18", "--out", (dir / "x.safetensors").string()},
            &out) != 0);
  CHECK(out.find("'backbone.bn1.bias' needs [64]") != std::string::npos);
  CHECK(excap::test::run_command(
            {excap_cmd(), "weights", "import", (dir / "missing.safetensors").string(), "--arch",
             "mtcsn", "--out", (dir / "x.safetensors").string()},
            &out) != 0);
  CHECK(out.find("missing.safetensors") != std::string::npos);

  // A .pth without a python that has torch: a clear message, not a crash.
  excap::atomic_write(dir / "state.pth", std::string("not a pickle"));
  CHECK(excap::test::run_command({excap_cmd(), "weights", "import", (dir / "state.pth").string(),
                                  "--arch", "mtcsn", "--out", (dir / "x.safetensors").string()},
                                 &out, {{"EXCAP_PYTHON", "/nonexistent/python3"}}) != 0);
  CHECK(out.find("python3-torch") != std::string::npos);
  CHECK(out.find("state.pth") != std::string::npos);
}

TEST_CASE(
    "cli: excap weights import converts a .pth with legacy DenseNet keys through python3-torch") {
  const std::string py = excap::test::reference_python();
  if (py.empty()) return;
  ScratchDir dir("weights_import_pth");
  // torchvision's old DenseNet checkpoints spell "norm1" as "norm.1".
  const std::string script =
      "import re, torch, torchvision\n"
      "torch.manual_seed(0)\n"
      "sd = torchvision.models.densenet121(weights=None).state_dict()\n"
      "legacy = {re.sub(r'(denselayer\\d+\\.(?:norm|relu|conv))([12])\\.', r'\\1.\\2.', k): v for "
      "k, v in sd.items()}\n"
      "assert any('norm.1' in k for k in legacy)\n"
      "torch.save({'state_dict': legacy}, '" +
      (dir / "dn.pth").string() + "')\n";
  excap::atomic_write(dir / "make.py", script);
  std::string out;
  REQUIRE_MESSAGE(excap::test::run_command({py, (dir / "make.py").string()}, &out) == 0, out);
  REQUIRE_MESSAGE(
      excap::test::run_command(
          {excap_cmd(), "weights", "import", (dir / "dn.pth").string(), "--arch", "mtcsn",
           "--backbone", "densenet121", "--out", (dir / "w.safetensors").string()},
          &out) == 0,
      out);
  auto net = build_model(read_weights_config(dir / "w.safetensors"));
  const LoadReport r = load_weights(dir / "w.safetensors", *net, false);
  CHECK(r.unexpected.empty());
  CHECK(r.loaded == 727 - 2);  // torchvision densenet121's state dict minus its classifier
  CHECK(excap::test::run_command({excap_cmd(), "weights", "import", (dir / "make.py").string(),
                                  "--arch", "mtcsn", "--out", (dir / "x.safetensors").string()},
                                 &out) != 0);
}

namespace {
namespace st = excap::safetensors;

// A tiny MTCSN's weights with one tensor rewritten by `edit` (same name).
void write_edited(const fs::path& path, const std::string& name,
                  const std::function<st::Tensor(const st::Tensor&)>& edit) {
  auto net = build_model(config("mtcsn"));
  save_weights(path, *net, net->config());
  st::File f = st::read(path);
  f.tensors[name] = edit(f.tensors.at(name));
  st::write(path, f);
}

std::vector<std::uint8_t> bytes_of(const st::Tensor& t) {
  return std::vector<std::uint8_t>(t.data(), t.data() + t.nbytes());
}
}  // namespace

TEST_CASE(
    "weights: a relabelled dtype, a wrong shape and a NaN are refused with the tensor named") {
  ScratchDir dir("weights_checked");
  const std::string name = "backbone.conv1.weight";
  const fs::path path = dir / "w.safetensors";
  auto target = build_model(config("mtcsn"));
  const auto before = state_dict(*target).at(name).clone();

  write_edited(path, name, [](const st::Tensor& t) {
    return st::Tensor(st::DType::I32, t.shape(), bytes_of(t));  // same bytes, relabelled
  });
  CHECK_THROWS_WITH_AS(
      load_weights(path, *target, false),
      doctest::Contains(
          ("tensor '" + name + "' has dtype I32 in the file but the model needs F32").c_str()),
      excap::Error);
  CHECK_THROWS_WITH_AS(load_weights(path, *target, false),
                       doctest::Contains((path.string()).c_str()), excap::Error);

  write_edited(path, "backbone.bn1.num_batches_tracked", [](const st::Tensor& t) {
    return st::Tensor(st::DType::F64, t.shape(), bytes_of(t));
  });
  CHECK_THROWS_WITH_AS(load_weights(path, *target, false),
                       doctest::Contains("'backbone.bn1.num_batches_tracked' has dtype F64 in "
                                         "the file but the model needs I64"),
                       excap::Error);

  write_edited(path, name, [](const st::Tensor& t) {
    return st::Tensor(t.dtype(), {t.numel()}, bytes_of(t));  // flattened
  });
  CHECK_THROWS_WITH_AS(load_weights(path, *target, false),
                       doctest::Contains(("tensor '" + name + "' has shape").c_str()),
                       excap::Error);

  for (const float bad :
       {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    write_edited(path, name, [bad](const st::Tensor& t) {
      auto b = bytes_of(t);
      std::memcpy(b.data() + 4, &bad, sizeof bad);
      return st::Tensor(t.dtype(), t.shape(), std::move(b));
    });
    CHECK_THROWS_WITH_AS(
        load_weights(path, *target, false),
        doctest::Contains(("tensor '" + name + "' holds 1 non-finite value").c_str()),
        excap::Error);
    // The import refuses it too.
    CHECK_THROWS_WITH_AS(map_backbone_weights(load_tensors(path), *target, "in.safetensors"),
                         doctest::Contains("non-finite"), excap::Error);
  }
  CHECK(torch::equal(state_dict(*target).at(name), before));  // nothing was copied

  // A good file still loads.
  auto good = build_model(config("mtcsn"));
  save_weights(path, *good, good->config());
  CHECK(load_weights(path, *target, true).loaded == state_dict(*good).size());
  CHECK(same_state(*good, *target));
}

TEST_CASE("cli: excap weights import refuses relabelled and non-finite tensors, naming them") {
  ScratchDir dir("weights_import_checked");
  const std::string name = "backbone.conv1.weight";
  const fs::path in = dir / "in.safetensors", out = dir / "out.safetensors";
  write_edited(in, name, [](const st::Tensor& t) {
    return st::Tensor(st::DType::I32, t.shape(), bytes_of(t));
  });
  std::string text;
  CHECK(excap::test::run_command({excap_cmd(), "weights", "import", in.string(), "--out",
                                  out.string(), "--arch", "mtcsn", "--backbone", "tiny"},
                                 &text) != 0);
  CHECK_MESSAGE(text.find("'" + name + "'") != std::string::npos, text);
  CHECK_MESSAGE(text.find("I32") != std::string::npos, text);
  CHECK_FALSE(fs::exists(out));
}
