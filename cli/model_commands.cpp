// The commands that need LibTorch, and how `excap` hands them to `excap-model`.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <stdexcept>

#include "cli/commands.h"
#include "common/fsutil.h"

namespace excap::cli {

const std::vector<ModelCommand>& model_commands() {
  // `pack` and `compare` need no LibTorch but register with `train`, so they live there too.
  static const std::vector<ModelCommand> table = {
      {"demo", "Generate the synthetic capsule sample and run every pipeline stage on it"},
      {"pack", "Pack a split's frames and final labels into one safetensors file per subset"},
      {"train", "Train MTCSN or a baseline on a packed split"},
      {"eval", "Score a trained run on a subset; write metrics.json and report.md"},
      {"compare", "Evaluated runs side by side (the paper's Table 5 layout)"},
      {"experiment", "Train and score a grid of runs over seeds; write the comparison table"},
      {"bench train", "Training-step speed (C++) next to the same network in PyTorch Python"},
      {"bench parity",
       "Train with ExCap and with the PyTorch peer on the same frames; compare test scores"},
      {"bench ddp", "Data-parallel scaling: steps/s of 1 and N processes at one global batch"},
      {"weights", "Model weights (safetensors)"},
      {"model", "Model architectures"},
      {"triage", "Mark the clear, informative frames of a whole video with a trained model"},
      {"bench triage", "Triage speed next to a PyTorch eager + OpenCV Python peer"},
      {"bench prelabel-effort",
       "Pixels an annotator changes from a pre-label vs from scratch, on the synthetic sample"},
      {"bench active-learning",
       "Learning curves on the synthetic sample: uncertainty order vs random order"},
      {"prelabel", "Store a run's suggestions (pre-labels) for a project's frames"},
  };
  return table;
}

const std::string& model_command_description(const std::string& path) {
  for (const auto& c : model_commands())
    if (c.path == path) return c.description;
  throw std::out_of_range("not a model command: " + path);
}

bool is_model_command(int argc, const char* const* argv) {
  if (argc < 2) return false;
  for (const auto& c : model_commands()) {
    const auto space = c.path.find(' ');
    if (space == std::string::npos) {
      if (c.path == argv[1]) return true;
    } else if (argc >= 3 && c.path.compare(0, space, argv[1]) == 0 &&
               std::strlen(argv[1]) == space && c.path.substr(space + 1) == argv[2]) {
      return true;
    }
  }
  return false;
}

void register_model_placeholders(CLI::App& app, Registry& reg, const Runner& forward) {
  for (const auto& c : model_commands()) {
    const auto space = c.path.find(' ');
    CLI::App* parent = &app;
    std::string name = c.path;
    if (space != std::string::npos) {
      parent = group(app, c.path.substr(0, space), "Benchmarks");
      name = c.path.substr(space + 1);
    }
    CLI::App* sub = parent->add_subcommand(name, c.description);
    sub->allow_extras();  // the options are excap-model's to check
    reg.add(sub, forward);
  }
}

int forward_to_model_program(int argc, char** argv, const char* program) {
  if (program == nullptr) {
    std::cerr << "excap: error: " << argv[1]
              << ": this excap was built without LibTorch (no excap-model)\n";
    return 2;
  }
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  const fs::path target = self.parent_path() / program;
  if (ec || ::access(target.c_str(), X_OK) != 0) {
    std::cerr << "excap: error: " << argv[1] << ": " << program << " not found next to "
              << (ec ? fs::path(argv[0]) : self).string() << "\n";
    return 2;
  }
  std::vector<char*> args(argv, argv + argc);
  const std::string target_str = target.string();
  args[0] = const_cast<char*>(target_str.c_str());
  args.push_back(nullptr);
  ::execv(target_str.c_str(), args.data());
  std::cerr << "excap: error: " << target_str << ": " << std::strerror(errno) << "\n";
  return 2;
}

}  // namespace excap::cli
