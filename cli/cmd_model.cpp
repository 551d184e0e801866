// `excap weights import` and `excap model info`: argument parsing only; the
// work is in model/ (weights.h, flops.h).
#include <ATen/Parallel.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/commands.h"
#include "common/error.h"
#include "common/fsutil.h"
#include "common/process.h"
#include "common/resources.h"
#include "common/safetensors.h"
#include "model/flops.h"
#include "model/model.h"
#include "model/tensor_io.h"
#include "model/weights.h"

namespace excap::cli {
namespace {

namespace fs = std::filesystem;
using namespace excap::model;

// The converter script: $EXCAP_SCRIPTS_DIR, else share/excap/scripts beside this binary.
fs::path converter_script() {
  if (const char* d = std::getenv("EXCAP_SCRIPTS_DIR")) return fs::path(d) / "convert_pth.py";
  return resource_path("scripts/convert_pth.py");
}

// A file is read as safetensors when its first 8 bytes give a header length
// that fits and the header starts with '{'; anything else goes to the converter.
bool looks_like_safetensors(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  unsigned char b[9];
  if (!in.read(reinterpret_cast<char*>(b), 9)) return false;
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | b[i];
  std::error_code ec;
  return b[8] == '{' && n + 8 <= fs::file_size(p, ec) && !ec;
}

// A PyTorch pickle state dict -> safetensors, with Debian's python3-torch
// (LibTorch's C++ pickle loader cannot read a state dict's OrderedDict).
fs::path convert_pth(const fs::path& input, const fs::path& temp) {
  const char* env = std::getenv("EXCAP_PYTHON");
  const std::string python = env ? env : "/usr/bin/python3";
  const fs::path script = converter_script();
  if (!fs::exists(script))
    throw Error(script.string(), "converter script not found (set EXCAP_SCRIPTS_DIR)");
  std::string out;
  int code = 0;
  try {
    const ProcessResult r = run_process({python, script.string(), input.string(), temp.string()});
    out = r.out;
    code = r.exit_code;
  } catch (const Error& e) {
    out = e.what();
    code = 127;  // the interpreter itself could not start
  }
  while (!out.empty() && out.back() == '\n') out.pop_back();
  // convert_pth.py exits 3 when python cannot import torch; 127: no such interpreter.
  if (code == 3 || code == 127)
    throw Error(input.string(),
                "is not safetensors, and converting a PyTorch file needs " + python +
                    " with torch (Debian: apt install python3-torch; or set EXCAP_PYTHON), "
                    "or convert it to safetensors yourself: " +
                    out);
  if (code != 0) throw Error(input.string(), "conversion failed: " + out);
  std::cout << out << "\n";
  return temp;
}

std::string join_few(const std::vector<std::string>& v, std::size_t n = 8) {
  std::string s;
  for (std::size_t i = 0; i < v.size() && i < n; ++i) s += (i ? ", " : "") + v[i];
  if (v.size() > n) s += ", ... (" + std::to_string(v.size() - n) + " more)";
  return s;
}

struct ImportArgs {
  std::string input, arch, backbone, out;
  bool dilated = true;
};

int run_import(const ImportArgs& a) {
  at::set_num_threads(1);
  ModelConfig config;
  config.arch = parse_arch(a.arch, "--arch");
  config.dilated = a.dilated;
  const fs::path input = a.input;
  if (!fs::exists(input)) throw Error(input.string(), "no such file");
  fs::path st_path = input;
  fs::path temp;
  if (!looks_like_safetensors(input)) {
    temp = fs::path(a.out).parent_path() /
           (".excap-import-" + std::to_string(::getpid()) + ".safetensors");
    st_path = convert_pth(input, temp);
  }
  std::map<std::string, at::Tensor> source;
  std::map<std::string, std::string> meta;
  try {
    source = load_tensors(st_path, &meta);
  } catch (...) {
    if (!temp.empty()) fs::remove(temp);
    throw;
  }
  if (!temp.empty()) fs::remove(temp);
  // --backbone, else the file's own config (an ExCap weight file), else resnet50.
  if (!a.backbone.empty()) {
    config.backbone = a.backbone;
  } else if (auto it = meta.find("excap_model_config"); it != meta.end()) {
    config.backbone = nlohmann::json::parse(it->second).value("backbone", config.backbone);
  }
  const MultiTaskNet net = build_model(config);
  const BackboneImport imp = map_backbone_weights(source, *net, input.string());
  std::map<std::string, at::Tensor> tensors = imp.tensors;
  std::map<std::string, std::string> out_meta{{"format", "pt"},
                                              {"excap_model_config", nlohmann::json(config).dump()},
                                              {"excap_imported_from", input.filename().string()}};
  save_tensors(a.out, tensors, out_meta);
  std::cout << "wrote " << a.out << ": " << tensors.size() << " tensors for " << config.arch << "/"
            << config.backbone << "\n";
  if (!imp.dropped.empty())
    std::cout << "dropped " << imp.dropped.size()
              << " tensors the model has no place for: " << join_few(imp.dropped) << "\n";
  if (!imp.not_in_file.empty())
    std::cout << imp.not_in_file.size()
              << " model tensors not in the file (initialised at training): "
              << join_few(imp.not_in_file) << "\n";
  return 0;
}

struct InfoArgs {
  std::string arch = "mtcsn", backbone = "resnet50";
  int size = 240;
  bool dilated = true;
  std::string fusion_pool = "avg";
};

int run_info(const InfoArgs& a) {
  ModelConfig c;
  c.arch = parse_arch(a.arch, "--model");
  c.backbone = a.backbone;
  c.dilated = a.dilated;
  c.fusion_pool = parse_fusion_pool(a.fusion_pool, "--fusion-pool");
  const MultiTaskNet net = build_model(c);
  const ModelCost cost = model_cost(*net, a.size, a.size);
  std::cout
      << c.arch << " / " << c.backbone << (c.dilated ? " (output stride 8)" : " (output stride 32)")
      << ", input " << a.size << "x" << a.size << "\n"
      << format_cost(cost)
      << "MACs: analytic shape walk over conv and linear layers (BN, activations, pooling and "
         "upsampling not counted); GFLOPs = 2 x GMACs.\n";
  return 0;
}

}  // namespace

void register_model_commands(CLI::App& app, Registry& reg) {
  CLI::App* weights = group(app, "weights", "Model weights (safetensors)");
  auto imp = std::make_shared<ImportArgs>();
  CLI::App* ic = weights->add_subcommand("import",
                                         "Convert torchvision/PyTorch backbone weights "
                                         "(.safetensors or .pth) into an ExCap weight file");
  ic->add_option("file", imp->input, "safetensors or PyTorch state dict (.pth)")->required();
  ic->add_option("--arch", imp->arch, "mtcsn, cls, seg_fcn, seg_aspp, hard_share, cross_stitch")
      ->required();
  ic->add_option("--backbone", imp->backbone,
                 "resnet18/34/50/101, densenet121, tiny (default: from the file, else resnet50)");
  ic->add_option("--out", imp->out, "output .safetensors")->required();
  ic->add_flag("!--no-dilation", imp->dilated, "output stride 32 instead of 8");
  reg.add(ic, [imp] { return run_import(*imp); });

  CLI::App* model = group(app, "model", "Model architectures");
  auto info = std::make_shared<InfoArgs>();
  CLI::App* mi = model->add_subcommand("info", "Parameter count and forward GFLOPs per part");
  mi->add_option("--model", info->arch, "mtcsn, cls, seg_fcn, seg_aspp, hard_share, cross_stitch")
      ->capture_default_str();
  mi->add_option("--backbone", info->backbone, "resnet18/34/50/101, densenet121, tiny")
      ->capture_default_str();
  mi->add_option("--size", info->size, "square input size in pixels")
      ->capture_default_str()
      ->check(CLI::Range(32, 8192));
  mi->add_option("--fusion-pool", info->fusion_pool, "avg or max")->capture_default_str();
  mi->add_flag("!--no-dilation", info->dilated, "output stride 32 instead of 8");
  reg.add(mi, [info] { return run_info(*info); });
}

}  // namespace excap::cli
