#include "trainer/train.h"

#include <torch/version.h>

#include <ATen/autocast_mode.h>

#include <chrono>
#include <cmath>
#include <memory>
#include <optional>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/ids.h"
#include "model/losses.h"
#include "model/model.h"
#include "store/project.h"
#include "trainer/checkpoint.h"
#include "trainer/data.h"
#include "trainer/distributed.h"
#include "trainer/evaluate.h"
#include "trainer/speed.h"

namespace excap::trainer {

namespace {
using Clock = std::chrono::steady_clock;

// CUDA autocast for the forward pass; the C++ API moved in LibTorch 2.4.
class AutocastScope {
 public:
  AutocastScope(bool on, at::ScalarType dtype) : on_(on) {
    if (!on_) return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_dtype(at::kCUDA, dtype);
    at::autocast::set_autocast_enabled(at::kCUDA, true);
#else
    at::autocast::set_autocast_gpu_dtype(dtype);
    at::autocast::set_enabled(true);
#endif
    at::autocast::increment_nesting();
  }
  ~AutocastScope() {
    if (!on_) return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_enabled(at::kCUDA, false);
#else
    at::autocast::set_enabled(false);
#endif
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  }

 private:
  bool on_;
};

std::uint64_t iteration_seed(std::uint64_t seed, int iter) {
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + static_cast<std::uint64_t>(iter) + 1;
  x = (x ^ (x >> 31)) * 0xBF58476D1CE4E5B9ull;
  return (x ^ (x >> 29)) & 0x7FFFFFFFFFFFull;
}

void append_jsonl(const fs::path& run_dir, const nlohmann::json& j) {
  append_line(run_dir / "metrics.jsonl", j.dump());
}

bool has_checkpoints(const fs::path& run_dir) {
  return fs::exists(checkpoints_dir(run_dir) / "latest.json");
}

// The config a run trains with: `cfg`, or on resume the saved one with the
// machine's device and threads (and a new length) taken from `cfg`.
TrainConfig resolve_config(const fs::path& run_dir, const TrainConfig& cfg, bool resume) {
  if (!resume) {
    if (has_checkpoints(run_dir))
      throw Error("run '" + cfg.run + "'",
                  "already has checkpoints: use --resume or another --run");
    return cfg;
  }
  if (!has_checkpoints(run_dir))
    throw Error("run '" + cfg.run + "'", "has no checkpoint to resume from");
  TrainConfig saved = read_json_file(run_dir / "config.json").get<TrainConfig>();
  saved.device = cfg.device;
  saved.threads = cfg.threads;
  // --iters on resume extends (or shortens) the run; the poly schedule follows the new length.
  if (cfg.iters > 0) saved.iters = cfg.iters;
  return saved;
}

// What the loop works on: data, network, optimiser and the state a checkpoint keeps.
struct Run {
  TrainConfig cfg;
  fs::path dir;
  torch::Device device{torch::kCPU};
  bool channels_last = false;
  SpeedPolicy speed;
  SubsetTensors train_data;
  std::optional<SubsetTensors> val_data;
  model::MultiTaskNet net;
  model::TaskUncertainty uncertainty{nullptr};
  model::LossConfig loss_cfg;
  std::vector<torch::Tensor> params;
  std::unique_ptr<torch::optim::SGD> optimizer;
  TrainerState state;
  std::unique_ptr<Distributed> dist = std::make_unique<Distributed>();  // a world of one
  Clock::time_point start;    // of this process's share of the run
  double elapsed_before = 0;  // training seconds of earlier processes (resume)

  model::TaskUncertaintyImpl* unc() { return uncertainty ? uncertainty.get() : nullptr; }
  bool amp() const { return amp_forced(cfg.amp); }
  bool fp16() const { return cfg.amp == AmpMode::Fp16; }
};

// Loss sums since the last log line and the clock of the current throughput interval.
struct LogWindow {
  std::map<std::string, torch::Tensor> sums;
  int steps = 0;
  Clock::time_point start;
  int start_iter = 0;

