#include "trainer/speed.h"

#include <torch/version.h>

#include <ATen/autocast_mode.h>

#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace excap::trainer {

CpuFeatures parse_cpu_flags(const std::string& cpuinfo) {
  std::istringstream in(cpuinfo);
  std::string line;
  std::set<std::string> flags;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::istringstream words(line.substr(colon + 1));
    for (std::string w; words >> w;) flags.insert(w);
    break;  // every core of one machine lists the same flags
  }
  CpuFeatures f;
  f.avx2 = flags.count("avx2") > 0;
  f.avx512f = flags.count("avx512f") > 0;
  f.avx512_bf16 = flags.count("avx512_bf16") > 0;
  f.amx_bf16 = flags.count("amx_bf16") > 0;
  return f;
}

CpuFeatures host_cpu_features() {
  std::ifstream in("/proc/cpuinfo");
  if (!in) return {};
  std::ostringstream text;
  text << in.rdbuf();
  return parse_cpu_flags(text.str());
}

namespace {
std::string cpu_bf16_name(const CpuFeatures& cpu) {
  if (cpu.amx_bf16) return "AMX-BF16";
  if (cpu.avx512_bf16) return "AVX512-BF16";
  return cpu.avx512f ? "AVX-512 without BF16" : cpu.avx2 ? "AVX2 only" : "no AVX2";
}

// bf16 autocast: forced by --amp bf16, automatic where the CPU multiplies bf16 natively.
void choose_cpu_bf16(SpeedPolicy& p, AmpMode amp, bool fast, const CpuFeatures& cpu) {
  const std::string has = "this CPU has " + cpu_bf16_name(cpu);
  if (amp == AmpMode::Bf16) {
    p.bf16_autocast = true;
    p.bf16_why = "forced by --amp bf16 (" + has +
                 (cpu.bf16_fast() ? ")" : "; bf16 is emulated and slower than fp32 here)");
  } else if (amp == AmpMode::Off) {
    p.bf16_why = "off: --amp off (fp32)";
  } else if (!fast) {
    p.bf16_why = "off: --cpu-fast off";
  } else if (cpu.bf16_fast()) {
    p.bf16_autocast = true;
    p.bf16_why = "auto: " + has + " (fp32 master weights, losses in fp32)";
  } else {
    p.bf16_why = "auto off: " + has + ", bf16 would be emulated and slower than fp32";
  }
}
}  // namespace

SpeedPolicy choose_speed(const torch::Device& device, AmpMode amp, const std::string& cpu_fast,
                         const CpuFeatures& cpu) {
  if (cpu_fast != "auto" && cpu_fast != "off" && cpu_fast != "channels-last")
    throw Error("--cpu-fast " + cpu_fast, "must be auto, channels-last or off");
  SpeedPolicy p;
  p.mode = cpu_fast;
  if (device.is_cuda()) {  // CUDA AMP is the trainer's own (--amp); only the layout is ours
    p.channels_last = true;
    p.channels_last_why = "CUDA: cuDNN's NHWC kernels";
    p.bf16_why = "CUDA: --amp decides";
    p.mkldnn_why = "CUDA: not used";
    return p;
  }
  if (amp == AmpMode::Fp16)
    throw Error("--amp fp16", "CPU autocast has no fp16; use --amp bf16 or --amp off on CPU");
  const bool fast = cpu_fast != "off";
  // Measured here (LibTorch 1.13, AVX2): the NHWC training step was not faster than NCHW,
  // so auto keeps NCHW on CPU; --cpu-fast channels-last asks for NHWC.
  p.channels_last = cpu_fast == "channels-last";
  p.channels_last_why = p.channels_last ? "--cpu-fast channels-last"
                        : fast
                            ? "auto: NCHW; the NHWC CPU training step of LibTorch 1.13 was "
                              "not consistently faster in `excap bench train` (docs/performance.md)"
                            : "off: --cpu-fast off";
  choose_cpu_bf16(p, amp, fast, cpu);
  p.mkldnn = at::hasMKLDNN() && (fast || at::globalContext().userEnabledMkldnn());
  p.mkldnn_why = !at::hasMKLDNN() ? "this LibTorch has no oneDNN"
                 : fast           ? "auto: oneDNN convolutions on"
                                  : "off: LibTorch's default";
  return p;
}

void to_json(nlohmann::json& j, const SpeedPolicy& p) {
  j = {{"cpu_fast", p.mode},
       {"channels_last", {{"on", p.channels_last}, {"why", p.channels_last_why}}},
       {"bf16_autocast", {{"on", p.bf16_autocast}, {"why", p.bf16_why}}},
       {"mkldnn", {{"on", p.mkldnn}, {"why", p.mkldnn_why}}}};
}

void apply_speed(const SpeedPolicy& p) {
  if (at::hasMKLDNN() && p.mkldnn) at::globalContext().setUserEnabledMkldnn(true);
}

void apply_memory_format(model::MultiTaskNetImpl& net, const SpeedPolicy& p) {
  if (!p.channels_last) return;
  torch::NoGradGuard no_grad;
  for (auto& t : net.parameters())
    if (t.dim() == 4) t.set_data(t.data().contiguous(at::MemoryFormat::ChannelsLast));
}

CpuAutocastScope::CpuAutocastScope(bool on) : on_(on) {
  if (!on_) return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  was_enabled_ = at::autocast::is_autocast_enabled(at::kCPU);
  was_dtype_ = at::autocast::get_autocast_dtype(at::kCPU);
  at::autocast::set_autocast_dtype(at::kCPU, at::kBFloat16);
  at::autocast::set_autocast_enabled(at::kCPU, true);
#else
  was_enabled_ = at::autocast::is_cpu_enabled();
  was_dtype_ = at::autocast::get_autocast_cpu_dtype();
  at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
  at::autocast::set_cpu_enabled(true);
#endif
  at::autocast::increment_nesting();
}

CpuAutocastScope::~CpuAutocastScope() {
  if (!on_) return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  at::autocast::set_autocast_enabled(at::kCPU, was_enabled_);
  at::autocast::set_autocast_dtype(at::kCPU, was_dtype_);
#else
  at::autocast::set_cpu_enabled(was_enabled_);
  at::autocast::set_autocast_cpu_dtype(was_dtype_);
#endif
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
}

}  // namespace excap::trainer
