#include "common/safetensors.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "common/error.h"
#include "common/fsutil.h"

namespace excap::safetensors {
namespace {

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the safetensors codec copies raw bytes: it needs a little-endian host"
#endif

struct DTypeInfo {
  DType dtype;
  const char* name;
  std::size_t size;
};
constexpr std::array<DTypeInfo, 13> kDTypes{{
    {DType::BOOL, "BOOL", 1},
    {DType::U8, "U8", 1},
    {DType::I8, "I8", 1},
    {DType::U16, "U16", 2},
    {DType::I16, "I16", 2},
    {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2},
    {DType::U32, "U32", 4},
    {DType::I32, "I32", 4},
    {DType::F32, "F32", 4},
    {DType::U64, "U64", 8},
    {DType::I64, "I64", 8},
    {DType::F64, "F64", 8},
}};

// The reference implementation refuses headers above 100 MB; so do we.
constexpr std::uint64_t kMaxHeader = 100'000'000;
constexpr int kMaxHeaderDepth = 16;

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// numel * itemsize with overflow checks; nullopt on overflow.
std::optional<std::uint64_t> byte_size(const std::vector<std::int64_t>& shape, DType d) {
  std::uint64_t n = itemsize(d);
  for (std::int64_t dim : shape) {
    if (dim < 0) return std::nullopt;
    if (__builtin_mul_overflow(n, static_cast<std::uint64_t>(dim), &n)) return std::nullopt;
  }
  return n;
}

struct HeaderEntry {
  std::string name;
  DType dtype;
  std::vector<std::int64_t> shape;
  std::uint64_t begin, end;
};

struct Header {
  std::map<std::string, std::string> metadata;
  std::vector<HeaderEntry> entries;
};

std::uint64_t read_le64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Parses the header text as a JSON object, refusing a tensor name given twice
// (the parsed object would keep only one of them).
nlohmann::json parse_header_json(std::string_view text, const std::string& where) {
  if (text.empty() || text.front() != '{')
    throw Error(where, "safetensors header does not start with '{'");
  std::set<std::string> seen;
  std::string duplicate;
  bool too_deep = false;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(
        text.begin(), text.end(),
        [&](int depth, nlohmann::json::parse_event_t ev, nlohmann::json& parsed) {
          if (depth == 1 && ev == nlohmann::json::parse_event_t::key &&
              !seen.insert(parsed.get<std::string>()).second && duplicate.empty())
            duplicate = parsed.get<std::string>();
          // A header nests 3 levels; a deeper value is dropped, as copying it would recurse.
          if (depth > kMaxHeaderDepth) too_deep = true;
          return depth <= kMaxHeaderDepth;
        });
  } catch (const nlohmann::json::exception& e) {
    throw Error(where, std::string("safetensors header is not valid JSON: ") + e.what());
  }
  if (too_deep)
    throw Error(where, "safetensors header nests deeper than " + std::to_string(kMaxHeaderDepth) +
                           " levels");
  if (!j.is_object()) throw Error(where, "safetensors header is not a JSON object");
  if (!duplicate.empty())
    throw Error(where, "tensor '" + duplicate + "' appears twice in the header");
  return j;
}

void read_metadata(const nlohmann::json& v, Header& h, const std::string& where) {
  if (!v.is_object()) throw Error(where, "__metadata__ is not a JSON object");
  for (auto m = v.begin(); m != v.end(); ++m) {
    if (!m.value().is_string())
      throw Error(where, "__metadata__ value of '" + m.key() + "' is not a string");
    h.metadata[m.key()] = m.value().get<std::string>();
  }
}

// `what` names the tensor in errors.
std::vector<std::int64_t> parse_shape(const nlohmann::json& v, const std::string& what,
                                      const std::string& where) {
  if (!v.contains("shape") || !v["shape"].is_array())
    throw Error(where, what + ": missing or non-array shape");
  std::vector<std::int64_t> shape;
  for (const auto& d : v["shape"]) {
    if (!d.is_number_unsigned())
      throw Error(where, what + ": shape holds a non-integer or negative value");
    const auto dim = d.get<std::uint64_t>();
    if (dim > static_cast<std::uint64_t>(INT64_MAX))
      throw Error(where, what + ": dimension too large");
    shape.push_back(static_cast<std::int64_t>(dim));
  }
  return shape;
}

// Reads data_offsets into e and checks them against the data section and the shape.
void parse_offsets(const nlohmann::json& v, HeaderEntry& e, std::optional<std::uint64_t> data_size,
                   const std::string& what, const std::string& where) {
  const auto& off = v.contains("data_offsets") ? v["data_offsets"] : nlohmann::json();
  if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
      !off[1].is_number_unsigned())
    throw Error(where, what + ": data_offsets must be two non-negative integers");
  e.begin = off[0].get<std::uint64_t>();
  e.end = off[1].get<std::uint64_t>();
  if (e.end < e.begin)
    throw Error(where, what + ": data_offsets end " + std::to_string(e.end) + " before begin " +
                           std::to_string(e.begin));
  if (data_size && e.end > *data_size)
    throw Error(where, what + ": data_offsets [" + std::to_string(e.begin) + ", " +
                           std::to_string(e.end) + "] run past the data section (" +
                           std::to_string(*data_size) + " bytes)");
  const auto expect = byte_size(e.shape, e.dtype);
  if (!expect) throw Error(where, what + ": shape " + shape_text(e.shape) + " overflows");
  if (*expect != e.end - e.begin)
    throw Error(where, what + ": shape " + shape_text(e.shape) + " of " +
                           dtype_name(e.dtype).data() + " needs " + std::to_string(*expect) +
                           " bytes but data_offsets span " + std::to_string(e.end - e.begin));
}

