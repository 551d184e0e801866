#include "bench/ddp_bench.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <future>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/process.h"
#include "model/losses.h"
#include "model/model.h"
#include "store/project.h"
#include "trainer/distributed.h"
#include "trainer/evaluate.h"

namespace excap::trainer {

namespace {

using Clock = std::chrono::steady_clock;

// A port the kernel hands out on 127.0.0.1 for the workers' rendezvous.
int free_local_port() {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  if (s < 0) throw Error("bench ddp", "no socket for a rendezvous port");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  const bool ok = ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) == 0;
  ::close(s);
  if (!ok) throw Error("bench ddp", "could not find a free port on 127.0.0.1");
  return ntohs(a.sin_port);
}

std::vector<std::string> worker_argv(const BenchDdpOptions& o, const fs::path& out) {
  return {o.program.string(),
          "bench",
          "ddp",
          "--worker-out",
          out.string(),
          "--model",
          model::to_string(o.model.arch),
          "--backbone",
          o.model.backbone,
          "--size",
          std::to_string(o.size),
          "--batch",
          std::to_string(o.batch),
          "--iters",
          std::to_string(o.iters),
          "--warmup",
          std::to_string(o.warmup),
          "--threads",
          std::to_string(o.threads),
          "--device",
          o.device};
}

// Runs `world` workers at once; returns rank 0's figures.
nlohmann::json run_world(const BenchDdpOptions& o, int world) {
  const fs::path out =
      fs::temp_directory_path() /
      ("excap-bench-ddp-" + std::to_string(::getpid()) + "-" + std::to_string(world) + ".json");
  const int port = free_local_port();
  std::vector<std::future<ProcessResult>> ranks;
  for (int r = 0; r < world; ++r) {
    ProcessOptions po;
    po.env = {{"RANK", std::to_string(r)},           {"WORLD_SIZE", std::to_string(world)},
              {"LOCAL_RANK", std::to_string(r)},     {"MASTER_ADDR", "127.0.0.1"},
              {"MASTER_PORT", std::to_string(port)}, {"EXCAP_DIST_TIMEOUT_S", "600"}};
    ranks.push_back(std::async(std::launch::async,
                               [argv = worker_argv(o, out), po] { return run_process(argv, po); }));
  }
  for (int r = 0; r < world; ++r) {
    const ProcessResult res = ranks[static_cast<std::size_t>(r)].get();
    if (!res.ok())
      throw Error("bench ddp", "worker rank " + std::to_string(r) + " of " + std::to_string(world) +
                                   " " + describe_exit(res) + ": " + res.out);
  }
  nlohmann::json j = read_json_file(out);
  std::error_code ec;
  fs::remove(out, ec);
  return j;
}

}  // namespace

void run_ddp_worker(const BenchDdpOptions& o, const LaunchInfo& launch, const fs::path& out) {
  configure_threads(o.threads);
  const torch::Device device(rank_device(o.device, launch));
  auto dist = Distributed::join(launch, device, std::chrono::minutes(10));
  const auto [first, count] = dist->share(o.batch);
  (void)first;
  torch::manual_seed(0);
  model::MultiTaskNet net = model::build_model(o.model);
  place_model(*net, device);
  std::vector<torch::Tensor> params = net->parameters();
  torch::optim::SGD opt(params, torch::optim::SGDOptions(0.01).momentum(0.9));
  const auto f = torch::TensorOptions().device(device);
  const auto x = torch::randn({count, 3, o.size, o.size}, f);
  const auto cd = torch::randint(0, o.model.num_cd, {count}, f.dtype(torch::kInt64));
  const auto mask =
      torch::randint(0, o.model.num_tissue, {count, o.size, o.size}, f.dtype(torch::kInt64));
  net->train();
  auto step = [&] {
    auto losses = model::compute_losses(net->forward(x), cd, mask, model::LossConfig{});
    opt.zero_grad();
    losses.at("loss").backward();
    dist->average_gradients(params);
    opt.step();
  };
  for (int i = 0; i < o.warmup; ++i) step();
  dist->barrier("bench start");
  const auto t0 = Clock::now();
  for (int i = 0; i < o.iters; ++i) step();
  if (device.is_cuda()) torch::cuda::synchronize();
  dist->barrier("bench end");
  const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
  if (dist->writer())
    write_json_atomic(out, {{"it_s", o.iters / dt}, {"backend", dist->backend()}});
}

BenchDdpResult bench_ddp(const BenchDdpOptions& o) {
  if (o.processes < 2) throw Error("bench ddp", "--processes must be at least 2");
  if (o.batch % o.processes != 0)
    throw Error("--batch " + std::to_string(o.batch),
                "must divide by --processes " + std::to_string(o.processes));
  BenchDdpResult r;
  r.it_s_one = run_world(o, 1)["it_s"].get<double>();
  const nlohmann::json many = run_world(o, o.processes);
  r.it_s_many = many["it_s"].get<double>();
  r.backend = many["backend"].get<std::string>();
  return r;
}

std::string format_bench_ddp(const BenchDdpOptions& o, const BenchDdpResult& r) {
  char b[512];
  std::ostringstream s;
  std::snprintf(b, sizeof b,
                "model %s/%s, %dx%d, global batch %d, %d timed steps after %d warm-up, device %s, "
                "%d thread(s) per process\n",
                model::to_string(o.model.arch).c_str(), o.model.backbone.c_str(), o.size, o.size,
                o.batch, o.iters, o.warmup, o.device.c_str(), o.threads);
  s << b;
  std::snprintf(b, sizeof b, "1 process:   %.3f it/s (batch %d)\n", r.it_s_one, o.batch);
  s << b;
  std::snprintf(b, sizeof b, "%d processes: %.3f it/s (batch %d each, %s)\n", o.processes,
                r.it_s_many, o.batch / o.processes, r.backend.c_str());
  s << b;
  std::snprintf(b, sizeof b, "scaling: %.2fx against the ideal %dx (%.0f%% efficiency)\n",
                r.speedup(), o.processes, 100.0 * r.speedup() / o.processes);
  s << b;
  return s.str();
}

nlohmann::json bench_ddp_json(const BenchDdpOptions& o, const BenchDdpResult& r) {
  return {{"model", model::to_string(o.model.arch)},
          {"backbone", o.model.backbone},
          {"size", o.size},
          {"batch", o.batch},
          {"threads_per_process", o.threads},
          {"processes", o.processes},
          {"backend", r.backend},
          {"it_s_1", r.it_s_one},
          {"it_s_n", r.it_s_many},
          {"speedup", r.speedup()},
          {"ideal", o.processes}};
}

}  // namespace excap::trainer
