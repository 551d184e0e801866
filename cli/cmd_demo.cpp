// excap demo: option parsing and printing; the pipeline is run_demo
// (sample/demo.h), which reports each stage through a callback.
#include <iomanip>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "sample/demo.h"

namespace excap::cli {

namespace {

void print_event(const DemoEvent& e) {
  switch (e.kind) {
    case DemoEvent::Kind::StageBegin:
      std::cout << "\n== " << e.text << "\n";
      break;
    case DemoEvent::Kind::Line:
      std::cout << "   " << e.text << "\n";
      break;
    case DemoEvent::Kind::StageEnd:
      std::cout << "   (" << std::fixed << std::setprecision(1) << e.seconds << " s)\n";
      std::cout.unsetf(std::ios::fixed);
      break;
  }
}

int run_demo_command(const DemoOptions& o) {
  const DemoSummary s = run_demo(o, print_event);
  std::cout << "\ndemo finished: project at " << s.project.string()
            << "\n  open it in the studio: excap-studio " << s.project.string() << " --user a\n";
  return 0;
}

}  // namespace

void register_demo_commands(CLI::App& app, Registry& reg) {
  auto* cmd = app.add_subcommand("demo", model_command_description("demo"));
  auto o = std::make_shared<DemoOptions>();
  auto dir = std::make_shared<std::string>(o->dir.string());
  cmd->add_option("DIR", *dir, "Output folder (must not exist or be empty)")->capture_default_str();
  cmd->add_option("--patients", o->synth.patients, "Patients (one video each)")
      ->capture_default_str();
  cmd->add_option("--seconds", o->synth.seconds, "Length of each video")->capture_default_str();
  cmd->add_option("--fps", o->synth.fps, "Video frame rate")->capture_default_str();
  cmd->add_option("--seed", o->synth.seed, "Random seed")->capture_default_str();
  cmd->add_option("--size", o->synth.size, "Frame size in pixels")->capture_default_str();
  cmd->add_option("--auto-accept", o->auto_accept_iou,
                  "Mask mIoU at which two agreeing annotations skip the expert")
      ->capture_default_str();
  cmd->add_option("--backbone", o->backbone, "MTCSN backbone (tiny, resnet18, ..., resnet50)")
      ->capture_default_str();
  cmd->add_option("--train-size", o->size, "Training input size")->capture_default_str();
  cmd->add_option("--iters", o->iters, "Training iterations")->capture_default_str();
  cmd->add_option("--batch", o->batch, "Batch size")->capture_default_str();
  cmd->add_option("--threads", o->threads, "CPU threads (0: all)")->capture_default_str();
  reg.add(cmd, [o, dir] {
    DemoOptions opt = *o;
    opt.dir = *dir;
    return run_demo_command(opt);
  });
}

}  // namespace excap::cli
