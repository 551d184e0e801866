// Parameter count and forward cost per part of a model. The cost is an
// ANALYTIC shape walk (no hooks, no forward pass): each conv's output size
// follows from its kernel/stride/padding/dilation, and MACs = H_out * W_out *
// C_out * C_in/groups * k_h * k_w per conv, in*out per linear layer. BN, ReLU,
// pooling, additions, upsampling and the cross-stitch mixing are not counted
// (the convention of torchvision's published GFLOPS and fvcore). GFLOPs = 2 * MACs / 1e9.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/model.h"

namespace excap::model {

struct ModelCost {
  std::int64_t height = 0, width = 0;
  std::vector<PartCost> parts;
  std::int64_t params() const;
  std::int64_t macs() const;
};

inline double gflops(std::int64_t macs) { return 2.0 * static_cast<double>(macs) / 1e9; }

ModelCost model_cost(const MultiTaskNetImpl& net, std::int64_t height, std::int64_t width);

// A small table: part, parameters, GMACs, GFLOPs, and the total.
std::string format_cost(const ModelCost& cost);

}  // namespace excap::model
