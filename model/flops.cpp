#include "model/flops.h"

#include <cstdio>

#include "common/error.h"

namespace excap::model {

std::int64_t ModelCost::params() const {
  std::int64_t n = 0;
  for (const auto& p : parts) n += p.params;
  return n;
}

std::int64_t ModelCost::macs() const {
  std::int64_t n = 0;
  for (const auto& p : parts) n += p.macs;
  return n;
}

ModelCost model_cost(const MultiTaskNetImpl& net, std::int64_t height, std::int64_t width) {
  if (height < 32 || width < 32) throw Error("model cost", "input must be at least 32x32 pixels");
  ModelCost c;
  c.height = height;
  c.width = width;
  c.parts = net.part_costs(height, width);
  return c;
}

std::string format_cost(const ModelCost& cost) {
  std::string out;
  char line[160];
  std::snprintf(line, sizeof line, "%-14s %14s %10s %10s\n", "part", "parameters", "GMACs",
                "GFLOPs");
  out += line;
  auto row = [&](const std::string& name, std::int64_t params, std::int64_t macs) {
    std::snprintf(line, sizeof line, "%-14s %14lld %10.3f %10.3f\n", name.c_str(),
                  static_cast<long long>(params), static_cast<double>(macs) / 1e9, gflops(macs));
    out += line;
  };
  for (const auto& p : cost.parts) row(p.part, p.params, p.macs);
  row("total", cost.params(), cost.macs());
  return out;
}

}  // namespace excap::model