HeaderEntry parse_entry(const std::string& name, const nlohmann::json& v,
                        std::optional<std::uint64_t> data_size, const std::string& where) {
  const std::string what = "tensor '" + name + "'";
  if (!v.is_object()) throw Error(where, what + ": header entry is not an object");
  for (auto f = v.begin(); f != v.end(); ++f)
    if (f.key() != "dtype" && f.key() != "shape" && f.key() != "data_offsets")
      throw Error(where, what + ": unknown header field '" + f.key() + "'");
  if (!v.contains("dtype") || !v["dtype"].is_string())
    throw Error(where, what + ": missing or non-string dtype");
  auto dtype = parse_dtype(v["dtype"].get<std::string>());
  if (!dtype) throw Error(where, what + ": unknown dtype '" + v["dtype"].get<std::string>() + "'");
  HeaderEntry e{name, *dtype, parse_shape(v, what, where), 0, 0};
  parse_offsets(v, e, data_size, what, where);
  return e;
}

// The spec: offsets, sorted, tile the byte buffer with no gap and no overlap.
void check_tiling(const Header& h, std::optional<std::uint64_t> data_size,
                  const std::string& where) {
  std::vector<const HeaderEntry*> sorted;
  for (const auto& e : h.entries) sorted.push_back(&e);
  std::sort(sorted.begin(), sorted.end(), [](const HeaderEntry* a, const HeaderEntry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  std::uint64_t pos = 0;
  for (const HeaderEntry* e : sorted) {
    if (e->begin < pos)
      throw Error(where, "tensor '" + e->name + "' overlaps the previous tensor (begins at " +
                             std::to_string(e->begin) + ", previous ends at " +
                             std::to_string(pos) + ")");
    if (e->begin > pos)
      throw Error(where, "gap in the data section before tensor '" + e->name + "' (bytes " +
                             std::to_string(pos) + " to " + std::to_string(e->begin) + " unused)");
    pos = e->end;
  }
  if (data_size && pos != *data_size)
    throw Error(where, "data section has " + std::to_string(*data_size) +
                           " bytes but the tensors cover " + std::to_string(pos) +
                           " (truncated header or trailing bytes)");
}

// Validates the JSON header; `data_size` is the size of the data section
// (nullopt when only the header was read, so the tiling is checked against the
// largest end offset instead).
Header parse_header(std::string_view text, std::optional<std::uint64_t> data_size,
                    const std::string& where) {
  const nlohmann::json j = parse_header_json(text, where);
  Header h;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "__metadata__")
      read_metadata(it.value(), h, where);
    else
      h.entries.push_back(parse_entry(it.key(), it.value(), data_size, where));
  }
  check_tiling(h, data_size, where);
  return h;
}

}  // namespace

std::string_view dtype_name(DType d) {
  for (const auto& i : kDTypes)
    if (i.dtype == d) return i.name;
  return "?";
}

std::optional<DType> parse_dtype(std::string_view name) {
  for (const auto& i : kDTypes)
    if (name == i.name) return i.dtype;
  return std::nullopt;
}

std::size_t itemsize(DType d) {
  for (const auto& i : kDTypes)
    if (i.dtype == d) return i.size;
  return 0;
}

