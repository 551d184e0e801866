// Data-parallel training on torch's c10d: a process group joined from the
// launch environment (common/launch.h), Gloo on CPU and NCCL on CUDA, bucketed
// gradient all-reduce, the broadcast of rank 0's weights, each rank's share of
// a global batch, and the collectives the loop needs to stay in step. A world of
// one is a plain object whose collectives are the identity. docs/distributed.md.
#pragma once
#include <torch/torch.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/launch.h"
#include "model/sync_bn.h"

namespace excap::trainer {

class Distributed {
 public:
  Distributed();  // a world of one
  ~Distributed();
  Distributed(const Distributed&) = delete;
  Distributed& operator=(const Distributed&) = delete;

  // Joins the world of `launch` when it has more than one process: a TCPStore at its master
  // endpoint, then Gloo (CPU) or NCCL (CUDA). Collectives wait at most `timeout`; a peer that
  // stops turns into an Error naming this rank and the collective. Throws Error.
  static std::unique_ptr<Distributed> join(const LaunchInfo& launch, const torch::Device& device,
                                           std::chrono::milliseconds timeout);

  int rank() const { return rank_; }
  int world_size() const { return world_; }
  bool active() const { return world_ > 1; }
  bool writer() const { return rank_ == 0; }  // rank 0 alone writes logs, checkpoints, config
  const std::string& backend() const { return backend_; }

  // Rows [first, first + count) of a global batch of `global_batch` that this rank trains on;
  // throws Error("--batch N", ...) unless it divides by the world size.
  std::pair<int, int> share(int global_batch) const;
  // The seed of this rank's own random draws (dropout): `seed` on rank 0, a mix elsewhere.
  std::uint64_t rank_seed(std::uint64_t seed) const;

  // Copies rank 0's values into every rank's tensors (parameters and buffers).
  void broadcast_from_writer(const std::vector<torch::Tensor>& tensors);
  // Gradients summed over ranks and divided by the world size, in flattened buckets.
  void average_gradients(const std::vector<torch::Tensor>& params);
  // The mean over ranks of each (scalar) loss.
  std::map<std::string, torch::Tensor> average(const std::map<std::string, torch::Tensor>& losses);
  // Whether any rank has `flag` set (a stop request taken by every rank at the same step).
  bool any(bool flag);
  void barrier(const std::string& why);
  // The in-place sum over ranks SyncBN uses.
  model::AllReduceSum sum_function();

 private:
  struct Group;
  void sum_in_place(torch::Tensor& t, const std::string& what);
  int rank_ = 0, world_ = 1;
  std::string backend_ = "none";
  std::unique_ptr<Group> group_;
};

// The device of one rank: "auto" or "cuda" with a local rank and CUDA becomes cuda:LOCAL_RANK.
std::string rank_device(const std::string& requested, const LaunchInfo& launch);

// This process's place in the world from torchrun's or SLURM's environment (one process when
// neither is set), with the rendezvous endpoint for a world of more than one.
LaunchInfo launch_of_process(const EnvLookup& env);

// Collective timeout: EXCAP_DIST_TIMEOUT_S seconds (default 1800), read by the CLI.
std::chrono::milliseconds collective_timeout(const EnvLookup& env);

}  // namespace excap::trainer