  void add(const std::map<std::string, torch::Tensor>& losses) {
    for (const auto& [k, v] : losses) {
      auto d = v.detach().to(torch::kFloat64);
      sums[k] = sums.count(k) ? sums[k] + d : d;
    }
    ++steps;
  }
  void restart(int iter) {
    start = Clock::now();
    start_iter = iter;
  }
};

// The network, its optional learned task weights and SGD over both, on the run's device.
void build_network(Run& r, bool resume) {
  torch::manual_seed(r.cfg.seed);
  r.net = model::build_model(r.cfg.model);
  if (!r.cfg.init.empty() && !resume) load_model_weights(r.cfg.init, *r.net, /*strict=*/false);
  r.loss_cfg.alpha = r.cfg.alpha;
  r.loss_cfg.weighting = r.cfg.weighting;
  r.loss_cfg.ignore_index = r.train_data.info.ignore_index;
  if (r.cfg.weighting == model::TaskWeighting::Learned) r.uncertainty = model::TaskUncertainty();
  place_model(*r.net, r.device);
  apply_memory_format(*r.net, r.speed);
  if (r.uncertainty) r.uncertainty->to(r.device);
  r.params = r.net->parameters();
  if (r.uncertainty)
    for (auto& p : r.uncertainty->parameters()) r.params.push_back(p);
  r.optimizer = std::make_unique<torch::optim::SGD>(
      r.params,
      torch::optim::SGDOptions(r.cfg.lr).momentum(r.cfg.momentum).weight_decay(r.cfg.weight_decay));
}

// Threads, device, data and network; the packed data's schema decides the head sizes.
void prepare(Run& r, const fs::path& root, bool resume, TrainOutcome& outcome) {
  outcome.threads = configure_threads(r.cfg.threads);
  r.device = resolve_device(r.cfg.device);
  outcome.device = r.device.str();
  r.speed = choose_speed(r.device, r.cfg.amp, r.cfg.cpu_fast, host_cpu_features());
  apply_speed(r.speed);
  if (r.device.is_cuda()) at::globalContext().setBenchmarkCuDNN(true);  // fixed input size
  r.channels_last = r.speed.channels_last;
  const TrainConfig& c = r.cfg;
  r.train_data = load_subset(packed_path(root, c.split, c.size, c.train_subset));
  // A batch beyond the subset would repeat frames within one step and take
  // memory the data does not need (4096 images of 240x240 is 2.8 GB).
  if (c.batch > r.train_data.count())
    throw Error("--batch " + std::to_string(c.batch),
                "larger than the " + std::to_string(r.train_data.count()) + " frames of subset '" +
                    c.train_subset + "' of split '" + c.split + "'; use at most " +
                    std::to_string(r.train_data.count()));
  if (!c.val_subset.empty())
    r.val_data = load_subset(packed_path(root, c.split, c.size, c.val_subset));
  r.cfg.model.num_cd = static_cast<int>(r.train_data.info.cd_names.size());
  r.cfg.model.num_tissue = static_cast<int>(r.train_data.info.tissue_names.size());
  validate(r.cfg);
  build_network(r, resume);
}

// Loads the latest checkpoint or starts a fresh log; writes config.json and the start event.
void resume_or_start(Run& r, bool resume, const TrainOutcome& outcome) {
  if (resume) {
    r.state = load_checkpoint(*checkpoint_folder(r.dir, "latest"), *r.net, r.unc(),
                              r.optimizer.get(), r.device);
  }
  r.elapsed_before = r.state.elapsed_s;
  if (!r.dist->writer()) return;  // rank 0 alone writes the run's files
  if (!resume) {
    ensure_dir(r.dir);
    std::error_code ec;
    fs::remove(r.dir / "metrics.jsonl", ec);  // a fresh run starts a fresh log
  }
  remove_stale_temp_files(r.dir);  // config.json temps of a process killed mid-write
  nlohmann::json config_json = r.cfg;
  config_json["format"] = "excap-run-config";
  config_json["version"] = 1;
  config_json["resolved"] = {{"device", r.device.str()},
                             {"threads", outcome.threads},
                             {"torch_version", TORCH_VERSION},
                             {"train_frames", r.train_data.count()},
                             {"val_frames", r.val_data ? r.val_data->count() : 0},
                             {"parameters", model::count_parameters(*r.net)},
                             {"world_size", r.dist->world_size()},
                             {"backend", r.dist->backend()}};
  config_json["speed"] = r.speed;
  write_json_atomic(r.dir / "config.json", config_json);
  append_jsonl(r.dir, {{"event", resume ? "resume" : "start"},
                       {"iter", r.state.iter},
                       {"time", now_iso8601()},
                       {"device", r.device.str()}});
}

// Poly-decayed learning rate of iteration `it`, set on every parameter group.
double set_learning_rate(Run& r, int it) {
  const double lr = poly_lr(r.cfg.lr, r.cfg.min_lr, r.cfg.poly_power, it, r.cfg.iters);
  for (auto& group : r.optimizer->param_groups())
    static_cast<torch::optim::SGDOptions&>(group.options()).lr(lr);
  return lr;
}

// Batch `it`: rows, augmentation and dropout draws depend on (seed, it) only, so a
// resumed run matches an uninterrupted one.
// With several processes each takes its rows of the same global batch (trainer/distributed.h).
Batch next_batch(const Run& r, int it) {
  torch::manual_seed(iteration_seed(r.dist->rank_seed(r.cfg.seed), it));
  const auto all_rows = batch_indices(r.cfg.seed, it, r.cfg.batch, r.train_data.count());
  const auto [first, count] = r.dist->share(r.cfg.batch);
  const std::vector<std::int64_t> rows(all_rows.begin() + first, all_rows.begin() + first + count);
  std::vector<AugmentParams> aug;
  for (int s = first; s < first + count; ++s) aug.push_back(draw_augment(r.cfg.seed, it, s));
  return make_batch(r.train_data, rows, r.device, r.cfg.augment ? &aug : nullptr, r.channels_last);
}

// Forward pass (under autocast with AMP) and the named losses.
std::map<std::string, torch::Tensor> forward_losses(Run& r, const Batch& batch) {
  AutocastScope autocast(r.amp() && r.device.is_cuda(), r.fp16() ? at::kHalf : at::kBFloat16);
  CpuAutocastScope cpu_autocast(r.speed.bf16_autocast);
  model::ModelOutput out = r.net->forward(batch.images);
  if (r.amp() || r.speed.bf16_autocast) {  // losses in fp32, as torch.cuda.amp recommends
    for (torch::Tensor* t :
         {&out.cls_logits, &out.seg_logits, &out.cls_feat_before, &out.cls_feat_after})
      if (t->defined()) *t = t->to(torch::kFloat32);
  }
  return model::compute_losses(out, batch.cd, batch.masks, r.loss_cfg, r.unc());
}

// fp16 backward with dynamic loss scaling (torch.cuda.amp.GradScaler's rule): halve on
// overflow and skip the step, double after 2000 clean steps. Returns whether to step.
bool backward_scaled(Run& r, const torch::Tensor& total) {
  TrainerState& st = r.state;
  (total * st.loss_scale).backward();
  r.dist->average_gradients(r.params);  // before the overflow check, so every rank agrees
  torch::Tensor bad = torch::zeros({}, torch::TensorOptions().device(r.device));
  for (auto& p : r.params)
    if (p.grad().defined()) {
      p.grad().mul_(1.0 / st.loss_scale);
      bad += p.grad().isfinite().logical_not().sum();
    }
  if (bad.item<double>() > 0) {
    st.loss_scale /= 2;
    st.good_steps = 0;
    return false;
  }
  if (++st.good_steps >= 2000) {
    st.loss_scale *= 2;
    st.good_steps = 0;
  }
  return true;
}

// One optimisation step: forward, losses, backward (AMP-scaled for fp16), SGD.
std::map<std::string, torch::Tensor> step(Run& r, const Batch& batch) {
  r.net->train();
  std::map<std::string, torch::Tensor> losses = forward_losses(r, batch);
  const torch::Tensor total = losses.at("loss");
  r.optimizer->zero_grad();
  bool step_ok = true;
  if (r.fp16())
    step_ok = backward_scaled(r, total);
  else {
    total.backward();
    r.dist->average_gradients(r.params);
  }
  if (step_ok) r.optimizer->step();
  return losses;
}

// What is due after a completed iteration.
struct Due {
  bool last, val, checkpoint, loss_check, log;
};
Due due_after_step(const Run& r) {
  Due d;
  const int iter = r.state.iter;
  d.last = iter == r.cfg.iters;
  d.val = r.val_data && (iter % r.cfg.effective_val_interval() == 0 || d.last);
  d.checkpoint = iter % r.cfg.effective_checkpoint_interval() == 0 || d.last;
  d.log = iter % r.cfg.log_interval == 0 || d.last;
  // On CPU a sync per step costs nothing; on CUDA the loss is read only when something is due.
  d.loss_check = d.log || d.val || d.checkpoint || !r.device.is_cuda();
  return d;
}

// True (and the run marked Diverged) when the total loss is NaN, infinite or exploded.
bool diverged(const Run& r, const torch::Tensor& total, TrainOutcome& outcome) {
  const double total_now = total.detach().item<double>();
  if (std::isfinite(total_now) && total_now <= r.cfg.explode_loss) return false;
  outcome.status = TrainOutcome::Status::Diverged;  // every rank: the loss is their mean
  outcome.message = "loss is " + std::to_string(total_now) + " at iteration " +
                    std::to_string(r.state.iter) + " (NaN, infinite or above " +
                    std::to_string(r.cfg.explode_loss) + "): stopped; the last good checkpoint " +
                    (has_checkpoints(r.dir) ? "is kept" : "does not exist yet") +
                    " (lower --lr or try --amp off)";
  if (r.dist->writer())
    append_jsonl(r.dir,
                 {{"event", "diverged"}, {"iter", r.state.iter}, {"message", outcome.message}});
  return true;
}

// A metrics.jsonl loss line (means over the window) and a "log" progress event.
void log_step(const Run& r, LogWindow& w, double lr, TrainProgress& p, const TrainHooks& hooks) {
  const double secs = std::chrono::duration<double>(Clock::now() - w.start).count();
  const int steps = r.state.iter - w.start_iter;
  p.iter = r.state.iter;
  p.lr = lr;
  p.it_per_s = secs > 0 ? steps / secs : 0;
  p.images_per_s = p.it_per_s * r.cfg.batch;
  p.eta_s = p.it_per_s > 0 ? (r.cfg.iters - r.state.iter) / p.it_per_s : 0;
  p.losses.clear();
  nlohmann::json line = {
      {"iter", r.state.iter}, {"lr", lr}, {"it_s", p.it_per_s}, {"images_s", p.images_per_s}};
  for (const auto& [k, v] : w.sums) {
    p.losses[k] = v.item<double>() / w.steps;
    line[k] = p.losses[k];
  }
  if (r.fp16()) line["loss_scale"] = r.state.loss_scale;
  append_jsonl(r.dir, line);
  w.sums.clear();
  w.steps = 0;
  w.restart(r.state.iter);
  p.event = "log";
  if (hooks.progress) hooks.progress(p);
}

// Saves the current state under `tag` ("latest" or "best") with the training time so far.
void checkpoint(Run& r, const std::string& tag) {
  if (!r.dist->writer()) return;
  r.state.elapsed_s =
      r.elapsed_before + std::chrono::duration<double>(Clock::now() - r.start).count();
  save_checkpoint(r.dir, tag, *r.net, r.unc(), *r.optimizer, r.state);
}

// Scores the validation subset (predict() sets eval() and NoGradGuard), logs the
// scores, keeps the best checkpoint and emits a "val" progress event.
void validate_model(Run& r, LogWindow& w, TrainProgress& p, const TrainHooks& hooks) {
  EvalResult vr;
  vr.data = r.val_data->info;
  predict(*r.net, *r.val_data, r.device, std::max(r.cfg.batch, 8), r.channels_last, vr);
  score(vr);
  r.net->train();
  p.val = headline_scores(vr);
  p.val_iter = r.state.iter;
  nlohmann::json v;
  for (const auto& [k, x] : p.val)
    v[k] = std::isnan(x) ? nlohmann::json(nullptr) : nlohmann::json(x);
  const double sel = selection_score(r.cfg.best_metric, p.val);
  append_jsonl(r.dir, {{"iter", r.state.iter}, {"val", v}, {"score", sel}});
  if (sel > r.state.best_score) {
    r.state.best_score = sel;
    r.state.best_iter = r.state.iter;
    checkpoint(r, "best");
  }
  p.best_score = r.state.best_score;
  p.best_iter = r.state.best_iter;
  p.event = "val";
  if (hooks.progress) hooks.progress(p);
  w.restart(r.state.iter);  // validation time is not training throughput
}

// Saves the latest checkpoint and marks the run Interrupted (the stop flag was set).
void interrupt(Run& r, TrainOutcome& outcome) {
  checkpoint(r, "latest");
  outcome.status = TrainOutcome::Status::Interrupted;
  outcome.message = "interrupted: saved the checkpoint of iteration " +
                    std::to_string(r.state.iter) + " (continue with --resume)";
}

// Joins the data-parallel world of the launch (a no-op for one process); SyncBN when asked.
void join_world(Run& r, const TrainHooks& hooks) {
  r.dist = Distributed::join(hooks.launch, r.device, hooks.collective_timeout);
  r.dist->share(r.cfg.batch);  // refuses a global batch that does not divide
  if (r.cfg.sync_bn) model::set_sync_batch_norm(*r.net, r.dist->sum_function());
}

// Parameters and buffers (batch-norm statistics) of the network and the task weights.
std::vector<torch::Tensor> model_state(Run& r) {
  std::vector<torch::Tensor> t = r.net->parameters();
  for (auto& b : r.net->buffers()) t.push_back(b);
  if (r.uncertainty)
    for (auto& p : r.uncertainty->parameters()) t.push_back(p);
  return t;
}

// Fills the outcome and writes the end event.
TrainOutcome finish(const Run& r, TrainOutcome outcome) {
  outcome.iter = r.state.iter;
  outcome.best_iter = r.state.best_iter;
  outcome.best_score = r.state.best_score;
  if (outcome.status == TrainOutcome::Status::Finished)
    outcome.message = "finished " + std::to_string(r.state.iter) + " iterations";
  if (r.dist->writer())
    append_jsonl(r.dir, {{"event", "end"}, {"iter", r.state.iter}, {"message", outcome.message}});
  return outcome;
}

}  // namespace

double selection_score(const std::string& metric, const std::map<std::string, double>& val) {
  auto get = [&](const char* k) {
    auto it = val.find(k);
    return it == val.end() || std::isnan(it->second) ? 0.0 : it->second;
  };
  const bool cls = val.count("accuracy"), seg = val.count("mIoU");
  if (metric == "accuracy") return get("accuracy");
  if (metric == "f1") return get("f1");
  if (metric == "mIoU") return get("mIoU");
  // auto: both tasks count equally for multi-task models (paper Table 5 reports both).
  if (cls && seg) return 0.5 * (get("accuracy") + get("mIoU"));
  return cls ? get("accuracy") : get("mIoU");
}

TrainOutcome train(const fs::path& root, TrainConfig cfg, const TrainHooks& hooks) {
  if (cfg.run.empty()) throw Error("train", "no run name (--run NAME)");
  Run r;
  r.dir = safe_child(root / "runs", cfg.run, "", "run");
  r.cfg = resolve_config(r.dir, cfg, hooks.resume);
  TrainOutcome outcome;
  outcome.run_dir = r.dir;
  r.cfg.device = rank_device(r.cfg.device, hooks.launch);
  prepare(r, root, hooks.resume, outcome);
  join_world(r, hooks);
  resume_or_start(r, hooks.resume, outcome);
  r.dist->broadcast_from_writer(model_state(r));  // every rank starts from rank 0's weights

  TrainProgress progress;
  progress.iters = r.cfg.iters;
  progress.best_iter = r.state.best_iter;
  progress.best_score = r.state.best_score;
  LogWindow window;
  window.restart(r.state.iter);
  r.start = Clock::now();

  r.net->train();
  while (r.state.iter < r.cfg.iters) {
    if (r.dist->any(hooks.stop && hooks.stop->load())) {  // every rank stops at the same step
      interrupt(r, outcome);
      break;
    }
    const int it = r.state.iter;
    const double lr = set_learning_rate(r, it);
    const std::map<std::string, torch::Tensor> losses = r.dist->average(step(r, next_batch(r, it)));
    window.add(losses);
    r.state.iter = it + 1;
    const Due due = due_after_step(r);
    if (due.loss_check && diverged(r, losses.at("loss"), outcome)) {
      r.state.iter = it;  // nothing of this step is saved
      break;
    }
    if (r.dist->writer() && due.log) log_step(r, window, lr, progress, hooks);
    if (r.dist->writer() && due.val) validate_model(r, window, progress, hooks);
    if (due.checkpoint) checkpoint(r, "latest");
    if (due.val || due.checkpoint) r.dist->barrier("rank 0 validating and saving");
  }
  return finish(r, outcome);
}

}  // namespace excap::trainer
