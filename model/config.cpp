#include "model/config.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <ostream>

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

const std::vector<std::string>& known_fusion_pools() {
  static const std::vector<std::string> v{"avg", "max"};
  return v;
}

const std::vector<std::string>& known_task_weightings() {
  static const std::vector<std::string> v{"fixed", "learned"};
  return v;
}

const std::vector<std::string>& known_head_inits() {
  static const std::vector<std::string> v{"libtorch", "mmseg"};
  return v;
}

bool arch_has_cls(Arch a) { return a != Arch::SegFcn && a != Arch::SegAspp; }
bool arch_has_seg(Arch a) { return a != Arch::Cls; }

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

std::size_t parse_choice(const std::vector<std::string>& allowed, const std::string& name,
                         const std::string& what) {
  const auto it = std::find(allowed.begin(), allowed.end(), name);
  if (it == allowed.end())
    throw Error(what, "unknown '" + name + "' (allowed: " + join(allowed) + ")");
  return static_cast<std::size_t>(it - allowed.begin());
}

std::string to_string(Arch a) { return known_archs().at(static_cast<std::size_t>(a)); }
std::string to_string(FusionPool p) { return known_fusion_pools().at(static_cast<std::size_t>(p)); }
std::string to_string(TaskWeighting w) {
  return known_task_weightings().at(static_cast<std::size_t>(w));
}
std::string to_string(HeadInit h) { return known_head_inits().at(static_cast<std::size_t>(h)); }
std::ostream& operator<<(std::ostream& os, Arch a) { return os << to_string(a); }

Arch parse_arch(const std::string& name, const std::string& what) {
  return static_cast<Arch>(parse_choice(known_archs(), name, what));
}
FusionPool parse_fusion_pool(const std::string& name, const std::string& what) {
  return static_cast<FusionPool>(parse_choice(known_fusion_pools(), name, what));
}
TaskWeighting parse_task_weighting(const std::string& name, const std::string& what) {
  return static_cast<TaskWeighting>(parse_choice(known_task_weightings(), name, what));
}
HeadInit parse_head_init(const std::string& name, const std::string& what) {
  return static_cast<HeadInit>(parse_choice(known_head_inits(), name, what));
}

void validate(const ModelConfig& c) {
  const std::string where = "model config";
  if (!contains(known_backbones(), c.backbone))
    throw Error(where,
                "unknown backbone '" + c.backbone + "' (known: " + join(known_backbones()) + ")");
  if (c.num_cd < 1) throw Error(where, "num_cd must be at least 1");
  if (c.num_tissue < 1) throw Error(where, "num_tissue must be at least 1");
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
  j = nlohmann::json{{"arch", to_string(c.arch)},    {"backbone", c.backbone},
                     {"num_cd", c.num_cd},           {"num_tissue", c.num_tissue},
                     {"dilated", c.dilated},         {"fusion_pool", to_string(c.fusion_pool)},
                     {"cls_hidden", c.cls_hidden},   {"seg_channels", c.seg_channels},
                     {"seg_dropout", c.seg_dropout}, {"head_init", to_string(c.head_init)}};
}

void from_json(const nlohmann::json& j, ModelConfig& c) {
  const std::string where = "model config";
  if (!j.is_object()) throw Error(where, "is not a JSON object");
  auto get = [&](const char* key, auto& field) {
    if (!j.contains(key)) return;
    try {
      j.at(key).get_to(field);
    } catch (const nlohmann::json::exception& e) {
      throw Error(where, std::string("field '") + key + "' has the wrong type");
    }
  };
  std::string arch = to_string(c.arch), pool = to_string(c.fusion_pool);
  // A config written before head_init existed was built with LibTorch's defaults.
  std::string head_init = to_string(HeadInit::Libtorch);
  get("arch", arch);
  get("backbone", c.backbone);
  get("num_cd", c.num_cd);
  get("num_tissue", c.num_tissue);
  get("dilated", c.dilated);
  get("fusion_pool", pool);
  get("cls_hidden", c.cls_hidden);
  get("seg_channels", c.seg_channels);
  get("seg_dropout", c.seg_dropout);
  get("head_init", head_init);
  c.arch = parse_arch(arch, where + ": arch");
  c.fusion_pool = parse_fusion_pool(pool, where + ": fusion_pool");
  c.head_init = parse_head_init(head_init, where + ": head_init");
}

}  // namespace excap::model
