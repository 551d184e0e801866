// The synthetic capsule sample used by `excap synth`, `excap demo` and the
// tests: videos, their ground truth, and a ready project that went through
// stage I (import, one clip per video, extraction) and stage II (every frame
// assigned to two simulated annotators, both of whom labeled it).
//
// Layout of OUT:
//   videos/patient_<n>.mp4      one video per patient (.avi when mp4v is unavailable)
//   truth/<frame id>.png        ground-truth CECD mask of every source frame
//   truth/truth.json            CD per frame id, the CD rule, the options
//   project/                    the project (users a, b: annotators; expert: expert)
#pragma once
#include <array>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/fsutil.h"
#include "sample/synth.h"

namespace excap {

// Stage I settings the sample's project uses: 2 frames per second of video,
// and near-duplicates dropped (dHash distance <= 1: the stretches where the
// capsule sits still, and the slowest drifts; at 3 most slow drifts go too).
constexpr double kSampleExtractFps = 2.0;
constexpr double kSampleDedupe = 1.0;

struct SamplePatient {
  int patient = 0;
  std::string name;      // the fake name burned into the video overlay
  fs::path video;        // the file under OUT/videos
  std::string video_id;  // its id in the project
  std::string clip_id;
  long long video_frames = 0;
  long long extracted = 0;
};

struct SampleSummary {
  fs::path out, project, truth;
  std::vector<SamplePatient> patients;
  long long video_frames = 0;  // rendered, all videos
  long long extracted = 0;     // frames in the project
  long long duplicates_skipped = 0;
  std::array<long long, 3> truth_cd{};      // CD histogram over the extracted frames
  std::map<std::string, long long> labels;  // user -> labels written
  double cd_agreement = 0;                  // share of frames where a and b chose the same CD
  double mask_agreement = 0;                // mean pixel agreement of a's and b's masks
};

// Writes the whole sample into `out`, which must be absent or an empty
// folder (otherwise Error, nothing written). `log` (may be empty) receives
// one line per step. Deterministic for given options, but for the project's
// timestamps and its random pseudonym secret.
SampleSummary write_sample(const fs::path& out, const SynthOptions& opt,
                           std::function<void(const std::string&)> log = {});

}  // namespace excap
