// Checkpoints: runs/NAME/checkpoints/iter_NNNNNN/ holds weights.safetensors
// (model/weights.h format, loadable from Python), optimizer.pt (LibTorch
// archive of the SGD state: momentum buffers) and state.json (iteration, best
// score, AMP loss scale). A folder is written under a temporary name and
// renamed, then latest.json / best.json (written atomically) point at it, so
// a crash at any moment leaves the previous checkpoint intact.
#pragma once
#include <torch/torch.h>

#include <limits>
#include <optional>
#include <string>

#include "common/fsutil.h"
#include "model/losses.h"
#include "model/model.h"

namespace excap::trainer {

struct TrainerState {
  int iter = 0;  // completed iterations
  double best_score = -std::numeric_limits<double>::infinity();
  int best_iter = -1;
  double loss_scale = 65536.0;  // fp16 dynamic loss scale
  int good_steps = 0;           // steps since the last scale change
  double elapsed_s = 0;         // training wall time so far (for throughput)
};

fs::path checkpoints_dir(const fs::path& run_dir);

// Writes iter_<state.iter>/ (unless it already exists) and points `tag`
// ("latest" or "best") at it; removes folders no pointer references.
void save_checkpoint(const fs::path& run_dir, const std::string& tag, model::MultiTaskNetImpl& net,
                     model::TaskUncertaintyImpl* uncertainty, torch::optim::Optimizer& optimizer,
                     const TrainerState& state);

// The folder `tag` points at; nullopt when there is no such pointer.
std::optional<fs::path> checkpoint_folder(const fs::path& run_dir, const std::string& tag);

// Loads weights (and optimizer state and uncertainty weights when given) from a checkpoint folder.
TrainerState load_checkpoint(const fs::path& folder, model::MultiTaskNetImpl& net,
                             model::TaskUncertaintyImpl* uncertainty,
                             torch::optim::Optimizer* optimizer, const torch::Device& device);

// Saves/loads a model's parameters and buffers by name (torchvision naming) as safetensors.
void save_model_weights(const fs::path& path, model::MultiTaskNetImpl& net, int iteration);
void load_model_weights(const fs::path& path, model::MultiTaskNetImpl& net, bool strict);

}  // namespace excap::trainer
