#include "model/weights.h"

#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <regex>

#include "common/error.h"
#include "common/safetensors.h"
#include "model/tensor_io.h"

namespace excap::model {

namespace {

constexpr const char* kConfigKey = "excap_model_config";

std::string shape_text(at::IntArrayRef s) {
  std::string t = "[";
  for (std::size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
  return t + "]";
}

std::string first_few(const std::vector<std::string>& v, std::size_t n = 5) {
  std::string s;
  for (std::size_t i = 0; i < v.size() && i < n; ++i) s += (i ? ", " : "") + v[i];
  if (v.size() > n) s += ", ... (" + std::to_string(v.size() - n) + " more)";
  return s;
}

}  // namespace

void check_tensor(const std::string& where, const std::string& label, const at::Tensor& found,
                  const at::Tensor& expected) {
  if (found.scalar_type() != expected.scalar_type())
    throw Error(where, label + " has dtype " + dtype_name(found.scalar_type()) +
                           " in the file but the model needs " +
                           dtype_name(expected.scalar_type()));
  if (found.sizes() != expected.sizes())
    throw Error(where, label + " has shape " + shape_text(found.sizes()) +
                           " in the file but the model needs " + shape_text(expected.sizes()));
  if (!found.is_floating_point()) return;
  const auto bad = (~torch::isfinite(found)).sum().item<std::int64_t>();
  if (bad > 0)
    throw Error(where, label + " holds " + std::to_string(bad) + " non-finite value" +
                           (bad == 1 ? "" : "s") + " (NaN or Inf); the model needs finite values");
}

std::map<std::string, at::Tensor> state_dict(const torch::nn::Module& module) {
  std::map<std::string, at::Tensor> out;
  for (const auto& p : module.named_parameters(true)) out.emplace(p.key(), p.value());
  for (const auto& b : module.named_buffers(true)) out.emplace(b.key(), b.value());
  return out;
}

void save_weights(const fs::path& path, const torch::nn::Module& module,
                  const ModelConfig& config) {
  // "format": "pt" is what Python's safetensors.torch writes and checks for.
  save_tensors(path, state_dict(module),
               {{"format", "pt"}, {kConfigKey, nlohmann::json(config).dump()}});
}

std::string LoadReport::summary() const {
  std::string s = "loaded " + std::to_string(loaded) + " tensors";
  if (!missing.empty())
    s += "; missing " + std::to_string(missing.size()) + ": " + first_few(missing);
  if (!unexpected.empty())
    s += "; unexpected " + std::to_string(unexpected.size()) + ": " + first_few(unexpected);
  return s;
}

LoadReport load_weights(const fs::path& path, torch::nn::Module& module, bool strict) {
  const auto file = load_tensors(path);
  auto model = state_dict(module);
  LoadReport r;
  for (const auto& [name, t] : model) {
    auto it = file.find(name);
    if (it == file.end()) {
      r.missing.push_back(name);
      continue;
    }
    check_tensor(path.string(), "tensor '" + name + "'", it->second, t);
  }
  for (const auto& [name, t] : file)
    if (!model.count(name)) r.unexpected.push_back(name);
  if (strict && (!r.missing.empty() || !r.unexpected.empty()))
    throw Error(path.string(), "weights do not match the model: " + r.summary());
  torch::NoGradGuard no_grad;
  for (auto& [name, t] : model) {
    auto it = file.find(name);
    if (it == file.end()) continue;
    t.copy_(it->second);
    ++r.loaded;
  }
  return r;
}

ModelConfig read_weights_config(const fs::path& path) {
  const auto header = safetensors::read_header(path);
  auto it = header.metadata.find(kConfigKey);
  if (it == header.metadata.end())
    throw Error(path.string(),
                std::string("no model configuration in the metadata (key '") + kConfigKey + "')");
  ModelConfig c;
  try {
    nlohmann::json::parse(it->second).get_to(c);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path.string(), std::string("model configuration is not valid JSON: ") + e.what());
  }
  validate(c);
  return c;
}

std::string remap_legacy_key(const std::string& key) {
  std::string k = key.rfind("module.", 0) == 0 ? key.substr(7) : key;
  // torchvision densenet.py's rule
  // '^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$',
  // plus num_batches_tracked, which a re-saved legacy checkpoint may also carry.
  static const std::regex legacy(
      R"(^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var|num_batches_tracked))$)");
  std::smatch m;
  if (std::regex_match(k, m, legacy)) return m[1].str() + m[2].str();
  return k;
}

BackboneImport map_backbone_weights(const std::map<std::string, at::Tensor>& source,
                                    const MultiTaskNetImpl& net, const std::string& where) {
  const auto model = state_dict(net);
  BackboneImport out;
  for (const auto& [raw, t] : source) {
    const std::string key = remap_legacy_key(raw);
    std::vector<std::string> targets;
    if (model.count(key))
      targets.push_back(key);
    else
      for (const auto& prefix : net.backbone_prefixes())
        if (model.count(prefix + key)) targets.push_back(prefix + key);
    if (targets.empty()) {
      out.dropped.push_back(raw);
      continue;
    }
    for (const auto& target : targets) {
      const at::Tensor& dst = model.at(target);
      if (dst.sizes() != t.sizes())
        throw Error(where, "tensor '" + raw + "' has shape " + shape_text(t.sizes()) +
                               " but the model's '" + target + "' needs " +
                               shape_text(dst.sizes()));
      check_tensor(where, "tensor '" + raw + "' (the model's '" + target + "')", t, dst);
      out.tensors[target] = t.contiguous();
    }
  }
  if (out.tensors.empty())
    throw Error(where, "no tensor matches the model's names (first keys: " +
                           first_few(std::vector<std::string>([&] {
                             std::vector<std::string> v;
                             for (const auto& kv : source) v.push_back(kv.first);
                             return v;
                           }())) +
                           ")");
  for (const auto& [name, t] : model)
    if (!out.tensors.count(name)) out.not_in_file.push_back(name);
  return out;
}

}  // namespace excap::model
