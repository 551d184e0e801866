// The launch environment of a process started by torchrun (RANK, WORLD_SIZE,
// LOCAL_RANK, MASTER_ADDR, MASTER_PORT) or by SLURM's srun (SLURM_PROCID,
// SLURM_NTASKS, SLURM_LOCALID, SLURM_JOB_NODELIST): one reader for training
// and triage. The rules are documented in docs/distributed.md.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace excap {

// Reads an environment variable; std::nullopt when unset (injectable for tests).
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup process_environment();

// A whole non-negative number written with digits only (at most 9); nullopt otherwise.
std::optional<int> parse_whole_number(std::string_view s);

struct LaunchInfo {
  int rank = 0, world_size = 1;
  int local_rank = -1;      // LOCAL_RANK / SLURM_LOCALID, -1 when not launched so
  std::string master_addr;  // rendezvous host; set when world_size > 1
  int master_port = 0;
  bool agent_store = false;   // torchrun's agent hosts the store (TORCHELASTIC_USE_AGENT_STORE)
  std::string attempt = "0";  // TORCHELASTIC_RESTART_COUNT
  std::string source = "single process";  // where the ranks came from, for messages
};

// RANK/WORLD_SIZE (torchrun, wins when both are set) or SLURM_PROCID/SLURM_NTASKS, checked;
// nullopt when neither is set. Throws Error naming the variable for a bad or partial set.
// The rendezvous address is not read here (sharding needs none): see read_master_endpoint.
std::optional<LaunchInfo> launch_from_environment(const EnvLookup& env);

// The rendezvous host and port of a world of more than one: MASTER_ADDR and MASTER_PORT,
// else under SLURM the first host of SLURM_JOB_NODELIST and 20000 + SLURM_JOB_ID % 10000.
void read_master_endpoint(const EnvLookup& env, LaunchInfo& info);

// The first host name of a SLURM node list ("gpu[03-05,9],cpu1" -> "gpu03").
std::string first_slurm_host(const std::string& nodelist);

}  // namespace excap
