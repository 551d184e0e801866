// Torch-free safetensors codec (https://github.com/huggingface/safetensors):
// 8-byte little-endian header length N, N bytes of JSON
// {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
//  "__metadata__": {"key": "value"}}, then the raw little-endian data.
// Used for packed training data (uint8 images/masks) and model weights.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace excap::safetensors {

namespace fs = std::filesystem;

// The spec's dtype names; every one of them is read and written.
enum class DType { BOOL, U8, I8, U16, I16, F16, BF16, U32, I32, F32, U64, I64, F64 };

std::string_view dtype_name(DType d);
std::optional<DType> parse_dtype(std::string_view name);  // exact, case-sensitive, as the spec
std::size_t itemsize(DType d);

// One tensor: dtype, shape and `nbytes` raw bytes. A tensor read from a file
// shares the file's buffer (no copy per tensor).
class Tensor {
 public:
  Tensor() = default;
  // Takes ownership of `bytes`; throws excap::Error when its size is not
  // numel(shape) * itemsize(dtype).
  Tensor(DType dtype, std::vector<std::int64_t> shape, std::vector<std::uint8_t> bytes);
  // A view into a shared buffer (used by the reader).
  Tensor(DType dtype, std::vector<std::int64_t> shape,
         std::shared_ptr<const std::vector<std::uint8_t>> storage, std::size_t offset,
         std::size_t nbytes);

  DType dtype() const { return dtype_; }
  const std::vector<std::int64_t>& shape() const { return shape_; }
  std::int64_t numel() const;
  std::size_t nbytes() const { return nbytes_; }
  const std::uint8_t* data() const;

 private:
  DType dtype_ = DType::U8;
  std::vector<std::int64_t> shape_;
  std::shared_ptr<const std::vector<std::uint8_t>> storage_;
  std::size_t offset_ = 0;
  std::size_t nbytes_ = 0;
};

struct File {
  std::map<std::string, std::string> metadata;  // the optional "__metadata__" string map
  std::map<std::string, Tensor> tensors;        // by name
};

// Parses a whole file held in memory. `where` names it in errors. Validates:
// header length against the size, JSON object, known dtypes, integer shapes,
// offsets in range, contiguous and non-overlapping (the spec's rule: sorted by
// begin they tile the data section exactly), shape * itemsize == byte length,
// "__metadata__" a string-to-string map, no duplicate names.
File parse(std::vector<std::uint8_t> bytes, const std::string& where);
File read(const fs::path& path);  // throws excap::Error naming the path and the reason

// Serialises (tensors in name order, header padded with spaces to a multiple
// of 8 bytes so every tensor starts 8-byte aligned, as the reference writer does).
std::string serialize(const File& file);
void write(const fs::path& path, const File& file);  // atomic (common/fsutil.h)

// Reads only the header (8 + N bytes) of a file: metadata and tensor dtypes/shapes,
// without touching the data (tensors come back with nbytes but no storage).
File read_header(const fs::path& path);

}  // namespace excap::safetensors
