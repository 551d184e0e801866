// The closed sets of the model config: enums inside, the same strings on
// disk and on the command line, and errors that list the allowed names.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "common/error.h"
#include "model/config.h"

using namespace excap::model;

TEST_CASE("model config enums: every name round-trips through parse and to_string") {
  for (std::size_t i = 0; i < known_archs().size(); ++i) {
    const Arch a = parse_arch(known_archs()[i]);
    CHECK(static_cast<std::size_t>(a) == i);
    CHECK(to_string(a) == known_archs()[i]);
  }
  CHECK(known_archs().size() == 6);
  CHECK(parse_arch("cross_stitch") == Arch::CrossStitch);
  CHECK(parse_arch("seg_aspp") == Arch::SegAspp);
  for (const auto& name : known_fusion_pools()) CHECK(to_string(parse_fusion_pool(name)) == name);
  CHECK(parse_fusion_pool("max") == FusionPool::Max);
  for (const auto& name : known_task_weightings())
    CHECK(to_string(parse_task_weighting(name)) == name);
  CHECK(parse_task_weighting("learned") == TaskWeighting::Learned);
  for (const auto& name : known_head_inits()) CHECK(to_string(parse_head_init(name)) == name);
  CHECK(parse_head_init("mmseg") == HeadInit::Mmseg);
  CHECK(arch_has_cls(Arch::Cls));
  CHECK_FALSE(arch_has_seg(Arch::Cls));
  CHECK_FALSE(arch_has_cls(Arch::SegFcn));
  CHECK(arch_has_seg(Arch::Mtcsn));
}

TEST_CASE("model config enums: a bad name is refused with the allowed ones listed") {
  CHECK_THROWS_WITH_AS(
      parse_arch("unet", "--model"),
      "--model: unknown 'unet' (allowed: mtcsn, cls, seg_fcn, seg_aspp, hard_share, cross_stitch)",
      excap::Error);
  CHECK_THROWS_WITH_AS(parse_fusion_pool("median"),
                       "fusion_pool: unknown 'median' (allowed: avg, max)", excap::Error);
  CHECK_THROWS_WITH_AS(parse_task_weighting("uncertain"),
                       "weighting: unknown 'uncertain' (allowed: fixed, learned)", excap::Error);
  CHECK_THROWS_WITH_AS(parse_head_init("xavier", "--head-init"),
                       "--head-init: unknown 'xavier' (allowed: libtorch, mmseg)", excap::Error);
  CHECK_THROWS_WITH_AS(nlohmann::json::parse(R"({"head_init":"zero"})").get<ModelConfig>(),
                       doctest::Contains("head_init: unknown 'zero'"), excap::Error);
  CHECK_THROWS_WITH_AS(nlohmann::json::parse(R"({"arch":"unet"})").get<ModelConfig>(),
                       doctest::Contains("allowed: mtcsn, cls"), excap::Error);
  CHECK_THROWS_WITH_AS(nlohmann::json::parse(R"({"fusion_pool":7})").get<ModelConfig>(),
                       doctest::Contains("wrong type"), excap::Error);
}

TEST_CASE("model config: a config written before the enums loads and writes the same strings") {
  // The "model" object of a format-1 run config.json, as the string fields wrote it.
  const auto old = nlohmann::json::parse(R"({"arch":"cross_stitch","backbone":"resnet18",
      "num_cd":3,"num_tissue":8,"dilated":false,"fusion_pool":"max","cls_hidden":0,
      "seg_channels":0,"seg_dropout":0.1})");
  const ModelConfig c = old.get<ModelConfig>();
  CHECK(c.arch == Arch::CrossStitch);
  CHECK(c.fusion_pool == FusionPool::Max);
  CHECK(c.backbone == "resnet18");
  CHECK_FALSE(c.dilated);
  CHECK(c.head_init == HeadInit::Libtorch);  // what a run of that time was built with
  auto written = old;
  written["head_init"] = "libtorch";
  CHECK(nlohmann::json(c) == written);
  const ModelConfig defaults = nlohmann::json::object().get<ModelConfig>();
  CHECK(defaults.arch == Arch::Mtcsn);
  CHECK(defaults.fusion_pool == FusionPool::Avg);
}
