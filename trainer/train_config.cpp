#include "trainer/train_config.h"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace excap::trainer {

int TrainConfig::effective_val_interval() const {
  return val_interval > 0 ? val_interval : std::max(1, iters / 10);
}
int TrainConfig::effective_checkpoint_interval() const {
  return checkpoint_interval > 0 ? checkpoint_interval : effective_val_interval();
}

const std::vector<std::string>& known_amp_modes() {
  static const std::vector<std::string> v{"auto", "off", "fp16", "bf16"};
  return v;
}
std::string to_string(AmpMode m) { return known_amp_modes().at(static_cast<std::size_t>(m)); }
AmpMode parse_amp_mode(const std::string& name, const std::string& what) {
  return static_cast<AmpMode>(model::parse_choice(known_amp_modes(), name, what));
}

double poly_lr(double base_lr, double min_lr, double power, int iter, int max_iters) {
  const double progress = std::clamp(double(iter) / double(std::max(1, max_iters)), 0.0, 1.0);
  return (base_lr - min_lr) * std::pow(1.0 - progress, power) + min_lr;
}

void to_json(nlohmann::json& j, const TrainConfig& c) {
  j = {{"run", c.run},
       {"split", c.split},
       {"train_subset", c.train_subset},
       {"val_subset", c.val_subset},
       {"size", c.size},
       {"model", c.model},
       {"iters", c.iters},
       {"batch", c.batch},
       {"lr", c.lr},
       {"momentum", c.momentum},
       {"weight_decay", c.weight_decay},
       {"poly_power", c.poly_power},
       {"min_lr", c.min_lr},
       {"alpha", c.alpha},
       {"learned_task_weights", c.weighting == model::TaskWeighting::Learned},
       {"augment", c.augment},
       {"val_interval", c.effective_val_interval()},
       {"log_interval", c.log_interval},
       {"checkpoint_interval", c.effective_checkpoint_interval()},
       {"best_metric", c.best_metric},
       {"device", c.device},
       {"amp", to_string(c.amp)},
       {"threads", c.threads},
       {"seed", c.seed},
       {"init", c.init},
       {"explode_loss", c.explode_loss}};
  if (c.cpu_fast != "auto") j["cpu_fast"] = c.cpu_fast;  // older configs round-trip unchanged
  if (c.sync_bn) j["sync_bn"] = true;
}

void from_json(const nlohmann::json& j, TrainConfig& c) {
  auto get = [&](const char* key, auto& field) {
    if (j.contains(key)) j.at(key).get_to(field);
  };
  get("run", c.run);
  get("split", c.split);
  get("train_subset", c.train_subset);
  get("val_subset", c.val_subset);
  get("size", c.size);
  get("model", c.model);
  get("iters", c.iters);
  get("batch", c.batch);
  get("lr", c.lr);
  get("momentum", c.momentum);
  get("weight_decay", c.weight_decay);
  get("poly_power", c.poly_power);
  get("min_lr", c.min_lr);
  get("alpha", c.alpha);
  bool learned = c.weighting == model::TaskWeighting::Learned;
  get("learned_task_weights", learned);
  c.weighting = learned ? model::TaskWeighting::Learned : model::TaskWeighting::Fixed;
  get("augment", c.augment);
  get("sync_bn", c.sync_bn);
  get("val_interval", c.val_interval);
  get("log_interval", c.log_interval);
  get("checkpoint_interval", c.checkpoint_interval);
  get("best_metric", c.best_metric);
  get("device", c.device);
  std::string amp = to_string(c.amp);
  get("amp", amp);
  c.amp = parse_amp_mode(amp, "train config: amp");
  get("cpu_fast", c.cpu_fast);
  get("threads", c.threads);
  get("seed", c.seed);
  get("init", c.init);
  get("explode_loss", c.explode_loss);
}

void validate(const TrainConfig& c) {
  auto fail = [](const std::string& why) { throw Error("train config", why); };
  if (c.split.empty()) fail("no split given (--split NAME)");
  if (c.iters < 1) fail("iterations must be >= 1");
  if (c.batch < 1) fail("batch must be >= 1");
  if (c.size < 16) fail("size must be >= 16");
  if (!(c.lr > 0) || c.min_lr < 0 || c.min_lr > c.lr) fail("need 0 <= min_lr <= lr, lr > 0");
  if (c.best_metric != "auto" && c.best_metric != "accuracy" && c.best_metric != "mIoU" &&
      c.best_metric != "f1")
    fail("--best must be auto, accuracy, f1 or mIoU");
  if (c.log_interval < 1) fail("log interval must be >= 1");
  model::validate(c.model);
}

}  // namespace excap::trainer
