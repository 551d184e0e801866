// What network to build: architecture, backbone and head sizes. Plain data
// (no LibTorch), stored as JSON in run configs and in weight files' metadata.
#pragma once
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace excap::model {

struct ModelConfig {
  // "mtcsn", "cls", "seg_fcn", "seg_aspp", "hard_share", "cross_stitch" (the paper's Tables 3-6).
  std::string arch = "mtcsn";
  // "resnet18", "resnet34", "resnet50", "resnet101", "densenet121", "tiny".
  std::string backbone = "resnet50";
  int num_cd = 3;       // clearness degrees (DESIGN.md label schema)
  int num_tissue = 8;   // tissue classes
  bool dilated = true;  // output stride 8 (torchvision replace_stride_with_dilation=[F,T,T])
  std::string fusion_pool = "avg";  // cross fusion Pool: "avg" (GAP) or "max" (GMP), paper Table 6
  int cls_hidden =
      0;  // C1: hidden FC width of the classification branch; 0 = default for the backbone
  int seg_channels = 0;      // C2: width of the segmentation head; 0 = default for the backbone
  double seg_dropout = 0.1;  // before the last 1x1 conv (mmsegmentation's dropout_ratio)
};

// The values above, checked; throws excap::Error("model config", reason).
void validate(const ModelConfig& c);
// C1 and C2 after applying the per-backbone defaults (tiny: 32/32, others: 256/256).
int effective_cls_hidden(const ModelConfig& c);
int effective_seg_channels(const ModelConfig& c);

const std::vector<std::string>& known_archs();
const std::vector<std::string>& known_backbones();
bool arch_has_cls(const std::string& arch);
bool arch_has_seg(const std::string& arch);

// Missing keys keep their defaults; unknown keys are ignored; wrong types throw.
void to_json(nlohmann::json& j, const ModelConfig& c);
void from_json(const nlohmann::json& j, ModelConfig& c);

}  // namespace excap::model
