// Inference over a packed subset and the metrics of DESIGN.md: used for
// validation during training and by `excap eval`.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <map>
#include <string>

#include "model/model.h"
#include "trainer/data.h"
#include "trainer/eval_result.h"
#include "trainer/run_eval.h"

namespace excap::trainer {

// "auto" -> CUDA when available, else CPU. "cuda" without a usable GPU throws
// an Error that says so (and whether this LibTorch was built with CUDA at all).
torch::Device resolve_device(const std::string& name);

// Sets the intra-op thread count (0: all hardware threads); returns the count used.
int configure_threads(int threads);

// Moves the model to `device`; on CUDA also turns 4-D weights channels-last
// (NHWC convolutions are the fast path of cuDNN with tensor cores).
void place_model(model::MultiTaskNetImpl& net, const torch::Device& device);

// The ground truth of one frame at its own size, by row of the packed subset.
using LabelReader = std::function<FrameMask(std::size_t row)>;

// Predicted CD and masks for every frame of `data` (eval mode, no grad). With
// `label_at_size`, also scores each frame at its label's size (out.scored_at =
// Original, out.pred_original, out.original_areas), one frame's resized logits at a time.
// `progress` (frames done, frames in all) is called after each batch.
void predict(model::MultiTaskNetImpl& net, const SubsetTensors& data, const torch::Device& device,
             int batch, bool channels_last, EvalResult& out,
             const LabelReader& label_at_size = nullptr,
             const std::function<void(int, int)>& progress = nullptr);

// mmsegmentation's resize of one frame's seg logits ([1, C, h, w]) to
// height x width (bilinear, align_corners=False), then argmax: U8 [height, width] on the CPU.
at::Tensor labels_at_size(const at::Tensor& logits, int height, int width);

// The headline scores of a scored result, for logs and best-checkpoint choice:
// accuracy, precision, recall, f1 (classification), aAcc, mIoU, mAcc (segmentation).
std::map<std::string, double> headline_scores(const EvalResult& r);

}  // namespace excap::trainer
