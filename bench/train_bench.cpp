#include "bench/train_bench.h"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <sstream>

#include <nlohmann/json.hpp>

#include "bench/peer.h"
#include "common/error.h"
#include "model/flops.h"
#include "model/losses.h"
#include "model/model.h"
#include "model/weights.h"
#include "trainer/evaluate.h"
#include "trainer/speed.h"
#include "trainer/train_config.h"

namespace excap::trainer {

namespace {
using Clock = std::chrono::steady_clock;

void sync(const torch::Device& d) {
  if (d.is_cuda()) torch::cuda::synchronize();
}

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;  // Linux reports KiB
}

}  // namespace

double measure_conv_peak(const std::string& device_name) {
  const torch::Device device = resolve_device(device_name);
  torch::NoGradGuard no_grad;
  auto opts = torch::TensorOptions().device(device);
  const std::int64_t n = 8, c = 256, hw = 30;
  auto x = torch::randn({n, c, hw, hw}, opts);
  auto w = torch::randn({c, c, 3, 3}, opts);
  const double flop = 2.0 * n * hw * hw * c * c * 9;
  double best = 1e30;
  for (int i = 0; i < 6; ++i) {
    sync(device);
    const auto t0 = Clock::now();
    auto y = torch::conv2d(x, w, {}, 1, 1);
    sync(device);
    const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
    if (i > 0) best = std::min(best, dt);  // the first call picks algorithms and warms caches
  }
  return flop / best / 1e9;
}

namespace {

// Times o.iters SGD steps on one fixed random batch after o.warmup untimed ones.
void time_training_steps(const BenchTrainOptions& o, model::MultiTaskNet& net,
                         const torch::Device& device, const SpeedPolicy& speed,
                         BenchTrainResult& r) {
  place_model(*net, device);
  apply_memory_format(*net, speed);
  torch::optim::SGD opt(net->parameters(),
                        torch::optim::SGDOptions(0.01).momentum(0.9).weight_decay(5e-4));
  auto gen_opts = torch::TensorOptions().device(device);
  auto x = torch::randn({o.batch, 3, o.size, o.size}, gen_opts);
  if (speed.channels_last) x = x.contiguous(at::MemoryFormat::ChannelsLast);
  auto cd = torch::randint(0, o.model.num_cd, {o.batch}, gen_opts.dtype(torch::kInt64));
  auto mask = torch::randint(0, o.model.num_tissue, {o.batch, o.size, o.size},
                             gen_opts.dtype(torch::kInt64));
  model::LossConfig loss_cfg;
  net->train();
  auto step = [&] {
    model::ModelOutput out;
    {
      CpuAutocastScope autocast(speed.bf16_autocast);
      out = net->forward(x);
    }
    if (speed.bf16_autocast)  // losses in fp32, as the trainer computes them
      for (torch::Tensor* t :
           {&out.cls_logits, &out.seg_logits, &out.cls_feat_before, &out.cls_feat_after})
        if (t->defined()) *t = t->to(torch::kFloat32);
    auto losses = model::compute_losses(out, cd, mask, loss_cfg);
    opt.zero_grad();
    losses.at("loss").backward();
    opt.step();
  };
  for (int i = 0; i < o.warmup; ++i) step();
  sync(device);
  const auto t0 = Clock::now();
  for (int i = 0; i < o.iters; ++i) step();
  sync(device);
  const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
  r.it_s = o.iters / dt;
  r.images_s = r.it_s * o.batch;
  r.step_ms = 1000.0 * dt / o.iters;
  r.achieved_gflops = r.gflop_per_step * r.it_s;
}

// The same step in PyTorch Python, started from the weights the C++ run began with.
void run_train_peer(const BenchTrainOptions& o, const fs::path& weights, BenchTrainResult& r) {
  const PeerRun peer =
      run_peer({o.python, o.python_script.string(), "--weights", weights.string(), "--size",
                std::to_string(o.size), "--batch", std::to_string(o.batch), "--iters",
                std::to_string(o.iters), "--warmup", std::to_string(o.warmup), "--threads",
                std::to_string(r.threads)},
               "it_s", 600);
  if (!peer.ok) {
    r.python_note = peer.failure;
    return;
  }
  const nlohmann::json& j = peer.result;
  r.has_python = true;
  r.py_it_s = j["it_s"];
  r.py_images_s = j["images_s"];
  r.py_step_ms = j["step_ms"];
  r.py_peak_rss_mb = j["peak_rss_mb"];
  r.py_gflops = r.gflop_per_step * r.py_it_s;
  const std::int64_t py_params = j.value("params", std::int64_t(0));
  r.python_note = "torch " + j.value("torch", std::string("?")) + ", " +
                  std::to_string(j.value("threads", 0)) + " threads, " + std::to_string(py_params) +
                  " parameters (C++: " + std::to_string(r.params) +
                  "), weights loaded strictly from the C++ model";
}

// One line of what the policy chose: "channels-last on, bf16 off (why), oneDNN on".
std::string speed_summary(const nlohmann::json& s) {
  if (!s.is_object()) return "?";
  auto on = [&](const char* k) { return s[k].value("on", false) ? "on" : "off"; };
  return std::string("--cpu-fast ") + s.value("cpu_fast", "?") + ": channels-last " +
         on("channels_last") + ", bf16 autocast " + on("bf16_autocast") + " (" +
         s["bf16_autocast"].value("why", "") + "), oneDNN " + on("mkldnn");
}

}  // namespace

