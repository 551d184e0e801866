#include "trainer/train.h"

#include <torch/version.h>

#include <ATen/autocast_mode.h>

#include <chrono>
#include <cmath>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/ids.h"
#include "store/project.h"
#include "model/losses.h"
#include "model/model.h"
#include "trainer/checkpoint.h"
#include "trainer/data.h"
#include "trainer/evaluate.h"

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
  const fs::path run_dir = safe_child(root / "runs", cfg.run, "", "run");
  if (hooks.resume) {
    if (!has_checkpoints(run_dir))
      throw Error("run '" + cfg.run + "'", "has no checkpoint to resume from");
    TrainConfig saved = read_json_file(run_dir / "config.json").get<TrainConfig>();
    saved.device = cfg.device;
    saved.threads = cfg.threads;
    // --iters on resume extends (or shortens) the run; the poly schedule follows the new length.
    if (cfg.iters > 0) saved.iters = cfg.iters;
    cfg = saved;
  } else if (has_checkpoints(run_dir)) {
    throw Error("run '" + cfg.run + "'", "already has checkpoints: use --resume or another --run");
  }

  TrainOutcome outcome;
  outcome.run_dir = run_dir;
  outcome.threads = configure_threads(cfg.threads);
  const torch::Device device = resolve_device(cfg.device);
  outcome.device = device.str();
  if (cfg.amp != "off" && !device.is_cuda())
    throw Error("--amp " + cfg.amp, "mixed precision is only used on CUDA; use --amp off on CPU");
  const bool amp = cfg.amp != "off";
  const bool fp16 = cfg.amp == "fp16";
  if (device.is_cuda()) at::globalContext().setBenchmarkCuDNN(true);  // fixed input size

  SubsetTensors train_data = load_subset(packed_path(root, cfg.split, cfg.size, cfg.train_subset));
  std::optional<SubsetTensors> val_data;
  if (!cfg.val_subset.empty())
    val_data = load_subset(packed_path(root, cfg.split, cfg.size, cfg.val_subset));
  // The packed data's schema decides the head sizes.
  cfg.model.num_cd = static_cast<int>(train_data.info.cd_names.size());
  cfg.model.num_tissue = static_cast<int>(train_data.info.tissue_names.size());
  validate(cfg);

  torch::manual_seed(cfg.seed);
  model::MultiTaskNet net = model::build_model(cfg.model);
  if (!cfg.init.empty() && !hooks.resume) load_model_weights(cfg.init, *net, /*strict=*/false);
  model::LossConfig loss_cfg;
  loss_cfg.alpha = cfg.alpha;
  loss_cfg.weighting = cfg.learned_task_weights ? "uncertainty" : "fixed";
  loss_cfg.ignore_index = train_data.info.ignore_index;
  model::TaskUncertainty uncertainty{nullptr};
  if (cfg.learned_task_weights) uncertainty = model::TaskUncertainty();
  place_model(*net, device);
  if (uncertainty) uncertainty->to(device);
  model::TaskUncertaintyImpl* unc = uncertainty ? uncertainty.get() : nullptr;

  std::vector<torch::Tensor> params = net->parameters();
  if (uncertainty)
    for (auto& p : uncertainty->parameters()) params.push_back(p);
  torch::optim::SGD optimizer(
      params, torch::optim::SGDOptions(cfg.lr).momentum(cfg.momentum).weight_decay(cfg.weight_decay));

  TrainerState state;
  if (hooks.resume) {
    state = load_checkpoint(*checkpoint_folder(run_dir, "latest"), *net, unc,
                            &optimizer, device);
  } else {
    ensure_dir(run_dir);
    std::error_code ec;
    fs::remove(run_dir / "metrics.jsonl", ec);  // a fresh run starts a fresh log
  }
  nlohmann::json config_json = cfg;
  config_json["format"] = "excap-run-config";
  config_json["version"] = 1;
  config_json["resolved"] = {{"device", device.str()},
                             {"threads", outcome.threads},
                             {"torch_version", TORCH_VERSION},
                             {"train_frames", train_data.count()},
                             {"val_frames", val_data ? val_data->count() : 0},
                             {"parameters", model::count_parameters(*net)}};
  write_json_atomic(run_dir / "config.json", config_json);
  append_jsonl(run_dir, {{"event", hooks.resume ? "resume" : "start"},
                         {"iter", state.iter},
                         {"time", now_iso8601()},
                         {"device", device.str()}});

  const int val_every = cfg.effective_val_interval();
  const int ckpt_every = cfg.effective_checkpoint_interval();
  const bool channels_last = device.is_cuda();
  TrainProgress progress;
  progress.iters = cfg.iters;
  progress.best_iter = state.best_iter;
  progress.best_score = state.best_score;
  std::map<std::string, torch::Tensor> loss_sums;
  int logged_steps = 0;
  auto interval_start = Clock::now();
  int interval_start_iter = state.iter;
  const auto run_start = Clock::now();
  const double elapsed_before = state.elapsed_s;
  auto save_latest = [&] {
    state.elapsed_s = elapsed_before + std::chrono::duration<double>(Clock::now() - run_start).count();
    save_checkpoint(run_dir, "latest", *net, unc, optimizer, state);
  };

  net->train();
  while (state.iter < cfg.iters) {
    if (hooks.stop && hooks.stop->load()) {
      save_latest();
      outcome.status = TrainOutcome::Status::Interrupted;
      outcome.message = "interrupted: saved the checkpoint of iteration " + std::to_string(state.iter) +
                        " (continue with --resume)";
      break;
    }
    const int it = state.iter;
    const double lr = poly_lr(cfg.lr, cfg.min_lr, cfg.poly_power, it, cfg.iters);
    for (auto& group : optimizer.param_groups())
      static_cast<torch::optim::SGDOptions&>(group.options()).lr(lr);
    // Dropout draws depend on (seed, iteration) only, so a resumed run matches.
    torch::manual_seed(iteration_seed(cfg.seed, it));
    const auto rows = batch_indices(cfg.seed, it, cfg.batch, train_data.count());
    std::vector<AugmentParams> aug;
    for (int s = 0; s < cfg.batch; ++s) aug.push_back(draw_augment(cfg.seed, it, s));
    Batch batch = make_batch(train_data, rows, device, cfg.augment ? &aug : nullptr, channels_last);

    net->train();
    std::map<std::string, torch::Tensor> losses;
    {
      AutocastScope autocast(amp, fp16 ? at::kHalf : at::kBFloat16);
      model::ModelOutput out = net->forward(batch.images);
      if (amp) {  // losses in fp32, as torch.cuda.amp recommends
        if (out.cls_logits.defined()) out.cls_logits = out.cls_logits.to(torch::kFloat32);
        if (out.seg_logits.defined()) out.seg_logits = out.seg_logits.to(torch::kFloat32);
        if (out.cls_feat_before.defined()) out.cls_feat_before = out.cls_feat_before.to(torch::kFloat32);
        if (out.cls_feat_after.defined()) out.cls_feat_after = out.cls_feat_after.to(torch::kFloat32);
      }
      losses = model::compute_losses(out, batch.cd, batch.masks, loss_cfg, unc);
    }
    torch::Tensor total = losses.at("loss");
    optimizer.zero_grad();
    bool step_ok = true;
    if (fp16) {
      // Dynamic loss scaling (torch.cuda.amp.GradScaler's rule): halve on
      // overflow and skip the step, double after 2000 clean steps.
      (total * state.loss_scale).backward();
      torch::Tensor bad = torch::zeros({}, torch::TensorOptions().device(device));
      for (auto& p : params)
        if (p.grad().defined()) {
          p.grad().mul_(1.0 / state.loss_scale);
          bad += p.grad().isfinite().logical_not().sum();
        }
      if (bad.item<double>() > 0) {
        step_ok = false;
        state.loss_scale /= 2;
        state.good_steps = 0;
      } else if (++state.good_steps >= 2000) {
        state.loss_scale *= 2;
        state.good_steps = 0;
      }
    } else {
      total.backward();
    }
    if (step_ok) optimizer.step();

    for (const auto& [k, v] : losses) {
      auto d = v.detach().to(torch::kFloat64);
      loss_sums[k] = loss_sums.count(k) ? loss_sums[k] + d : d;
    }
    ++logged_steps;
    state.iter = it + 1;
    const bool last = state.iter == cfg.iters;
    const bool val_due = val_data && (state.iter % val_every == 0 || last);
    const bool ckpt_due = state.iter % ckpt_every == 0 || last;
    const bool log_due = state.iter % cfg.log_interval == 0 || last || val_due || ckpt_due ||
                         !device.is_cuda();  // on CPU a sync per step costs nothing
    if (log_due) {
      const double total_now = total.detach().item<double>();
      if (!std::isfinite(total_now) || total_now > cfg.explode_loss) {
        outcome.status = TrainOutcome::Status::Diverged;
        outcome.message = "loss is " + std::to_string(total_now) + " at iteration " +
                          std::to_string(state.iter) + " (NaN, infinite or above " +
                          std::to_string(cfg.explode_loss) + "): stopped; the last good checkpoint " +
                          (has_checkpoints(run_dir) ? "is kept" : "does not exist yet") +
                          " (lower --lr or try --amp off)";
        append_jsonl(run_dir, {{"event", "diverged"}, {"iter", state.iter}, {"message", outcome.message}});
        state.iter = it;  // nothing of this step is saved
        break;
      }
    }
    if (state.iter % cfg.log_interval == 0 || last) {
      const double secs = std::chrono::duration<double>(Clock::now() - interval_start).count();
      const int steps = state.iter - interval_start_iter;
      progress.iter = state.iter;
      progress.lr = lr;
      progress.it_per_s = secs > 0 ? steps / secs : 0;
      progress.images_per_s = progress.it_per_s * cfg.batch;
      progress.eta_s = progress.it_per_s > 0 ? (cfg.iters - state.iter) / progress.it_per_s : 0;
      progress.losses.clear();
      nlohmann::json line = {{"iter", state.iter}, {"lr", lr}, {"it_s", progress.it_per_s},
                             {"images_s", progress.images_per_s}};
      for (const auto& [k, v] : loss_sums) {
        progress.losses[k] = v.item<double>() / logged_steps;
        line[k] = progress.losses[k];
      }
      if (fp16) line["loss_scale"] = state.loss_scale;
      append_jsonl(run_dir, line);
      loss_sums.clear();
      logged_steps = 0;
      interval_start = Clock::now();
      interval_start_iter = state.iter;
      progress.event = "log";
      if (hooks.progress) hooks.progress(progress);
    }
    if (val_due) {
      EvalResult vr;
      vr.data = val_data->info;
      predict(*net, *val_data, device, std::max(cfg.batch, 8), channels_last, vr);
      score(vr);
      net->train();
      progress.val = headline_scores(vr);
      progress.val_iter = state.iter;
      nlohmann::json v;
      for (const auto& [k, x] : progress.val) v[k] = std::isnan(x) ? nlohmann::json(nullptr) : nlohmann::json(x);
      const double sel = selection_score(cfg.best_metric, progress.val);
      append_jsonl(run_dir, {{"iter", state.iter}, {"val", v}, {"score", sel}});
      if (sel > state.best_score) {
        state.best_score = sel;
        state.best_iter = state.iter;
        state.elapsed_s = elapsed_before + std::chrono::duration<double>(Clock::now() - run_start).count();
        save_checkpoint(run_dir, "best", *net, unc, optimizer, state);
      }
      progress.best_score = state.best_score;
      progress.best_iter = state.best_iter;
      progress.event = "val";
      if (hooks.progress) hooks.progress(progress);
      interval_start = Clock::now();  // validation time is not training throughput
      interval_start_iter = state.iter;
    }
    if (ckpt_due) save_latest();
  }
  outcome.iter = state.iter;
  outcome.best_iter = state.best_iter;
  outcome.best_score = state.best_score;
  if (outcome.status == TrainOutcome::Status::Finished)
    outcome.message = "finished " + std::to_string(state.iter) + " iterations";
  append_jsonl(run_dir, {{"event", "end"}, {"iter", state.iter}, {"message", outcome.message}});
  return outcome;
}

}  // namespace excap::trainer
