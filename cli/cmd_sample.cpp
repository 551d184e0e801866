// excap synth (the synthetic capsule sample; `excap demo` lives in cmd_demo.cpp)
#include <iostream>

#include "cli/commands.h"
#include "common/error.h"
#ifdef EXCAP_HAVE_OPENCV
#include "sample/sample.h"
#endif

namespace excap::cli {

void register_sample_commands(CLI::App& app, Registry& reg) {
  auto* cmd = app.add_subcommand(
      "synth",
      "Write a synthetic capsule sample: one video per patient, ground-truth masks and CD, and a "
      "ready project labeled by two simulated annotators");
#ifdef EXCAP_HAVE_OPENCV
  auto out = std::make_shared<std::string>();
  auto opt = std::make_shared<SynthOptions>();
  cmd->add_option("OUT", *out, "New or empty folder for the sample")->required();
  cmd->add_option("--patients", opt->patients, "Number of patients (one video each)")
      ->capture_default_str();
  cmd->add_option("--seconds", opt->seconds, "Length of each video in seconds")
      ->capture_default_str();
  cmd->add_option("--fps", opt->fps, "Frame rate of the videos")->capture_default_str();
  cmd->add_option("--seed", opt->seed, "Seed: the same seed gives the same videos and masks")
      ->capture_default_str();
  cmd->add_option("--size", opt->size, "Frame width and height in pixels")->capture_default_str();
  reg.add(cmd, [=] {
    const SampleSummary s =
        write_sample(*out, *opt, [](const std::string& line) { std::cout << line << "\n"; });
    std::cout << "wrote sample " << s.out.string() << ": " << s.patients.size() << " videos ("
              << s.video_frames << " frames), truth in " << s.truth.string() << ", project "
              << s.project.string() << " with " << s.extracted << " frames labeled by a and b\n";
    return 0;
  });
#else
  reg.add(cmd, [] {
    throw Error("synth", "this excap was built without OpenCV (EXCAP_WITH_OPENCV=OFF)");
    return 1;
  });
#endif
}

}  // namespace excap::cli
