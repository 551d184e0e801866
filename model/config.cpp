#include "model/config.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/error.h"

namespace excap::model {

const std::vector<std::string>& known_archs() {
  static const std::vector<std::string> v{"mtcsn",    "cls",        "seg_fcn",
                                          "seg_aspp", "hard_share", "cross_stitch"};
  return v;
}

const std::vector<std::string>& known_backbones() {
  static const std::vector<std::string> v{"resnet18",  "resnet34",    "resnet50",
                                          "resnet101", "densenet121", "tiny"};
  return v;
}

bool arch_has_cls(const std::string& a) { return a != "seg_fcn" && a != "seg_aspp"; }
bool arch_has_seg(const std::string& a) { return a != "cls"; }

namespace {
std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}
bool contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}
}  // namespace

void validate(const ModelConfig& c) {
  const std::string where = "model config";
  if (!contains(known_archs(), c.arch))
    throw Error(where, "unknown arch '" + c.arch + "' (known: " + join(known_archs()) + ")");
  if (!contains(known_backbones(), c.backbone))
    throw Error(where,
                "unknown backbone '" + c.backbone + "' (known: " + join(known_backbones()) + ")");
  if (c.num_cd < 1) throw Error(where, "num_cd must be at least 1");
  if (c.num_tissue < 1) throw Error(where, "num_tissue must be at least 1");
  if (c.fusion_pool != "avg" && c.fusion_pool != "max")
    throw Error(where, "fusion_pool must be \"avg\" or \"max\", not '" + c.fusion_pool + "'");
  if (c.cls_hidden < 0 || c.seg_channels < 0)
    throw Error(where, "cls_hidden and seg_channels must be >= 0");
  if (c.seg_dropout < 0 || c.seg_dropout >= 1) throw Error(where, "seg_dropout must be in [0, 1)");
}

int effective_cls_hidden(const ModelConfig& c) {
  return c.cls_hidden > 0 ? c.cls_hidden : (c.backbone == "tiny" ? 32 : 256);
}
int effective_seg_channels(const ModelConfig& c) {
  return c.seg_channels > 0 ? c.seg_channels : (c.backbone == "tiny" ? 32 : 256);
}

void to_json(nlohmann::json& j, const ModelConfig& c) {
  j = nlohmann::json{{"arch", c.arch},
                     {"backbone", c.backbone},
                     {"num_cd", c.num_cd},
                     {"num_tissue", c.num_tissue},
                     {"dilated", c.dilated},
                     {"fusion_pool", c.fusion_pool},
                     {"cls_hidden", c.cls_hidden},
                     {"seg_channels", c.seg_channels},
                     {"seg_dropout", c.seg_dropout}};
}

void from_json(const nlohmann::json& j, ModelConfig& c) {
  if (!j.is_object()) throw Error("model config", "is not a JSON object");
  auto get = [&](const char* key, auto& field) {
    if (!j.contains(key)) return;
    try {
      j.at(key).get_to(field);
    } catch (const nlohmann::json::exception& e) {
      throw Error("model config", std::string("field '") + key + "' has the wrong type");
    }
  };
  get("arch", c.arch);
  get("backbone", c.backbone);
  get("num_cd", c.num_cd);
  get("num_tissue", c.num_tissue);
  get("dilated", c.dilated);
  get("fusion_pool", c.fusion_pool);
  get("cls_hidden", c.cls_hidden);
  get("seg_channels", c.seg_channels);
  get("seg_dropout", c.seg_dropout);
}

}  // namespace excap::model
