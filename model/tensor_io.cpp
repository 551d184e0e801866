#include "model/tensor_io.h"

#include <torch/torch.h>

#include <cstring>

#include "common/error.h"

namespace excap::model {

namespace st = safetensors;

namespace {

std::optional<st::DType> to_st(c10::ScalarType s) {
  switch (s) {
    case torch::kBool:
      return st::DType::BOOL;
    case torch::kUInt8:
      return st::DType::U8;
    case torch::kInt8:
      return st::DType::I8;
    case torch::kInt16:
      return st::DType::I16;
    case torch::kInt32:
      return st::DType::I32;
    case torch::kInt64:
      return st::DType::I64;
    case torch::kFloat16:
      return st::DType::F16;
    case torch::kBFloat16:
      return st::DType::BF16;
    case torch::kFloat32:
      return st::DType::F32;
    case torch::kFloat64:
      return st::DType::F64;
    default:
      return std::nullopt;
  }
}

std::optional<c10::ScalarType> to_scalar(st::DType d) {
  switch (d) {
    case st::DType::BOOL:
      return torch::kBool;
    case st::DType::U8:
      return torch::kUInt8;
    case st::DType::I8:
      return torch::kInt8;
    case st::DType::I16:
      return torch::kInt16;
    case st::DType::I32:
      return torch::kInt32;
    case st::DType::I64:
      return torch::kInt64;
    case st::DType::F16:
      return torch::kFloat16;
    case st::DType::BF16:
      return torch::kBFloat16;
    case st::DType::F32:
      return torch::kFloat32;
    case st::DType::F64:
      return torch::kFloat64;
    default:
      return std::nullopt;  // U16/U32/U64
  }
}

}  // namespace

std::string dtype_name(c10::ScalarType s) {
  const auto d = to_st(s);
  return d ? std::string(st::dtype_name(*d)) : std::string(c10::toString(s));
}

st::Tensor to_safetensor(const at::Tensor& t) {
  const auto d = to_st(t.scalar_type());
  if (!d)
    throw Error("tensor", std::string("dtype ") + c10::toString(t.scalar_type()) +
                              " has no safetensors name");
  const at::Tensor c = t.detach().to(torch::kCPU).contiguous();
  std::vector<std::uint8_t> bytes(c.numel() * c.element_size());
  if (!bytes.empty()) std::memcpy(bytes.data(), c.data_ptr(), bytes.size());
  return st::Tensor(*d, c.sizes().vec(), std::move(bytes));
}

at::Tensor to_torch(const st::Tensor& t, const std::string& name) {
  const auto s = to_scalar(t.dtype());
  if (!s)
    throw Error(name, std::string("safetensors dtype ") + std::string(st::dtype_name(t.dtype())) +
                          " has no LibTorch equivalent");
  at::Tensor out = torch::empty(t.shape(), torch::TensorOptions().dtype(*s));
  if (t.nbytes() > 0) std::memcpy(out.data_ptr(), t.data(), t.nbytes());
  return out;
}

std::map<std::string, at::Tensor> load_tensors(const std::filesystem::path& path,
                                               std::map<std::string, std::string>* metadata) {
  st::File f = st::read(path);
  std::map<std::string, at::Tensor> out;
  for (const auto& [name, t] : f.tensors)
    out.emplace(name, to_torch(t, path.string() + ": tensor '" + name + "'"));
  if (metadata) *metadata = std::move(f.metadata);
  return out;
}

void save_tensors(const std::filesystem::path& path,
                  const std::map<std::string, at::Tensor>& tensors,
                  const std::map<std::string, std::string>& metadata) {
  st::File f;
  f.metadata = metadata;
  for (const auto& [name, t] : tensors) f.tensors.emplace(name, to_safetensor(t));
  st::write(path, f);
}

}  // namespace excap::model
