// The demo pipeline: generates the synthetic capsule sample and runs every
// stage on it end to end (sample, stage I, stages II/III, split, pack, train,
// eval, triage). A library function so the CLI, the studio and the tests can
// all drive it; it never prints: each stage reports through `DemoProgress`.
#pragma once
#include <array>
#include <functional>
#include <map>
#include <string>

#include "common/fsutil.h"
#include "sample/synth.h"

namespace excap {

struct DemoOptions {
  fs::path dir = "excap-demo";  // output folder: absent or empty
  SynthOptions synth = [] {
    SynthOptions o;
    o.patients = 6;  // enough patients for a split grouped by patient
    return o;
  }();
  double auto_accept_iou = 0.8;
  // Training: a tiny MTCSN by default so the demo ends in minutes on a laptop
  // CPU; backbone resnet50, size 240, 30000 iterations is the paper's recipe.
  std::string backbone = "tiny";
  int size = 96;
  int iters = 2000;
  int batch = 8;
  int threads = 0;  // 0: all
};

// One report from the pipeline: a stage starts (its title), says one line of
// what it did (text without indentation), or ends (its wall time).
struct DemoEvent {
  enum class Kind { StageBegin, Line, StageEnd } kind = Kind::Line;
  std::string text;
  double seconds = 0;
};
using DemoProgress = std::function<void(const DemoEvent&)>;

// What the pipeline produced, stage by stage.
struct DemoSummary {
  fs::path project;
  long long videos = 0, video_frames = 0, extracted = 0, duplicates_skipped = 0;
  std::array<long long, 3> truth_cd{};  // ground-truth CD histogram of the extracted frames
  int auto_accepted = 0, expert_decided = 0;
  long long final_labels = 0;
  std::string split_group;                         // "patient", or "none" after the fallback
  std::map<std::string, std::size_t> split_sizes;  // subset -> frames
  int best_iter = -1;
  double best_score = 0;
  long long test_frames = 0;
  double cd_accuracy = 0, cd_f1 = 0, tissue_aAcc = 0, tissue_mIoU = 0;  // fractions
  fs::path eval_report;
  std::string triage_video;  // id of the triaged video (a test-subset patient's)
  long long triage_processed = 0, triage_kept = 0;
  fs::path triage_dir;
};

// Runs every stage into `o.dir`. Throws Error naming the file and the reason
// when a stage fails (an invalid project, training that did not finish, an
// empty test subset). `progress` may be empty.
DemoSummary run_demo(const DemoOptions& o, const DemoProgress& progress = {});

}  // namespace excap
