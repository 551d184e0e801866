// Each command group registers its subcommands with a runner; main() parses
// once and runs the chosen one. Runners return the exit status; they throw
// excap::Error for bad input, which main() prints as one line.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include "common/ids.h"

namespace excap {
class Project;
}
namespace excap::model {
struct ModelConfig;
}

namespace excap::cli {

using Runner = std::function<int()>;

class Registry {
 public:
  void add(CLI::App* sub, Runner run) { entries_.push_back({sub, std::move(run)}); }
  const std::vector<std::pair<CLI::App*, Runner>>& entries() const { return entries_; }

 private:
  std::vector<std::pair<CLI::App*, Runner>> entries_;
};

// The parent of nested commands ("clips add", "bench train"): created once,
// shared by every group that adds to it.
inline CLI::App* group(CLI::App& app, const std::string& name, const std::string& description) {
  try {
    return app.get_subcommand(name);
  } catch (const CLI::OptionNotFound&) {
    CLI::App* g = app.add_subcommand(name, description);
    g->require_subcommand(1);
    return g;
  }
}

// The one check of every name given on a command line (subset, run, split,
// user, clip, video, frame): common/ids.h's rule, so a name can never leave
// the project. CLI11 names the option in its message.
inline CLI::Validator safe_name() {
  return CLI::Validator([](std::string& s) { return safe_id_problem(s); }, "NAME", "safe name");
}

// Throws Error naming `option` when `user` is not a user of project.json:
// a command acting for a user acts only for one the project knows.
void require_project_user(const Project& p, const std::string& user, const std::string& option);

// One function per command group (cli/cmd_<group>.cpp).
void register_project_commands(CLI::App& app, Registry& reg);  // init, info, validate
void register_sample_commands(CLI::App& app, Registry& reg);   // synth
void register_demo_commands(CLI::App& app, Registry& reg);     // demo
// import, relink, clips add|list|remove, extract (needs OpenCV)
void register_stage1_commands(CLI::App& app, Registry& reg);
// assign, agreement, adjudicate, split, export, import-masks (needs OpenCV)
void register_curation_commands(CLI::App& app, Registry& reg);
// import-images (needs OpenCV)
void register_image_import_commands(CLI::App& app, Registry& reg);
// pack (needs OpenCV), train, eval, compare (needs LibTorch)
void register_train_commands(CLI::App& app, Registry& reg);
// triage (needs OpenCV and LibTorch)
void register_triage_commands(CLI::App& app, Registry& reg);
// experiment (needs OpenCV and LibTorch)
void register_experiment_commands(CLI::App& app, Registry& reg);
// prelabel (needs OpenCV and LibTorch)
void register_prelabel_commands(CLI::App& app, Registry& reg);
// weights import, model info (needs LibTorch)
void register_model_commands(CLI::App& app, Registry& reg);
// bench extract (OpenCV), bench train (LibTorch), bench triage (both)
void register_bench_commands(CLI::App& app, Registry& reg);

// Commands that need LibTorch live in `excap-model`; `excap` (no LibTorch, so
// it starts in milliseconds) lists them and hands them over (model_commands.cpp).
struct ModelCommand {
  std::string path;         // "train", or a nested command: "bench train"
  std::string description;  // its one line in --help, the same in both programs
};
const std::vector<ModelCommand>& model_commands();
// Throws std::out_of_range for a path not in model_commands().
const std::string& model_command_description(const std::string& path);
// Whether argv names a model command (argv[1], and argv[2] for a nested one).
bool is_model_command(int argc, const char* const* argv);
// Lists each model command in `app`; its runner is `forward` (never reached
// when main forwards before parsing, but a parse that gets there still works).
void register_model_placeholders(CLI::App& app, Registry& reg, const Runner& forward);
// Replaces this process with `program` (a file name, looked up next to
// /proc/self/exe) run on the same arguments. Returns only on failure: prints
// one error line and returns 2; `program` null means this build has no LibTorch.
int forward_to_model_program(int argc, char** argv, const char* program);

// --model, --backbone, --fusion-pool, --dilated (cmd_train.cpp; LibTorch builds only).
void add_model_options(CLI::App* cmd, model::ModelConfig& m);

}  // namespace excap::cli
