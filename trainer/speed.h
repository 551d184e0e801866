// How a run uses the CPU (or GPU) it is given: memory format, bf16 autocast
// and oneDNN, chosen from the device, the --amp request and the CPU's
// instruction flags, and recorded with the reasons in the run's config.
#pragma once
#include <string>

#include <torch/torch.h>

#include <nlohmann/json_fwd.hpp>

#include "model/model.h"
#include "trainer/train_config.h"

namespace excap::trainer {

// The CPU instructions that decide whether bf16 pays off (read from /proc/cpuinfo).
struct CpuFeatures {
  bool avx2 = false, avx512f = false, avx512_bf16 = false, amx_bf16 = false;
  bool bf16_fast() const { return avx512_bf16 || amx_bf16; }
};
// Parses the "flags" line of /proc/cpuinfo text (the first processor's).
CpuFeatures parse_cpu_flags(const std::string& cpuinfo);
CpuFeatures host_cpu_features();  // this machine's; all false where /proc/cpuinfo is unreadable

// What was chosen and why; "speed" in config.json.
struct SpeedPolicy {
  std::string mode = "auto";  // --cpu-fast as given
  bool channels_last = false;
  bool bf16_autocast = false;  // CPU autocast to bf16 (fp32 master weights)
  bool mkldnn = false;         // oneDNN convolutions (LibTorch's own CPU path)
  std::string channels_last_why, bf16_why, mkldnn_why;
};

// The policy for `device`: `cpu_fast` "auto" turns on what helps, "off" keeps
// LibTorch's defaults; `amp` off keeps fp32, bf16 forces CPU autocast even without bf16
// instructions (slow but correct). fp16 on CPU throws Error (no CPU fp16 autocast).
SpeedPolicy choose_speed(const torch::Device& device, AmpMode amp, const std::string& cpu_fast,
                         const CpuFeatures& cpu);
void to_json(nlohmann::json& j, const SpeedPolicy& p);

// Sets LibTorch's global oneDNN switch as the policy says.
void apply_speed(const SpeedPolicy& p);
// 4-D parameters to channels-last when the policy says so (after the network is on its device).
void apply_memory_format(model::MultiTaskNetImpl& net, const SpeedPolicy& p);

// CPU autocast to bf16 for one forward pass; nothing when `on` is false.
class CpuAutocastScope {
 public:
  explicit CpuAutocastScope(bool on);
  ~CpuAutocastScope();
  CpuAutocastScope(const CpuAutocastScope&) = delete;
  CpuAutocastScope& operator=(const CpuAutocastScope&) = delete;

 private:
  bool on_;
  bool was_enabled_ = false;
  at::ScalarType was_dtype_ = at::kBFloat16;
};

}  // namespace excap::trainer