BenchTrainResult bench_train(const BenchTrainOptions& o) {
  BenchTrainResult r;
  r.threads = configure_threads(o.threads);
  const torch::Device device = resolve_device(o.device);
  r.device = device.str();
  const AmpMode amp = parse_amp_mode(o.amp, "--amp");
  if (amp_forced(amp) && device.is_cuda())
    throw Error("bench train",
                "--amp " + o.amp + " on CUDA is not benchmarked yet; use auto or off");
  const SpeedPolicy speed = choose_speed(device, amp, o.cpu_fast, host_cpu_features());
  apply_speed(speed);
  r.speed = speed;
  if (device.is_cuda()) at::globalContext().setBenchmarkCuDNN(true);

  torch::manual_seed(0);
  model::MultiTaskNet net = model::build_model(o.model);
  r.params = model::count_parameters(*net);
  r.gflop_per_step = 3.0 * model::gflops(model::model_cost(*net, o.size, o.size).macs());

  // The Python peer starts from these exact weights (strict load proves the same network).
  const fs::path weights =
      fs::temp_directory_path() / ("excap-bench-" + std::to_string(::getpid()) + ".safetensors");
  if (!o.python.empty()) model::save_weights(weights, *net, o.model);

  time_training_steps(o, net, device, speed, r);
  r.peak_memory_mb = peak_rss_mb();
  if (o.conv_peak) r.conv_peak_gflops = measure_conv_peak(o.device);

  if (!o.python.empty()) {
    if (device.is_cuda())
      r.python_note = "the Python peer runs on CPU only; skipped for a CUDA benchmark";
    else
      run_train_peer(o, weights, r);
    std::error_code ec;
    fs::remove(weights, ec);
  }
  return r;
}

nlohmann::json bench_json(const BenchTrainOptions& o, const BenchTrainResult& r) {
  nlohmann::json j = {{"model", o.model},
                      {"size", o.size},
                      {"batch", o.batch},
                      {"iters", o.iters},
                      {"warmup", o.warmup},
                      {"device", r.device},
                      {"threads", r.threads},
                      {"params", r.params},
                      {"gflop_per_step", r.gflop_per_step},
                      {"cpp",
                       {{"it_s", r.it_s},
                        {"images_s", r.images_s},
                        {"step_ms", r.step_ms},
                        {"gflops", r.achieved_gflops},
                        {"peak_memory_mb", r.peak_memory_mb}}},
                      {"conv_peak_gflops", r.conv_peak_gflops},
                      {"speed", r.speed},
                      {"python_note", r.python_note}};
  if (r.has_python) j["cpp_over_python"] = r.it_s / r.py_it_s;
  if (r.has_python)
    j["python"] = {{"it_s", r.py_it_s},
                   {"images_s", r.py_images_s},
                   {"step_ms", r.py_step_ms},
                   {"gflops", r.py_gflops},
                   {"peak_rss_mb", r.py_peak_rss_mb}};
  return j;
}

std::string format_bench(const BenchTrainOptions& o, const BenchTrainResult& r) {
  char buf[512];
  std::ostringstream s;
  std::snprintf(
      buf, sizeof buf,
      "model %s/%s, %dx%d, batch %d, %d timed steps after %d warm-up, device %s, %d threads\n"
      "%lld parameters, %.2f GFLOP per training step (analytic conv+linear, 3x forward)\n",
      model::to_string(o.model.arch).c_str(), o.model.backbone.c_str(), o.size, o.size, o.batch,
      o.iters, o.warmup, r.device.c_str(), r.threads, static_cast<long long>(r.params),
      r.gflop_per_step);
  s << buf;
  s << "            it/s   images/s   ms/step   GFLOP/s   peak MB\n";
  std::snprintf(buf, sizeof buf, "C++      %7.3f   %8.2f   %7.1f   %7.2f   %7.0f\n", r.it_s,
                r.images_s, r.step_ms, r.achieved_gflops, r.peak_memory_mb);
  s << buf;
  if (r.has_python) {
    std::snprintf(buf, sizeof buf, "Python   %7.3f   %8.2f   %7.1f   %7.2f   %7.0f\n", r.py_it_s,
                  r.py_images_s, r.py_step_ms, r.py_gflops, r.py_peak_rss_mb);
    s << buf;
    std::snprintf(buf, sizeof buf,
                  "C++ / Python speed: %.2fx (Python: eager, default memory format, fp32)\n",
                  r.it_s / r.py_it_s);
    s << buf;
  }
  if (!r.python_note.empty()) s << "Python peer: " << r.python_note << "\n";
  if (r.conv_peak_gflops > 0) {
    std::snprintf(buf, sizeof buf,
                  "measured 3x3 conv peak: %.2f GFLOP/s -> the C++ step reaches %.0f%% of it\n",
                  r.conv_peak_gflops, 100.0 * r.achieved_gflops / r.conv_peak_gflops);
    s << buf;
  }
  s << "C++ speed policy: " << speed_summary(r.speed) << "\n";
  s << "(peak MB: host peak RSS of each process after its timed steps; GPU memory is not "
       "measured)\n";
  return s.str();
}

}  // namespace excap::trainer