Tensor::Tensor(DType dtype, std::vector<std::int64_t> shape, std::vector<std::uint8_t> bytes)
    : dtype_(dtype), shape_(std::move(shape)) {
  const auto expect = byte_size(shape_, dtype_);
  if (!expect || *expect != bytes.size())
    throw Error("safetensors tensor", "shape " + shape_text(shape_) + " of " +
                                          std::string(dtype_name(dtype_)) + " does not match " +
                                          std::to_string(bytes.size()) + " bytes");
  nbytes_ = bytes.size();
  storage_ = std::make_shared<const std::vector<std::uint8_t>>(std::move(bytes));
}

Tensor::Tensor(DType dtype, std::vector<std::int64_t> shape,
               std::shared_ptr<const std::vector<std::uint8_t>> storage, std::size_t offset,
               std::size_t nbytes)
    : dtype_(dtype),
      shape_(std::move(shape)),
      storage_(std::move(storage)),
      offset_(offset),
      nbytes_(nbytes) {}

std::int64_t Tensor::numel() const {
  std::int64_t n = 1;
  for (auto d : shape_) n *= d;
  return n;
}

const std::uint8_t* Tensor::data() const { return storage_ ? storage_->data() + offset_ : nullptr; }

File parse(std::vector<std::uint8_t> bytes, const std::string& where) {
  if (bytes.size() < 8)
    throw Error(where,
                "too short for a safetensors file (" + std::to_string(bytes.size()) + " bytes)");
  const std::uint64_t n = read_le64(bytes.data());
  if (n > kMaxHeader)
    throw Error(where, "safetensors header length " + std::to_string(n) + " is implausible");
  if (n > bytes.size() - 8)
    throw Error(where, "safetensors header length " + std::to_string(n) +
                           " exceeds the file size (" + std::to_string(bytes.size()) +
                           " bytes): truncated?");
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()) + 8, n);
  const std::uint64_t data_start = 8 + n;
  Header h = parse_header(text, bytes.size() - data_start, where);
  auto storage = std::make_shared<const std::vector<std::uint8_t>>(std::move(bytes));
  File f;
  f.metadata = std::move(h.metadata);
  for (auto& e : h.entries)
    f.tensors.emplace(e.name, Tensor(e.dtype, std::move(e.shape), storage, data_start + e.begin,
                                     e.end - e.begin));
  return f;
}

File read(const fs::path& path) { return parse(read_bytes(path), path.string()); }

File read_header(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path.string(), "cannot open for reading");
  std::uint8_t len[8];
  if (!in.read(reinterpret_cast<char*>(len), 8))
    throw Error(path.string(), "too short for a safetensors file");
  const std::uint64_t n = read_le64(len);
  std::error_code ec;
  const std::uint64_t size = fs::file_size(path, ec);
  if (n > kMaxHeader || ec || n > size - 8)
    throw Error(path.string(),
                "safetensors header length " + std::to_string(n) + " exceeds the file size");
  std::string text(n, '\0');
  if (!in.read(text.data(), static_cast<std::streamsize>(n)))
    throw Error(path.string(), "cannot read the safetensors header");
  Header h = parse_header(text, size - 8 - n, path.string());
  File f;
  f.metadata = std::move(h.metadata);
  for (auto& e : h.entries)
    f.tensors.emplace(e.name, Tensor(e.dtype, std::move(e.shape), nullptr, 0, e.end - e.begin));
  return f;
}

std::string serialize(const File& file) {
  nlohmann::json header = nlohmann::json::object();
  if (!file.metadata.empty()) header["__metadata__"] = file.metadata;
  std::uint64_t pos = 0;
  for (const auto& [name, t] : file.tensors) {
    if (name == "__metadata__")
      throw Error(name, "is reserved in safetensors and cannot name a tensor");
    if (t.nbytes() > 0 && !t.data()) throw Error(name, "tensor has no data to write");
    header[name] = {{"dtype", std::string(dtype_name(t.dtype()))},
                    {"shape", t.shape()},
                    {"data_offsets", {pos, pos + t.nbytes()}}};
    pos += t.nbytes();
  }
  std::string text = header.dump();
  // The reference writer pads the header with spaces so the data starts 8-byte aligned.
  text.append((8 - (8 + text.size()) % 8) % 8, ' ');
  std::string out;
  out.reserve(8 + text.size() + pos);
  std::uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  out += text;
  for (const auto& [name, t] : file.tensors)
    out.append(reinterpret_cast<const char*>(t.data()), t.nbytes());
  return out;
}

void write(const fs::path& path, const File& file) { atomic_write(path, serialize(file)); }

}  // namespace excap::safetensors
