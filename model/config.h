// What network to build: architecture, backbone and head sizes. Plain data
// (no LibTorch), stored as JSON in run configs and in weight files' metadata.
// Closed sets are enums; their JSON and command-line spellings are the
// strings of to_string()/parse_*(), unchanged since format version 1.
#pragma once
#include <cstddef>
#include <iosfwd>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace excap::model {

// The networks of the paper's Tables 3-6.
enum class Arch { Mtcsn, Cls, SegFcn, SegAspp, HardShare, CrossStitch };
// Cross fusion Pool of Eq. 1: global average (GAP) or global max (GMP), paper Table 6.
enum class FusionPool { Avg, Max };
// Task weights lambda of Eq. 2: fixed, or learned (Kendall, Gal, Cipolla 2018).
enum class TaskWeighting { Fixed, Learned };
// How the layers outside the backbone start: LibTorch's module defaults
// (kaiming uniform, a = sqrt(5)), or as mmsegmentation and mmclassification
// initialise them (ConvModule: kaiming normal over fan_out, bias 0; conv_seg
// and the classifier's linear layers: N(0, 0.01), bias 0).
enum class HeadInit { Libtorch, Mmseg };

struct ModelConfig {
  Arch arch = Arch::Mtcsn;
  // "resnet18", "resnet34", "resnet50", "resnet101", "densenet121", "tiny".
  std::string backbone = "resnet50";
  int num_cd = 3;       // clearness degrees (DESIGN.md label schema)
  int num_tissue = 8;   // tissue classes
  bool dilated = true;  // output stride 8 (torchvision replace_stride_with_dilation=[F,T,T])
  FusionPool fusion_pool = FusionPool::Avg;
  int cls_hidden =
      0;  // C1: hidden FC width of the classification branch; 0 = default for the backbone
  int seg_channels = 0;      // C2: width of the segmentation head; 0 = default for the backbone
  double seg_dropout = 0.1;  // before the last 1x1 conv (mmsegmentation's dropout_ratio)
  // LibTorch's defaults unless chosen (`--head-init mmseg`); a config without
  // the key (written before it existed) reads "libtorch", what it was built with.
  HeadInit head_init = HeadInit::Libtorch;
};

// The values above, checked; throws excap::Error("model config", reason).
void validate(const ModelConfig& c);
// C1 and C2 after applying the per-backbone defaults (tiny: 32/32, others: 256/256).
int effective_cls_hidden(const ModelConfig& c);
int effective_seg_channels(const ModelConfig& c);

// The spellings, in enum order: "mtcsn", "cls", "seg_fcn", "seg_aspp", "hard_share",
// "cross_stitch".
const std::vector<std::string>& known_archs();
const std::vector<std::string>& known_backbones();
const std::vector<std::string>& known_fusion_pools();     // "avg", "max"
const std::vector<std::string>& known_task_weightings();  // "fixed", "learned"
const std::vector<std::string>& known_head_inits();       // "libtorch", "mmseg"
bool arch_has_cls(Arch arch);
bool arch_has_seg(Arch arch);

std::string to_string(Arch a);
std::string to_string(FusionPool p);
std::string to_string(TaskWeighting w);
std::string to_string(HeadInit h);
std::ostream& operator<<(std::ostream& os, Arch a);
// Inverses of to_string; a bad name throws Error(what, "unknown '<name>' (allowed: ...)").
Arch parse_arch(const std::string& name, const std::string& what = "arch");
FusionPool parse_fusion_pool(const std::string& name, const std::string& what = "fusion_pool");
TaskWeighting parse_task_weighting(const std::string& name, const std::string& what = "weighting");
HeadInit parse_head_init(const std::string& name, const std::string& what = "head_init");

// The index of `name` in `allowed`, else Error(what, "unknown '<name>' (allowed: a, b)"):
// the one parser behind every parse_* of the model and the trainer.
std::size_t parse_choice(const std::vector<std::string>& allowed, const std::string& name,
                         const std::string& what);

// Missing keys keep their defaults; unknown keys are ignored; wrong types and
// unknown names throw Error("model config", ...).
void to_json(nlohmann::json& j, const ModelConfig& c);
void from_json(const nlohmann::json& j, ModelConfig& c);

}  // namespace excap::model
