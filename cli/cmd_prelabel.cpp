// `excap prelabel DIR --run NAME`: the model's suggestions for a project's
// frames (triage/prelabel.h, docs/prelabels.md). `excap prelabels`, the
// setting that allows them, needs no LibTorch and lives in cmd_curation.cpp.
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "common/text.h"
#include "store/project.h"
#include "triage/prelabel.h"

namespace excap::cli {

void register_prelabel_commands(CLI::App& app, Registry& reg) {
  auto* cmd = app.add_subcommand("prelabel", model_command_description("prelabel"));
  auto dir = std::make_shared<std::string>();
  auto opt = std::make_shared<trainer::PrelabelOptions>();
  cmd->add_option("DIR", *dir, "Project folder")->required();
  cmd->add_option("--run", opt->run, "Trained run (runs/NAME)")->required()->check(safe_name());
  cmd->add_option("--checkpoint", opt->checkpoint, "best | latest")
      ->check(CLI::IsMember({"best", "latest"}))
      ->capture_default_str();
  cmd->add_option("--frames", opt->frames, "unlabeled (no final label yet) | all")
      ->check(CLI::IsMember({"unlabeled", "all"}))
      ->capture_default_str();
  cmd->add_option("--device", opt->device, "auto | cpu | cuda")->capture_default_str();
  cmd->add_option("--threads", opt->threads, "Intra-op threads (0: all)")->capture_default_str();
  cmd->add_option("--batch", opt->batch, "Frames per forward pass and per write")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  cmd->add_option("--user", opt->user, "Who asks (a project user; provenance and audit log)")
      ->required()
      ->check(safe_name());
  reg.add(cmd, [=] {
    require_project_user(Project::open(*dir), opt->user, "--user");
    const auto r = trainer::run_prelabel(*dir, *opt, [](const trainer::PrelabelProgress& p) {
      std::cout << "prelabel: " << p.done << "/" << p.total << " frames (written " << p.written
                << ", skipped " << p.skipped << ")\n"
                << std::flush;
    });
    std::cout << "suggestions of run '" << printable(opt->run) << "' (checkpoint "
              << opt->checkpoint << ", iteration " << r.checkpoint_iter << ", weights sha256 "
              << r.weights_sha256.substr(0, 12) << "): " << r.planned << " frames, written "
              << r.written << ", skipped (same weights) " << r.skipped << "\n";
    return 0;
  });
}

}  // namespace excap::cli
