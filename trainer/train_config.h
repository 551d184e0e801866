// The full, resolved configuration of a training run (runs/NAME/config.json).
// Plain data, no LibTorch. Defaults are the paper's recipe with
// mmsegmentation's schedule (DESIGN.md "The model").
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "model/config.h"

namespace excap::trainer {

// Mixed precision of the forward pass. auto: bf16 autocast on a CPU with bf16
// instructions (under --cpu-fast auto or channels-last), none on CUDA; off: fp32
// everywhere; fp16 (CUDA only, with dynamic loss scaling) and bf16 force autocast.
enum class AmpMode { Auto, Off, Fp16, Bf16 };
const std::vector<std::string>& known_amp_modes();  // "auto", "off", "fp16", "bf16", enum order
std::string to_string(AmpMode m);
// A bad name throws Error(what, "unknown '<name>' (allowed: auto, off, fp16, bf16)").
AmpMode parse_amp_mode(const std::string& name, const std::string& what = "amp");
// fp16 or bf16: autocast asked for by name (auto and off ask for none).
inline bool amp_forced(AmpMode m) { return m == AmpMode::Fp16 || m == AmpMode::Bf16; }

struct TrainConfig {
  std::string run;    // runs/<run>/
  std::string split;  // packed/<split>-<size>/{train,val}.safetensors
  std::string train_subset = "train", val_subset = "val";
  int size = 240;  // paper: all images resized to 240x240
  model::ModelConfig model;

  int iters = 30000;                                      // paper Table 5: 30k iterations
  int batch = 8;                                          // paper: batch size 8
  double lr = 0.01, momentum = 0.9, weight_decay = 5e-4;  // mmseg SGD defaults
  double poly_power = 0.9, min_lr = 1e-4;                 // mmseg PolyLR(power=0.9, min_lr=1e-4)
  double alpha = 0.1;                                     // paper Eq. 3: consistency weight
  // JSON "learned_task_weights": true for Learned (Kendall et al. 2018 uncertainty weights).
  model::TaskWeighting weighting = model::TaskWeighting::Fixed;
  bool augment = true;
  // Batch-norm statistics over every data-parallel process (SyncBN); see docs/distributed.md.
  bool sync_bn = false;

  int val_interval = 0;         // 0: iters / 10 (at least 1)
  int log_interval = 10;        // iterations between metrics.jsonl loss lines
  int checkpoint_interval = 0;  // 0: same as val_interval
  // Best checkpoint: "auto" = mean of val CD accuracy and val mIoU for
  // multi-task models, accuracy for classifiers, mIoU for segmenters.
  std::string best_metric = "auto";

  std::string device = "auto";  // auto | cpu | cuda | cuda:N
  AmpMode amp = AmpMode::Auto;
  std::string cpu_fast = "auto";  // auto | off: CPU speed policy (trainer/speed.h)
  int threads = 0;                // intra-op threads; 0 = all hardware threads
  std::uint64_t seed = 0;
  std::string init;           // optional weights (safetensors) loaded by name before training
  double explode_loss = 1e4;  // a total loss above this (or NaN/inf) stops the run

  int effective_val_interval() const;
  int effective_checkpoint_interval() const;
};

// Poly decay as mmcv's PolyLrUpdaterHook: (base - min) * (1 - it/max)^power + min.
double poly_lr(double base_lr, double min_lr, double power, int iter, int max_iters);

void to_json(nlohmann::json& j, const TrainConfig& c);
// Missing keys keep defaults; an unknown amp or model name throws Error("train config", ...).
void from_json(const nlohmann::json& j, TrainConfig& c);
void validate(const TrainConfig& c);  // throws Error("train config", ...)

}  // namespace excap::trainer
