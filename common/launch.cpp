#include "common/launch.h"

#include <charconv>
#include <cstdlib>

#include "common/error.h"

namespace excap {

namespace {

// An environment variable that must be a whole number when set.
std::optional<int> env_number(const EnvLookup& env, const std::string& name) {
  const auto text = env(name);
  if (!text) return std::nullopt;
  const auto v = parse_whole_number(*text);
  if (!v) throw Error(name, "expected a whole number >= 0 in the environment, got '" + *text + "'");
  return v;
}

struct RankVars {
  const char *rank, *size, *local, *who;
};

std::optional<LaunchInfo> launch_from(const EnvLookup& env, const RankVars& p) {
  const auto rank = env_number(env, p.rank), size = env_number(env, p.size);
  if (!rank && !size) return std::nullopt;
  const std::string names = std::string(p.rank) + "/" + p.size;
  if (!rank || !size)
    throw Error(names, std::string(rank ? p.size : p.rank) + " is not set but " +
                           (rank ? p.rank : p.size) + " is: the launch environment is incomplete");
  if (*size < 1) throw Error(names, std::string(p.size) + " must be at least 1");
  if (*rank >= *size)
    throw Error(names, std::string(p.rank) + " " + std::to_string(*rank) + " is not below " +
                           p.size + " " + std::to_string(*size));
  LaunchInfo s;
  s.rank = *rank;
  s.world_size = *size;
  s.local_rank = env_number(env, p.local).value_or(-1);
  s.source = std::string(p.who) + " (" + p.rank + "=" + std::to_string(*rank) + ", " + p.size +
             "=" + std::to_string(*size) + ")";
  return s;
}

}  // namespace

EnvLookup process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  };
}

std::optional<int> parse_whole_number(std::string_view s) {
  if (s.empty() || s.size() > 9) return std::nullopt;
  int v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.front() == '+' || s.front() == '-')
    return std::nullopt;
  return v;
}

std::optional<LaunchInfo> launch_from_environment(const EnvLookup& env) {
  for (const RankVars& p : {RankVars{"RANK", "WORLD_SIZE", "LOCAL_RANK", "torchrun"},
                            RankVars{"SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", "SLURM"}})
    if (auto info = launch_from(env, p)) {
      info->agent_store = env("TORCHELASTIC_USE_AGENT_STORE").value_or("") == "True";
      info->attempt = env("TORCHELASTIC_RESTART_COUNT").value_or("0");
      return info;
    }
  return std::nullopt;
}

std::string first_slurm_host(const std::string& nodelist) {
  const auto open = nodelist.find('['), comma = nodelist.find(',');
  if (open == std::string::npos || (comma != std::string::npos && comma < open))
    return nodelist.substr(0, comma);
  // "prefix[03-05,9]...": the prefix and the first number as written (zero padding kept).
  const auto end = nodelist.find_first_of("-,]", open + 1);
  if (end == std::string::npos)
    throw Error("SLURM_JOB_NODELIST", "unbalanced '[' in '" + nodelist + "'");
  return nodelist.substr(0, open) + nodelist.substr(open + 1, end - open - 1);
}

void read_master_endpoint(const EnvLookup& env, LaunchInfo& info) {
  const auto addr = env("MASTER_ADDR");
  const auto port = env_number(env, "MASTER_PORT");
  const auto nodes = env("SLURM_JOB_NODELIST");
  const auto job = env_number(env, "SLURM_JOB_ID");
  if (addr && !addr->empty())
    info.master_addr = *addr;
  else if (nodes && !nodes->empty())
    info.master_addr = first_slurm_host(*nodes);
  else
    throw Error("MASTER_ADDR", "not set for a world of " + std::to_string(info.world_size) +
                                   " processes (" + info.source +
                                   "): set MASTER_ADDR and MASTER_PORT, or launch with torchrun");
  if (port)
    info.master_port = *port;
  else if (job)
    info.master_port = 20000 + *job % 10000;  // one port per job, so jobs sharing a node differ
  else
    throw Error("MASTER_PORT", "not set for a world of " + std::to_string(info.world_size) +
                                   " processes (" + info.source + ")");
  if (info.master_port < 1 || info.master_port > 65535)
    throw Error("MASTER_PORT", "must be 1..65535, got " + std::to_string(info.master_port));
}

}  // namespace excap
