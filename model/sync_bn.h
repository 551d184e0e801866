// Batch normalisation whose training statistics can be computed over every
// process of a data-parallel world (SyncBN). It is torchvision's BatchNorm2d
// (same parameter and buffer names, so weights load by name) with a forward
// that, once synchronised, all-reduces per-channel sums through an autograd
// function whose backward all-reduces too, so gradients match one process
// holding the whole global batch.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <memory>

namespace excap::model {

// Sums a tensor in place over every process of the world (identity for a world of one).
using AllReduceSum = std::function<void(torch::Tensor&)>;

class SyncableBatchNorm2dImpl : public torch::nn::BatchNorm2dImpl {
 public:
  using torch::nn::BatchNorm2dImpl::BatchNorm2dImpl;
  torch::Tensor forward(const torch::Tensor& input);
  // Set: training statistics over every process (through this sum); unset: this batch's.
  std::shared_ptr<const AllReduceSum> sync;
};
TORCH_MODULE(SyncableBatchNorm2d);

// Synchronises (or, with an empty `reduce`, unsynchronises) every SyncableBatchNorm2d of
// `net`; returns how many there are.
int set_sync_batch_norm(torch::nn::Module& net, AllReduceSum reduce);

// The synchronised batch norm of `x` [N, C, H, W] in training: statistics from the
// all-reduced sums, running statistics updated as torch's BatchNorm2d does.
torch::Tensor sync_batch_norm_train(SyncableBatchNorm2dImpl& bn, const torch::Tensor& x,
                                    const AllReduceSum& reduce);

}  // namespace excap::model
