// Data-parallel training: the launch environment, SyncBN, and `excap-model train`
// run as 2 Gloo processes on this machine (rank 0 and rank 1 started by the test).
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <future>
#include <map>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/launch.h"
#include "model/sync_bn.h"
#include "model/tensor_io.h"
#include "store/project.h"
#include "support/project_builder.h"
#include "test_support.h"
#include "trainer/distributed.h"

using namespace excap;

namespace {

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars](const std::string& k) -> std::optional<std::string> {
    auto it = vars.find(k);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// A port the kernel just handed out on 127.0.0.1 (free unless someone takes it meanwhile).
int free_port() {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  REQUIRE(::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  ::close(s);
  return ntohs(a.sin_port);
}

using Env = std::vector<std::pair<std::string, std::string>>;

Env rank_env(int rank, int world, int port) {
  return {{"RANK", std::to_string(rank)},        {"WORLD_SIZE", std::to_string(world)},
          {"LOCAL_RANK", std::to_string(rank)},  {"MASTER_ADDR", "127.0.0.1"},
          {"MASTER_PORT", std::to_string(port)}, {"EXCAP_DIST_TIMEOUT_S", "60"}};
}

struct Result {
  int status = 0;
  std::string out;
};

// Runs `argv` as ranks 0 and 1 of one world at the same time.
std::vector<Result> run_two(const std::vector<std::string>& argv) {
  const int port = free_port();
  auto rank = [&](int r) {
    Result res;
    res.status = test::run_command(argv, &res.out, rank_env(r, 2, port));
    return res;
  };
  auto r1 = std::async(std::launch::async, rank, 1);
  Result r0 = rank(0);
  return {r0, r1.get()};
}

// A synthetic 32x32 project with split "syn", packed; returns its folder.
std::string packed_project(const test::ScratchDir& dir) {
  test::SyntheticSetOptions o;
  o.size = 32;
  o.train = 16, o.val = 4, o.test = 2;
  test::make_synthetic_project(dir.path(), "syn", o);
  std::string out;
  const std::string d = dir.path().string();
  REQUIRE_MESSAGE(test::run_command({test::built_binary("excap-model"), "pack", d, "--split", "syn",
                                     "--size", "32"},
                                    &out) == 0,
                  out);
  return d;
}

std::vector<std::string> train_argv(const std::string& d, const std::string& run,
                                    std::vector<std::string> more) {
  std::vector<std::string> a = {test::built_binary("excap-model"),
                                "train",
                                d,
                                "--split",
                                "syn",
                                "--size",
                                "32",
                                "--model",
                                "cls",
                                "--backbone",
                                "tiny",
                                "--device",
                                "cpu",
                                "--threads",
                                "1",
                                "--batch",
                                "8",
                                "--sync-bn",
                                "--amp",
                                "off",  // fp32: the equality to 1e-5 is an fp32 claim
                                "--val-interval",
                                "100",
                                "--run",
                                run};
  a.insert(a.end(), more.begin(), more.end());
  return a;
}

std::map<std::string, torch::Tensor> latest_weights(const fs::path& run_dir) {
  const auto latest = read_json_file(run_dir / "checkpoints/latest.json");
  return model::load_tensors(run_dir / "checkpoints" / latest["folder"].get<std::string>() /
                             "weights.safetensors");
}

// Largest absolute difference over every tensor of two checkpoints with the same names.
double max_difference(const std::map<std::string, torch::Tensor>& a,
                      const std::map<std::string, torch::Tensor>& b) {
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (const auto& [name, t] : a) {
    INFO(name);
    REQUIRE(b.count(name));
    worst = std::max(
        worst, (t.to(torch::kFloat64) - b.at(name).to(torch::kFloat64)).abs().max().item<double>());
  }
  return worst;
}

std::vector<nlohmann::json> jsonl(const fs::path& p) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(p);
  std::string line;
  while (std::getline(in, line)) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

}  // namespace

TEST_CASE("distributed: the launch environment of torchrun and srun") {
  auto l = launch_from_environment(env_of({}));
  CHECK(!l.has_value());
  l = launch_from_environment(env_of({{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"LOCAL_RANK", "1"}}));
  REQUIRE(l.has_value());
  CHECK((l->rank == 1 && l->world_size == 2 && l->local_rank == 1 && !l->agent_store));
  l = launch_from_environment(env_of({{"RANK", "0"},
                                      {"WORLD_SIZE", "2"},
                                      {"TORCHELASTIC_USE_AGENT_STORE", "True"},
                                      {"TORCHELASTIC_RESTART_COUNT", "3"}}));
  CHECK((l->agent_store && l->attempt == "3"));

  LaunchInfo info = trainer::launch_of_process(env_of(
      {{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h0"}, {"MASTER_PORT", "29500"}}));
  CHECK((info.master_addr == "h0" && info.master_port == 29500));
  // srun alone: the first node of the job and a port from the job id.
  info = trainer::launch_of_process(env_of({{"SLURM_PROCID", "3"},
                                            {"SLURM_NTASKS", "4"},
                                            {"SLURM_LOCALID", "1"},
                                            {"SLURM_JOB_NODELIST", "gpu[07-09,12],cpu1"},
                                            {"SLURM_JOB_ID", "123456"}}));
  CHECK((info.rank == 3 && info.world_size == 4 && info.local_rank == 1));
  CHECK((info.master_addr == "gpu07" && info.master_port == 23456));
  CHECK(first_slurm_host("n1,n2") == "n1");
  CHECK(first_slurm_host("node5") == "node5");
  CHECK(first_slurm_host("a[3]") == "a3");
  // A single process needs no rendezvous; a world of two without one is refused.
  CHECK(trainer::launch_of_process(env_of({{"RANK", "0"}, {"WORLD_SIZE", "1"}})).master_port == 0);
  CHECK(error_of([] {
          trainer::launch_of_process(env_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}}));
        }).find("MASTER_ADDR") != std::string::npos);
  CHECK(error_of([] {
          trainer::collective_timeout(env_of({{"EXCAP_DIST_TIMEOUT_S", "soon"}}));
        }).find("EXCAP_DIST_TIMEOUT_S") != std::string::npos);
  CHECK(trainer::collective_timeout(env_of({{"EXCAP_DIST_TIMEOUT_S", "7"}})).count() == 7000);
}

TEST_CASE("distributed: SyncBN keeps torchvision's names and equals BatchNorm2d in one process") {
  torch::manual_seed(3);
  model::SyncableBatchNorm2d sync(5);
  torch::nn::BatchNorm2d plain(5);
  std::vector<std::string> a, b;
  for (const auto& item : sync->named_parameters()) a.push_back(item.key());
  for (const auto& item : sync->named_buffers()) a.push_back(item.key());
  for (const auto& item : plain->named_parameters()) b.push_back(item.key());
  for (const auto& item : plain->named_buffers()) b.push_back(item.key());
  CHECK(a == b);

  torch::nn::Sequential net(sync);
  int sums = 0;
  CHECK(model::set_sync_batch_norm(*net, [&](torch::Tensor&) { ++sums; }) == 1);
  const torch::Tensor x = torch::randn({4, 5, 3, 3}) * 2 + 1;
  const torch::Tensor xs = x.clone().requires_grad_(), xp = x.clone().requires_grad_();
  const torch::Tensor w = torch::randn({4, 5, 3, 3});
  const torch::Tensor ys = sync->forward(xs), yp = plain->forward(xp);
  (ys * w).sum().backward();
  (yp * w).sum().backward();
  CHECK(sums == 2);  // forward statistics and their backward
  CHECK(torch::allclose(ys, yp, 1e-5, 1e-5));
  CHECK(torch::allclose(xs.grad(), xp.grad(), 1e-4, 1e-5));
  CHECK(torch::allclose(sync->weight.grad(), plain->weight.grad(), 1e-4, 1e-5));
  CHECK(torch::allclose(sync->running_mean, plain->running_mean, 1e-6, 1e-6));
  CHECK(torch::allclose(sync->running_var, plain->running_var, 1e-5, 1e-6));
  CHECK(sync->num_batches_tracked.item<int64_t>() == 1);
}

TEST_CASE("distributed: 2 Gloo processes x batch 4 equal 1 process x batch 8, and resume on 1") {
  test::ScratchDir dir("trainer_ddp");
  const std::string d = packed_project(dir);
  std::string out;
  REQUIRE_MESSAGE(test::run_command(train_argv(d, "one", {"--iters", "3"}), &out) == 0, out);
  const auto two = run_two(train_argv(d, "two", {"--iters", "3"}));
  REQUIRE_MESSAGE(two[0].status == 0, two[0].out);
  REQUIRE_MESSAGE(two[1].status == 0, two[1].out);
  CHECK(two[0].out.find("on 2 processes") != std::string::npos);
  CHECK(two[1].out.find("it/s") == std::string::npos);  // rank 1 prints no progress

  const fs::path one_dir = dir.path() / "runs/one", two_dir = dir.path() / "runs/two";
  CHECK(max_difference(latest_weights(one_dir), latest_weights(two_dir)) < 1e-5);
  const auto config = read_json_file(two_dir / "config.json");
  CHECK(config["resolved"]["world_size"] == 2);
  CHECK(config["resolved"]["backend"] == "gloo");
  CHECK(config["sync_bn"] == true);

  // The same world launched by torchrun (Debian's python3-torch). Python 3.11 breaks its
  // default --redirects/--tee value 0 (enum.Flag no longer iterates NONE), so 2 is given.
  if (fs::exists("/usr/bin/torchrun")) {
    auto tr = train_argv(d, "torchrun", {"--iters", "3"});
    tr.insert(tr.begin(), {"/usr/bin/torchrun", "--no_python", "--standalone", "--nproc_per_node=2",
                           "--redirects", "2", "--tee", "2"});
    REQUIRE_MESSAGE(test::run_command(tr, &out) == 0, out);
    CHECK(max_difference(latest_weights(one_dir), latest_weights(dir.path() / "runs/torchrun")) <
          1e-5);
    CHECK(read_json_file(dir.path() / "runs/torchrun/config.json")["resolved"]["world_size"] == 2);
  } else {
    MESSAGE("torchrun launch not tested: /usr/bin/torchrun is missing (python3-torch)");
  }

  // The 2-process run continues in one process from iteration 3, as the 1-process run does.
  REQUIRE_MESSAGE(test::run_command(train_argv(d, "two", {"--resume", "--iters", "5"}), &out) == 0,
                  out);
  REQUIRE_MESSAGE(test::run_command(train_argv(d, "one", {"--resume", "--iters", "5"}), &out) == 0,
                  out);
  const auto events = jsonl(two_dir / "metrics.jsonl");
  bool resumed_at_3 = false;
  for (const auto& e : events)
    if (e.value("event", "") == "resume") resumed_at_3 = e["iter"] == 3;
  CHECK(resumed_at_3);
  CHECK(events.back()["event"] == "end");
  CHECK(events.back()["iter"] == 5);
  CHECK(read_json_file(two_dir / "config.json")["resolved"]["world_size"] == 1);
  CHECK(max_difference(latest_weights(one_dir), latest_weights(two_dir)) < 1e-5);
}

TEST_CASE("distributed: a global batch that does not divide, and a rank that dies") {
  test::ScratchDir dir("trainer_ddp_fail");
  const std::string d = packed_project(dir);
  auto odd_argv = train_argv(d, "odd", {"--iters", "2"});
  *(std::find(odd_argv.begin(), odd_argv.end(), "--batch") + 1) = "7";
  const auto odd = run_two(odd_argv);
  for (const auto& r : odd) {
    CHECK(r.status != 0);
    CHECK_MESSAGE(r.out.find("divide by the world size 2") != std::string::npos, r.out);
  }

  // Rank 1 is killed once the run has saved its first checkpoint (it is training then).
  const auto argv = train_argv(d, "dies", {"--iters", "100000", "--checkpoint-interval", "1"});
  std::string rank1 = "";
  for (const auto& a : argv) rank1 += "'" + a + "' ";
  const std::string latest = (dir.path() / "runs/dies/checkpoints/latest.json").string();
  const std::string script = rank1 + "& p=$!; n=0; while [ ! -e '" + latest +
                             "' ] && [ $n -lt 1200 ]; do sleep 0.1; n=$((n+1)); done; "
                             "kill -9 $p; wait $p; exit 0";
  const int port = free_port();
  Env env0 = rank_env(0, 2, port), env1 = rank_env(1, 2, port);
  env0.back().second = env1.back().second = "20";  // EXCAP_DIST_TIMEOUT_S
  auto killer = std::async(std::launch::async, [&] {
    return test::run_command({"/bin/sh", "-c", script}, nullptr, env1);
  });
  std::string out0;
  const int status0 = test::run_command(argv, &out0, env0);
  killer.get();
  CHECK(status0 != 0);
  CHECK_MESSAGE(out0.find("rank 0 of 2") != std::string::npos, out0);
  CHECK(fs::exists(latest));
}
