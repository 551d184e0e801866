#include "bench/peer.h"

#include "common/error.h"
#include "common/process.h"

namespace excap::trainer {

PeerRun run_peer(const std::vector<std::string>& argv, const std::string& required_key,
                 std::size_t tail_chars) {
  PeerRun run;
  ProcessResult p;
  try {
    p = run_process(argv);
  } catch (const Error& e) {
    run.failure = std::string("Python peer failed: ") + e.what();
    return run;
  }
  const std::string& out = p.out;
  const auto line = out.rfind("\n{");
  const std::string last = line == std::string::npos ? out : out.substr(line + 1);
  nlohmann::json j = nlohmann::json::parse(last, nullptr, false);
  if (!p.ok() || !j.is_object() || !j.contains(required_key)) {
    const std::string why = p.ok() ? "" : "(" + describe_exit(p) + ") ";
    run.failure = "Python peer failed: " + why +
                  out.substr(out.size() > tail_chars ? out.size() - tail_chars : 0);
    return run;
  }
  run.ok = true;
  run.result = std::move(j);
  return run;
}

}  // namespace excap::trainer
