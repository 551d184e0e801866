#include "cli/triage_args.h"

namespace excap::cli {

void add_triage_options(CLI::App* sub, TriageCli& o, bool many) {
  if (many)
    sub->add_option("videos", o.inputs,
                    "Video files (any file OpenCV/FFmpeg decodes; need not be imported), folders "
                    "(searched recursively) or lists of paths (.txt/.lst/.list, one per line)");
  else
    sub->add_option("video", o.video,
                    "Video file (any file OpenCV/FFmpeg decodes; need not be imported)")
        ->required();
  auto* run = sub->add_option("--run", o.run, "Trained run folder: PROJECT/runs/NAME");
  if (!many) run->required();  // triage --merge needs no run
  sub->add_option("--checkpoint", o.checkpoint, "best | latest | path to a weights .safetensors");
  auto* every = sub->add_option("--every", o.every, "Every N-th frame (default: every frame)")
                    ->check(CLI::PositiveNumber);
  sub->add_option("--fps", o.fps, "Frames per second to triage (stage I's rule: nearest frame)")
      ->check(CLI::PositiveNumber)
      ->excludes(every);
  sub->add_option("--batch", o.batch, "Frames per inference batch (default 16 on CPU, 128 on CUDA)")
      ->check(CLI::PositiveNumber);
  sub->add_option("--threads", o.threads, "Inference threads (default: all hardware threads)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--device", o.device, "auto | cpu | cuda | cuda:N");
  sub->add_option("--channels-last", o.channels_last, "auto | on | off (auto: on for CUDA only)")
      ->check(CLI::IsMember({"auto", "on", "off"}));
  sub->add_option("--precision", o.precision, "auto | fp32 | fp16 (auto: fp16 on CUDA)")
      ->check(CLI::IsMember({"auto", "fp32", "fp16"}));
  sub->add_flag("--no-fold", o.no_fold, "Do not fold batch norm into the convolutions");
}

trainer::TriageOptions triage_options(const TriageCli& o) {
  trainer::TriageOptions t;
  t.video = o.video;
  t.run_dir = o.run;
  t.checkpoint = o.checkpoint;
  t.every_n = o.every;
  t.fps = o.fps;
  t.rule.keep = o.keep;
  t.rule.min_gap_s = o.min_gap;
  t.rule.min_visible = o.min_visible;
  t.rule.lesion_weight = o.lesion_weight;
  t.batch = o.batch;
  t.threads = o.threads;
  t.device = o.device;
  t.channels_last = o.channels_last;
  t.precision = o.precision;
  t.fold_bn = !o.no_fold;
  return t;
}

}  // namespace excap::cli
