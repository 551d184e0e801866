// The synthetic labeling world shared by `excap bench prelabel-effort` and
// `excap bench active-learning`: the synthetic sample (sample/sample.h) with
// pre-labels switched on, an oracle expert whose final labels are the ground
// truth itself, and the split / pack / train / score / pre-label steps run on
// explicit frame lists through the same library calls as the commands.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/fsutil.h"
#include "curation/adjudication.h"
#include "sample/synth.h"
#include "store/project.h"

namespace excap::trainer {

using BenchLog = std::function<void(const std::string&)>;

// The small model both benchmarks train: a tiny MTCSN at a small input size,
// trained for a fixed number of iterations without a validation subset (the
// latest checkpoint is the model used).
struct LabelModelOptions {
  std::string backbone = "tiny";
  int size = 64;
  int iters = 300;
  int batch = 8;
  int threads = 0;  // 0: all
  std::string device = "cpu";
};

struct LabelWorld {
  fs::path root;       // the sample's project
  fs::path truth_dir;  // the sample's truth/ (masks and truth.json)
  TruthSource truth;
  std::vector<Frame> frames;          // frames.json order
  std::vector<std::string> patients;  // pseudonymous patient ids, in video order
};

// Writes the synthetic sample into `out` (absent or empty), turns the
// project's pre-label setting on as its expert, and loads the frame list.
LabelWorld make_label_world(const fs::path& out, const SynthOptions& synth, const BenchLog& log);

// The frames of the given patients, frames.json order.
std::vector<std::string> frames_of(const LabelWorld& w, const std::vector<std::string>& patients);

// The truth of `frame`; throws Error naming the truth folder when it has none.
TruthLabel truth_of(const LabelWorld& w, const std::string& frame);

// The oracle expert: writes final/<id>.png (the truth mask) and final/<id>.json
// (the truth CD, source "repainted", expert "expert") for every id not yet final.
void oracle_label(const LabelWorld& w, const std::vector<std::string>& ids);

// Writes splits/<name>.json with exactly these subsets (replacing it).
void save_frame_split(const LabelWorld& w, const std::string& name,
                      const std::map<std::string, std::vector<std::string>>& subsets);

// Packs the split at m.size, then trains runs/<run> from scratch on its
// "train" subset (seed `seed`). Throws Error when training does not finish.
void train_on_split(const LabelWorld& w, const std::string& split, const std::string& run,
                    const LabelModelOptions& m, std::uint64_t seed);

struct TestScores {
  double mIoU = 0, cd_accuracy = 0;  // fractions
  int frames = 0;
};
// `excap eval` of the run's latest checkpoint on its split's "test" subset
// (segmentation scored at each frame's own size, as eval does by default).
TestScores score_test(const LabelWorld& w, const std::string& run, const LabelModelOptions& m);

// `excap prelabel DIR --run RUN --checkpoint latest --frames F` as user "expert".
void prelabel_frames(const LabelWorld& w, const std::string& run, const std::string& frames,
                     const LabelModelOptions& m);

// The settings both benchmarks record: the sample's size and seed and the
// model's, as one JSON object (`sample_seed` is the sample's seed).
nlohmann::json world_settings_json(const SynthOptions& synth, const LabelModelOptions& m);

// Mean and sample standard deviation (0 for fewer than two values).
double mean_of(const std::vector<double>& v);
double sd_of(const std::vector<double>& v);

}  // namespace excap::trainer
