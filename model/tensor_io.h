// Adapters between LibTorch tensors and safetensors entries (common/safetensors.h).
#pragma once
#include <ATen/core/Tensor.h>

#include <filesystem>
#include <map>
#include <string>

#include "common/safetensors.h"

namespace excap::model {

// Copies a tensor (any device, any layout) into a contiguous little-endian CPU entry.
// Throws excap::Error for a dtype safetensors has no name for (e.g. complex).
safetensors::Tensor to_safetensor(const at::Tensor& t);
// Copies an entry into a new CPU tensor of the same dtype and shape.
// Unsigned 16/32/64-bit entries are refused (no LibTorch dtype in 1.13).
at::Tensor to_torch(const safetensors::Tensor& t, const std::string& name = "tensor");
// The safetensors name of a LibTorch dtype ("F32", "I64", ...), else LibTorch's own name.
std::string dtype_name(c10::ScalarType s);

// Whole files of named tensors.
std::map<std::string, at::Tensor> load_tensors(
    const std::filesystem::path& path, std::map<std::string, std::string>* metadata = nullptr);
void save_tensors(const std::filesystem::path& path,
                  const std::map<std::string, at::Tensor>& tensors,
                  const std::map<std::string, std::string>& metadata = {});

}  // namespace excap::model
