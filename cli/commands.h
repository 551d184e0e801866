// Each command group registers its subcommands with a runner; main() parses
// once and runs the chosen one. Runners return the exit status; they throw
// excap::Error for bad input, which main() prints as one line.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <vector>

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

// One function per command group (cli/cmd_<group>.cpp).
void register_project_commands(CLI::App& app, Registry& reg);  // init, info, validate
void register_sample_commands(CLI::App& app, Registry& reg);   // synth
void register_demo_commands(CLI::App& app, Registry& reg);     // demo
// import, relink, clips add|list|remove, extract (needs OpenCV)
void register_stage1_commands(CLI::App& app, Registry& reg);
// assign, agreement, adjudicate, split, export, import-masks (needs OpenCV)
void register_curation_commands(CLI::App& app, Registry& reg);
// pack (needs OpenCV), train, eval, compare (needs LibTorch)
void register_train_commands(CLI::App& app, Registry& reg);
// triage (needs OpenCV and LibTorch)
void register_triage_commands(CLI::App& app, Registry& reg);
// weights import, model info (needs LibTorch)
void register_model_commands(CLI::App& app, Registry& reg);
// bench extract (OpenCV), bench train (LibTorch), bench triage (both)
void register_bench_commands(CLI::App& app, Registry& reg);

}  // namespace excap::cli
