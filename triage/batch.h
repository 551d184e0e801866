// Triage of many videos: the input list (files, folders, list files), the
// shard a process owns (--shard I/N, torchrun's RANK/WORLD_SIZE or SLURM's
// SLURM_PROCID/SLURM_NTASKS), per-video resumption and the merged summary.
// The layout and the rules are documented in docs/triage.md.
//
// OUT/videos.json             the manifest: every video, its folder and its shard
// OUT/videos/<key>/...        one video's outputs (triage/triage.h), summary.json last
// OUT/summary.json            the merged summary, once every video is complete
#pragma once
#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/fsutil.h"
#include "common/launch.h"
#include "triage/triage.h"

namespace excap::trainer {

// Which share of the videos this process owns: video i (in sorted order) when i % count == index.
struct ShardSpec {
  int index = 0, count = 1;
  int local_rank = -1;                    // LOCAL_RANK / SLURM_LOCALID, -1 when not launched so
  std::string source = "single process";  // where the spec came from, for messages
};

// "I/N" with whole numbers 0 <= I < N; throws Error("--shard", ...) otherwise.
ShardSpec parse_shard(const std::string& text);

// The launch environment reader is common/launch.h's, shared with training.
using excap::EnvLookup;
using excap::process_environment;

// The shard of this process: `cli` (--shard, may be empty) first, else RANK/WORLD_SIZE,
// else SLURM_PROCID/SLURM_NTASKS, else 0/1. A launcher's world of more than one process
// that disagrees with --shard is an error; a world of one (a job-array task) is not.
ShardSpec resolve_shard(const std::string& cli, const EnvLookup& env);

// The device a shard uses: "auto" or "cuda" with a local rank and CUDA becomes
// cuda:LOCAL_RANK (checked against the device count); anything else is kept.
std::string shard_device(const std::string& requested, int local_rank, bool cuda_available,
                         int cuda_devices);

// Video file name extensions a folder is searched for (lower case, with the dot).
const std::vector<std::string>& video_extensions();

// Every video named by `inputs`: files as given, folders searched recursively for
// video_extensions(), and list files (.txt, .lst, .list: one path per line, '#'
// comments, relative to the list's folder). Absolute, deduplicated, sorted by path.
std::vector<fs::path> collect_videos(const std::vector<std::string>& inputs);

// Whether an input names a list file.
bool is_list_file(const fs::path& p);

struct BatchVideo {
  fs::path path;
  std::string key;  // its folder under OUT/videos/: the file name, plus a hash when two share it
  int shard = 0;
};

// The sorted videos with their keys and owning shards (sorted index modulo `count`).
std::vector<BatchVideo> plan_batch(const std::vector<fs::path>& sorted_videos, int count);

nlohmann::json manifest_json(const std::vector<BatchVideo>& videos, int count);
std::vector<BatchVideo> read_manifest(const fs::path& out_dir);

// Why a video's outputs are not complete, or "" when they are: summary.json present,
// readable, for this video and these weights (empty: any), and not interrupted.
std::string incomplete_reason(const fs::path& video_dir, const fs::path& video,
                              const std::string& weights = "");

// p(clear) over the processed frames: count, mean, min, quartiles, max, share >= 0.5.
nlohmann::json p_clear_stats(const std::vector<FrameScore>& frames);

enum class VideoStatus { Triaged, Skipped, Failed, Interrupted, OtherShard };
const char* status_name(VideoStatus s);

struct BatchOptions {
  std::vector<std::string> inputs;
  fs::path out;
  ShardSpec shard;
  TriageOptions triage;                         // everything but the video
  std::function<void(const std::string&)> log;  // one line per event (skip, start, done, error)
};

struct BatchVideoResult {
  BatchVideo video;
  VideoStatus status = VideoStatus::OtherShard;
  std::string message;  // the error, or why a video was (re)done
  long long processed = 0, kept = 0;
  double wall_s = 0;
};

struct BatchResult {
  std::vector<BatchVideoResult> videos;  // every video of the list, this shard's and others'
  bool interrupted = false;
  bool merged = false;               // OUT/summary.json written (every video complete)
  std::vector<std::string> missing;  // videos not complete yet when this shard finished
  int count(VideoStatus s) const;
};

// Triages this shard's videos that are not complete, then merges when all are.
BatchResult run_batch(const BatchOptions& options);

// The merged summary over every video of the manifest; throws Error listing the
// incomplete videos when some are.
nlohmann::json merge_summaries(const fs::path& out_dir, const std::vector<BatchVideo>& videos);

// merge_summaries written atomically to OUT/summary.json; returns its path.
fs::path write_merged_summary(const fs::path& out_dir, const std::vector<BatchVideo>& videos);

}  // namespace excap::trainer
