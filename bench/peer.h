// The benchmarks' Python peers: started from an argument vector (never a shell
// string), they print one JSON object on their last line.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace excap::trainer {

struct PeerRun {
  bool ok = false;
  nlohmann::json result;  // the peer's JSON line when ok
  std::string failure;    // "Python peer failed: " + why, when not ok
};

// Runs the peer and parses the last line of its output that starts with '{';
// ok only when it exited 0 and that object has `required_key`. `tail_chars`
// bounds how much of the output a failure quotes.
PeerRun run_peer(const std::vector<std::string>& argv, const std::string& required_key,
                 std::size_t tail_chars);

}  // namespace excap::trainer
