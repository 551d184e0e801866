#include "trainer/distributed.h"

#include <torch/version.h>

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if defined(EXCAP_WITH_GLOO) && defined(USE_C10D_GLOO)
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#if defined(EXCAP_WITH_NCCL) && defined(USE_C10D_NCCL)
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <algorithm>
#include <cstdlib>

#include "common/error.h"

namespace excap::trainer {

// Gloo and NCCL are ProcessGroups in LibTorch 1.x and Backends from 2.0 on.
#if TORCH_VERSION_MAJOR >= 2
using GroupImpl = c10d::Backend;
#else
using GroupImpl = c10d::ProcessGroup;
#endif

struct Distributed::Group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<GroupImpl> pg;
  std::chrono::milliseconds timeout{0};
};

namespace {

constexpr std::int64_t kBucketBytes = 25 << 20;  // torch DDP's default bucket size

std::string seconds_text(std::chrono::milliseconds t) {
  return std::to_string(t.count() / 1000) + " s";
}

// The store every rank rendezvouses through: rank 0 hosts it, or torchrun's agent does.
c10::intrusive_ptr<c10d::Store> make_store(const LaunchInfo& l, std::chrono::milliseconds timeout) {
  c10d::TCPStoreOptions o;
  o.port = static_cast<std::uint16_t>(l.master_port);
  o.isServer = l.rank == 0 && !l.agent_store;
  o.numWorkers = static_cast<std::size_t>(l.world_size);
  o.waitWorkers = !l.agent_store;
  o.timeout = timeout;
  o.multiTenant = !l.agent_store;
  auto tcp = c10::make_intrusive<c10d::TCPStore>(l.master_addr, o);
  if (!l.agent_store) return tcp;
  return c10::make_intrusive<c10d::PrefixStore>("/worker/attempt_" + l.attempt, tcp);
}

#if defined(EXCAP_WITH_GLOO) && defined(USE_C10D_GLOO)
c10::intrusive_ptr<GroupImpl> make_gloo(const c10::intrusive_ptr<c10d::Store>& store,
                                        const LaunchInfo& l, std::chrono::milliseconds timeout) {
  auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
  const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
  if (ifname && *ifname)
    opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
  else if (l.master_addr == "127.0.0.1" || l.master_addr == "localhost")
    opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
  else
    opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, l.rank, l.world_size, opts);
}
#endif

#if defined(EXCAP_WITH_NCCL) && defined(USE_C10D_NCCL)
c10::intrusive_ptr<GroupImpl> make_nccl(const c10::intrusive_ptr<c10d::Store>& store,
                                        const LaunchInfo& l, std::chrono::milliseconds timeout) {
  auto opts = c10d::ProcessGroupNCCL::Options::create();
  opts->timeout = timeout;
  return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, l.rank, l.world_size, opts);
}
#endif

c10::intrusive_ptr<GroupImpl> make_group(const c10::intrusive_ptr<c10d::Store>& store,
                                         const LaunchInfo& l, bool cuda,
                                         std::chrono::milliseconds timeout) {
  (void)cuda;  // used only by builds with NCCL
#if defined(EXCAP_WITH_NCCL) && defined(USE_C10D_NCCL)
  if (cuda) return make_nccl(store, l, timeout);
#endif
#if defined(EXCAP_WITH_GLOO) && defined(USE_C10D_GLOO)
  return make_gloo(store, l, timeout);
#else
  (void)store, (void)l, (void)timeout;  // no backend in this build
  throw Error("distributed training", std::string("this build has no ") + (cuda ? "NCCL or " : "") +
                                          "Gloo support (install libgloo-dev and rebuild)");
#endif
}

// Tensors grouped into runs of one dtype and device of at most kBucketBytes each.
std::vector<std::vector<torch::Tensor>> buckets(const std::vector<torch::Tensor>& tensors) {
  std::vector<std::vector<torch::Tensor>> out;
  std::int64_t bytes = 0;
  for (const torch::Tensor& t : tensors) {
    const std::int64_t b = t.numel() * static_cast<std::int64_t>(t.element_size());
    const bool fits = !out.empty() && out.back().front().scalar_type() == t.scalar_type() &&
                      out.back().front().device() == t.device() && bytes + b <= kBucketBytes;
    if (!fits) {
      out.emplace_back();
      bytes = 0;
    }
    out.back().push_back(t);
    bytes += b;
  }
  return out;
}

torch::Tensor flatten(const std::vector<torch::Tensor>& ts) {
  std::vector<torch::Tensor> flat;
  for (const auto& t : ts) flat.push_back(t.reshape({-1}));
  return torch::cat(flat);
}

void unflatten_into(const torch::Tensor& flat, const std::vector<torch::Tensor>& ts) {
  std::int64_t off = 0;
  for (const auto& t : ts) {
    t.copy_(flat.narrow(0, off, t.numel()).view(t.sizes()));
    off += t.numel();
  }
}

}  // namespace

Distributed::Distributed() = default;
Distributed::~Distributed() = default;

