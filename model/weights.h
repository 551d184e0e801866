// Model weights as safetensors: every parameter and buffer by its state-dict
// name, the ModelConfig as JSON in the file's metadata ("excap_model_config").
#pragma once
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <cstddef>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "model/config.h"
#include "model/model.h"

namespace excap::model {

namespace fs = std::filesystem;

// Parameters and buffers (num_batches_tracked included), by name.
std::map<std::string, at::Tensor> state_dict(const torch::nn::Module& module);

void save_weights(const fs::path& path, const torch::nn::Module& module, const ModelConfig& config);

struct LoadReport {
  std::size_t loaded = 0;
  std::vector<std::string> missing;     // in the model, not in the file
  std::vector<std::string> unexpected;  // in the file, not in the model
  std::string summary() const;          // one line
};

// Throws excap::Error(where, ...) unless `found` can stand for `expected`: the
// same dtype (F32 for float parameters, the model's own integer dtype for
// buffers such as num_batches_tracked), the same shape, and only finite values
// in a floating tensor. `label` names the tensor ("tensor 'x'"); the message
// says what was expected and what was found.
void check_tensor(const std::string& where, const std::string& label, const at::Tensor& found,
                  const at::Tensor& expected);

// Copies the file's tensors into the module by name (moving them to its device).
// A dtype or shape mismatch or a non-finite value (check_tensor) throws
// excap::Error naming the file and the tensor, before anything is copied.
// strict: missing or unexpected keys throw too.
LoadReport load_weights(const fs::path& path, torch::nn::Module& module, bool strict);

// The config saved by save_weights; reads the header only. Throws when absent.
ModelConfig read_weights_config(const fs::path& path);

// ---- import of torchvision / PyTorch backbone weights ----

// "module.x" -> "x" (DataParallel) and torchvision's legacy DenseNet names
// ("denselayer1.norm.1.weight" -> "denselayer1.norm1.weight", the rule of
// torchvision's densenet._load_state_dict).
std::string remap_legacy_key(const std::string& key);

struct BackboneImport {
  std::map<std::string, at::Tensor> tensors;  // by the model's names, model dtype
  std::vector<std::string> dropped;           // source keys the model has no place for (e.g. fc.*)
  std::vector<std::string> not_in_file;       // model keys the source does not provide (heads)
};

// Places source tensors (torchvision backbone names, or this model's own names)
// into `net` under each of its backbone prefixes. Throws excap::Error (naming
// `where` and the tensor) on a shape or dtype mismatch, a non-finite value
// (check_tensor), or when nothing matches.
BackboneImport map_backbone_weights(const std::map<std::string, at::Tensor>& source,
                                    const MultiTaskNetImpl& net, const std::string& where);

}  // namespace excap::model
