#include "trainer/packed.h"

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "store/project.h"

namespace excap::trainer {

namespace st = excap::safetensors;

fs::path packed_dir(const fs::path& root, const std::string& split, int size) {
  return root / "packed" / (split + "-" + std::to_string(size));
}

fs::path packed_path(const fs::path& root, const std::string& split, int size,
                     const std::string& subset) {
  return packed_dir(root, split, size) / (subset + ".safetensors");
}

namespace {
const std::string& meta(const st::File& f, const std::string& key, const std::string& where) {
  auto it = f.metadata.find(key);
  if (it == f.metadata.end()) throw Error(where, "metadata key '" + key + "' is missing");
  return it->second;
}

const st::Tensor& tensor(const st::File& f, const std::string& name, st::DType dtype,
                         std::size_t rank, const std::string& where) {
  auto it = f.tensors.find(name);
  if (it == f.tensors.end()) throw Error(where, "tensor '" + name + "' is missing");
  if (it->second.dtype() != dtype || it->second.shape().size() != rank)
    throw Error(where, "tensor '" + name + "' has the wrong dtype or rank");
  return it->second;
}

std::vector<std::string> string_list(const std::string& text, const std::string& where) {
  try {
    return nlohmann::json::parse(text).get<std::vector<std::string>>();
  } catch (const std::exception& e) {
    throw Error(where, std::string("a metadata list is not a JSON list of strings: ") + e.what());
  }
}
}  // namespace

PackedSubset read_packed(const fs::path& path) {
  const std::string where = path.string();
  if (!fs::exists(path))
    throw Error(where, "no packed data (run `excap pack DIR --split NAME --size N` first)");
  st::File f = st::read(path);
  if (meta(f, "format", where) != "excap-packed")
    throw Error(where, "not an excap packed file (format '" + meta(f, "format", where) + "')");
  if (meta(f, "version", where) != "1")
    throw Error(where, "packed format version " + meta(f, "version", where) + " is not supported");
  if (meta(f, "layout", where) != "NHWC") throw Error(where, "layout must be NHWC");
  PackedSubset s;
  s.split = meta(f, "split", where);
  s.subset = meta(f, "subset", where);
  s.size = std::stoi(meta(f, "size", where));
  s.ignore_index = std::stoi(meta(f, "ignore_index", where));
  s.ids = string_list(meta(f, "ids", where), where);
  s.cd_names = string_list(meta(f, "cd_names", where), where);
  s.tissue_names = string_list(meta(f, "tissue_names", where), where);
  s.images = tensor(f, "images", st::DType::U8, 4, where);
  s.masks = tensor(f, "masks", st::DType::U8, 3, where);
  s.cd = tensor(f, "cd", st::DType::U8, 1, where);
  const std::int64_t n = static_cast<std::int64_t>(s.ids.size());
  const auto& is = s.images.shape();
  const auto& ms = s.masks.shape();
  if (is[0] != n || ms[0] != n || s.cd.shape()[0] != n || is[1] != s.size || is[2] != s.size ||
      is[3] != 3 || ms[1] != s.size || ms[2] != s.size)
    throw Error(where, "tensor shapes disagree with the id list or the size");
  return s;
}

void write_packed(const fs::path& path, const PackedSubset& s) {
  st::File f;
  f.metadata = {{"format", "excap-packed"},
                {"version", "1"},
                {"split", s.split},
                {"subset", s.subset},
                {"size", std::to_string(s.size)},
                {"layout", "NHWC"},
                {"color", "RGB"},
                {"ignore_index", std::to_string(s.ignore_index)},
                {"ids", nlohmann::json(s.ids).dump()},
                {"cd_names", nlohmann::json(s.cd_names).dump()},
                {"tissue_names", nlohmann::json(s.tissue_names).dump()},
                {"created", now_iso8601()}};
  f.tensors["images"] = s.images;
  f.tensors["masks"] = s.masks;
  f.tensors["cd"] = s.cd;
  ensure_dir(path.parent_path());
  st::write(path, f);
}

}  // namespace excap::trainer