std::unique_ptr<Distributed> Distributed::join(const LaunchInfo& launch,
                                               const torch::Device& device,
                                               std::chrono::milliseconds timeout) {
  auto d = std::make_unique<Distributed>();
  d->rank_ = launch.rank;
  d->world_ = launch.world_size;
  if (launch.world_size <= 1) return d;
  const std::string where = "rank " + std::to_string(launch.rank) + " of " +
                            std::to_string(launch.world_size) + " (" + launch.source + ")";
  d->group_ = std::make_unique<Group>();
  d->group_->timeout = timeout;
  try {
    d->group_->store = make_store(launch, timeout);
    d->group_->pg = make_group(d->group_->store, launch, device.is_cuda(), timeout);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(where, "could not join the process group at " + launch.master_addr + ":" +
                           std::to_string(launch.master_port) + " within " + seconds_text(timeout) +
                           ": " + e.what());
  }
  d->backend_ = d->group_->pg->getBackendName();
  return d;
}

std::pair<int, int> Distributed::share(int global_batch) const {
  if (global_batch % world_ != 0)
    throw Error("--batch " + std::to_string(global_batch),
                "the global batch must divide by the world size " + std::to_string(world_) +
                    " (each process trains an equal share); use a multiple of " +
                    std::to_string(world_));
  const int per = global_batch / world_;
  return {rank_ * per, per};
}

std::uint64_t Distributed::rank_seed(std::uint64_t seed) const {
  if (rank_ == 0) return seed;
  return seed ^ (0x9E3779B97F4A7C15ull * static_cast<std::uint64_t>(rank_));
}

void Distributed::sum_in_place(torch::Tensor& t, const std::string& what) {
  if (!active()) return;
  std::vector<torch::Tensor> v{t};
  try {
    group_->pg->allreduce(v)->wait();
  } catch (const std::exception& e) {
    throw Error("rank " + std::to_string(rank_) + " of " + std::to_string(world_),
                what + " failed (a peer process stopped, or none answered within " +
                    seconds_text(group_->timeout) + "; EXCAP_DIST_TIMEOUT_S sets it): " + e.what());
  }
}

void Distributed::broadcast_from_writer(const std::vector<torch::Tensor>& tensors) {
  if (!active()) return;
  torch::NoGradGuard no_grad;
  for (const auto& bucket : buckets(tensors)) {
    std::vector<torch::Tensor> v{flatten(bucket)};
    try {
      group_->pg->broadcast(v)->wait();
    } catch (const std::exception& e) {
      throw Error("rank " + std::to_string(rank_) + " of " + std::to_string(world_),
                  std::string("broadcast of rank 0's weights failed: ") + e.what());
    }
    unflatten_into(v[0], bucket);
  }
}

void Distributed::average_gradients(const std::vector<torch::Tensor>& params) {
  if (!active()) return;
  std::vector<torch::Tensor> grads;
  for (const auto& p : params)
    if (p.grad().defined()) grads.push_back(p.grad());
  for (const auto& bucket : buckets(grads)) {
    torch::Tensor flat = flatten(bucket);
    sum_in_place(flat, "all-reduce of the gradients");
    flat.div_(world_);
    unflatten_into(flat, bucket);
  }
}

std::map<std::string, torch::Tensor> Distributed::average(
    const std::map<std::string, torch::Tensor>& losses) {
  if (!active() || losses.empty()) return losses;
  std::vector<torch::Tensor> values;
  for (const auto& [k, v] : losses) values.push_back(v.detach().to(torch::kFloat64).reshape({1}));
  torch::Tensor all = torch::cat(values);
  sum_in_place(all, "all-reduce of the losses");
  all.div_(world_);
  std::map<std::string, torch::Tensor> out;
  std::int64_t i = 0;
  for (const auto& [k, v] : losses) out[k] = all[i++];
  return out;
}

bool Distributed::any(bool flag) {
  if (!active()) return flag;
  torch::Tensor t = torch::full({1}, flag ? 1.0 : 0.0);
  sum_in_place(t, "all-reduce of the stop flag");
  return t.item<double>() > 0;
}

void Distributed::barrier(const std::string& why) {
  if (!active()) return;
  try {
    group_->pg->barrier()->wait();
  } catch (const std::exception& e) {
    throw Error("rank " + std::to_string(rank_) + " of " + std::to_string(world_),
                "barrier (" + why + ") failed: " + e.what());
  }
}

model::AllReduceSum Distributed::sum_function() {
  return [this](torch::Tensor& t) { sum_in_place(t, "all-reduce of SyncBN statistics"); };
}

std::string rank_device(const std::string& requested, const LaunchInfo& launch) {
  if (launch.local_rank < 0 || !(requested == "auto" || requested == "cuda")) return requested;
  if (!torch::cuda::is_available()) return requested;
  const int n = static_cast<int>(torch::cuda::device_count());
  if (launch.local_rank >= n)
    throw Error("LOCAL_RANK", std::to_string(launch.local_rank) + " but only " + std::to_string(n) +
                                  " CUDA device(s) are visible: one process per device");
  return "cuda:" + std::to_string(launch.local_rank);
}

LaunchInfo launch_of_process(const EnvLookup& env) {
  LaunchInfo info = launch_from_environment(env).value_or(LaunchInfo{});
  if (info.world_size > 1) read_master_endpoint(env, info);
  return info;
}

std::chrono::milliseconds collective_timeout(const EnvLookup& env) {
  const auto text = env("EXCAP_DIST_TIMEOUT_S");
  if (!text) return std::chrono::milliseconds(1800 * 1000);
  const auto s = parse_whole_number(*text);
  if (!s || *s < 1)
    throw Error("EXCAP_DIST_TIMEOUT_S", "expected whole seconds >= 1, got '" + *text + "'");
  return std::chrono::milliseconds(static_cast<std::int64_t>(*s) * 1000);
}

}  // namespace excap::trainer
