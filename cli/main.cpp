// The `excap` and `excap-model` command lines: argument parsing and dispatch
// only. Compiled twice: `excap-model` (EXCAP_HAVE_TORCH) holds every command;
// `excap` holds those without LibTorch and hands the others to `excap-model`
// before parsing, so that they show their own --help.
#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "common/error.h"
#include "common/text.h"

#ifndef EXCAP_VERSION
#define EXCAP_VERSION "0.0.0"
#endif

int main(int argc, char** argv) {
#ifndef EXCAP_HAVE_TORCH
#ifdef EXCAP_MODEL_PROGRAM
  const char* model_program = EXCAP_MODEL_PROGRAM;
#else
  const char* model_program = nullptr;
#endif
  if (excap::cli::is_model_command(argc, argv))
    return excap::cli::forward_to_model_program(argc, argv, model_program);
#endif
  CLI::App app{"ExCap: capsule-endoscopy labeling, dataset curation, training and triage"};
  app.set_version_flag("--version", std::string("excap ") + EXCAP_VERSION);
  app.require_subcommand(1);
  app.fallthrough(false);
  excap::cli::Registry reg;
  excap::cli::register_project_commands(app, reg);
#ifdef EXCAP_HAVE_OPENCV
  excap::cli::register_sample_commands(app, reg);
#ifdef EXCAP_HAVE_TRIAGE
  excap::cli::register_demo_commands(app, reg);  // the whole pipeline: LibTorch and OpenCV
#endif
  excap::cli::register_stage1_commands(app, reg);
  excap::cli::register_curation_commands(app, reg);
  excap::cli::register_image_import_commands(app, reg);
#endif
#ifdef EXCAP_HAVE_TORCH
  excap::cli::register_train_commands(app, reg);
  excap::cli::register_model_commands(app, reg);
#endif
#ifdef EXCAP_HAVE_TRIAGE
  excap::cli::register_triage_commands(app, reg);
  excap::cli::register_experiment_commands(app, reg);
  excap::cli::register_prelabel_commands(app, reg);
#endif
  excap::cli::register_bench_commands(app, reg);
#ifndef EXCAP_HAVE_TORCH
  excap::cli::register_model_placeholders(
      app, reg, [&] { return excap::cli::forward_to_model_program(argc, argv, model_program); });
#endif
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    for (const auto& [sub, run] : reg.entries())
      if (sub->parsed()) return run();
    std::cerr << "excap: no command given (see excap --help)\n";
    return 2;
  } catch (const excap::Error& e) {
    std::cerr << "excap: error: " << excap::printable(e.what()) << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "excap: error: " << excap::printable(e.what()) << "\n";
    return 1;
  }
}
