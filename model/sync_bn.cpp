#include "model/sync_bn.h"

#include <cstdint>

#include "common/error.h"

// LibTorch declares this member but its shared library does not export it, so a class
// derived from BatchNorm2dImpl (whose vtable names it) needs a definition here.
namespace torch::nn {
template <size_t D, typename Derived>
void BatchNormImplBase<D, Derived>::pretty_print(std::ostream& stream) const {
  stream << "torch::nn::BatchNorm" << D << "d(" << this->options.num_features()
         << ", eps=" << this->options.eps() << ", affine=" << this->options.affine() << ")";
}
template void BatchNormImplBase<2, BatchNorm2dImpl>::pretty_print(std::ostream&) const;
}  // namespace torch::nn

namespace excap::model {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// y = sum over ranks of x; dL/dx = sum over ranks of dL/dy (every rank's loss sees y).
struct AllReduceSumFunction : public torch::autograd::Function<AllReduceSumFunction> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x,
                               const AllReduceSum* reduce) {
    ctx->saved_data["reduce"] = reinterpret_cast<std::int64_t>(reduce);
    torch::Tensor y = x.clone();
    (*reduce)(y);
    return y;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto* reduce = reinterpret_cast<const AllReduceSum*>(ctx->saved_data["reduce"].toInt());
    torch::Tensor g = grads[0].contiguous().clone();
    (*reduce)(g);
    return {g, torch::Tensor()};
  }
};

torch::Tensor per_channel(const torch::Tensor& v) { return v.view({1, -1, 1, 1}); }

}  // namespace

torch::Tensor sync_batch_norm_train(SyncableBatchNorm2dImpl& bn, const torch::Tensor& x,
                                    const AllReduceSum& reduce) {
  if (x.dim() != 4) throw Error("SyncBatchNorm2d", "expected a 4-d input");
  const torch::Tensor xf = x.to(torch::kFloat32);  // statistics in fp32 under autocast too
  const double local_n = static_cast<double>(x.size(0) * x.size(2) * x.size(3));
  // One collective per layer: channel sums, sums of squares and the element count.
  torch::Tensor packed = torch::cat(
      {xf.sum({0, 2, 3}), (xf * xf).sum({0, 2, 3}), torch::full({1}, local_n, xf.options())});
  packed = AllReduceSumFunction::apply(packed, &reduce);
  const std::int64_t c = x.size(1);
  const torch::Tensor n = packed.narrow(0, 2 * c, 1);
  const torch::Tensor mean = packed.narrow(0, 0, c) / n;
  const torch::Tensor var = (packed.narrow(0, c, c) / n - mean * mean).clamp_min(0);
  const auto& opt = bn.options;
  torch::Tensor y = (xf - per_channel(mean)) * per_channel(torch::rsqrt(var + opt.eps()));
  if (opt.affine()) y = y * per_channel(bn.weight) + per_channel(bn.bias);
  if (opt.track_running_stats()) {
    torch::NoGradGuard no_grad;
    bn.num_batches_tracked += 1;
    const double total = n.item<double>();
    const double m = opt.momentum() ? *opt.momentum() : 1.0 / bn.num_batches_tracked.item<double>();
    const torch::Tensor unbiased = var.detach() * (total / std::max(total - 1, 1.0));
    bn.running_mean.mul_(1 - m).add_(mean.detach() * m);
    bn.running_var.mul_(1 - m).add_(unbiased * m);
  }
  return y.to(x.scalar_type());
}

torch::Tensor SyncableBatchNorm2dImpl::forward(const torch::Tensor& input) {
  if (sync && is_training()) return sync_batch_norm_train(*this, input, *sync);
  return torch::nn::BatchNorm2dImpl::forward(input);
}

int set_sync_batch_norm(torch::nn::Module& net, AllReduceSum reduce) {
  auto shared = reduce ? std::make_shared<const AllReduceSum>(std::move(reduce)) : nullptr;
  int count = 0;
  for (const auto& m : net.modules(/*include_self=*/true))
    if (auto* bn = dynamic_cast<SyncableBatchNorm2dImpl*>(m.get())) {
      bn->sync = shared;
      ++count;
    }
  return count;
}

}  // namespace excap::model
