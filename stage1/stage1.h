// Stage I of the pipeline: import videos (pseudonymised), choose clips,
// extract frames. The CLI (cli/cmd_stage1.cpp), the studio's Clips workspace
// and the demo all call these functions.
#pragma once
#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "media/frameops.h"
#include "store/project.h"

namespace excap {

using ProgressFn = std::function<void(long long done, long long total)>;

// ---- import ----

// The pseudonymous patient id: "p-" + the first 16 hex digits of
// HMAC-SHA256(per-project secret from local.json, name). Throws when the
// project has no secret.
std::string patient_pseudonym(const Project& p, const std::string& patient_name);

// Probes the video (fps, frame count, size, duration, codec), fingerprints it
// (sha256) and records it in videos.json with the patient's pseudonym; the
// source path goes to local.json only. The real name is stored nowhere.
// Throws Error when the file is already imported (same sha256) or cannot be
// decoded (with the reason). The frame count is the container's (as ffprobe
// reports it without -count_frames); a stream that ends early is caught and
// reported by extract_frames. Video ids are sequential (v001, v002, ...), never
// the file name, which may carry the patient's name. The field of view is
// detected here, once, and kept in videos.json (Video::fov); a video whose
// disc is not found is imported without one.
Video import_video(const Project& p, const fs::path& video_path, const std::string& patient_name,
                   const std::string& user);

// Finds the imported video with the same sha256 as `video_path` and points
// its source in local.json there. Returns the video id; throws Error when no
// imported video has that content.
std::string relink_video(const Project& p, const fs::path& video_path, const std::string& user);

// Hashes every regular file under `folder` (recursively) whose extension
// looks like a video and relinks each one that matches an imported video.
// Returns (video id, new path) for each relinked video.
std::vector<std::pair<std::string, fs::path>> relink_folder(const Project& p,
                                                            const fs::path& folder,
                                                            const std::string& user);

// The source path of a video from local.json; throws Error naming the video
// when it is unknown or the file is gone (suggesting `excap relink`).
fs::path video_source(const Project& p, const std::string& video_id);

// ---- clips ----

// "hh:mm:ss.mmm", "mm:ss", "ss.mmm" (anything with ':' or '.') is a time,
// converted to the frame shown at that time; a plain integer is a frame
// number. Throws Error for anything else.
long long parse_frame_position(const std::string& text, double fps);
std::string format_time(double seconds);  // "hh:mm:ss.mmm"

// Adds the clip [start, end) of source frames. A clip reaching past the end
// of the video, empty, or overlapping an existing clip is refused with a
// message naming the clip it overlaps (use merge_overlaps to merge instead).
Clip add_clip(const Project& p, const std::string& video_id, long long start, long long end,
              const std::string& by, const std::string& note);

struct AddClipResult {
  Clip clip;                        // the clip as stored (merged extent when merged)
  std::vector<std::string> merged;  // ids of the existing clips it absorbed
};
// Like add_clip, but when `merge_overlaps` is set, overlapping clips of the
// same video (touching ones are not overlapping) are merged into one (the first absorbed clip's id
// is kept so its frames keep their clip) and the result says which.
AddClipResult add_clip_ex(const Project& p, const std::string& video_id, long long start,
                          long long end, const std::string& by, const std::string& note,
                          bool merge_overlaps);

// Removes a clip. When frames were already extracted from it, refuses unless
// `drop_frames`, which also removes their records and PNG files.
void remove_clip(const Project& p, const std::string& clip_id, bool drop_frames,
                 const std::string& user);

// Replaces the note of clip `clip_id` (audited as `user`'s).
void set_clip_note(const Project& p, const std::string& clip_id, const std::string& note,
                   const std::string& user);

// ---- extraction ----

struct ExtractOptions {
  double fps = 0;       // 0: the project's setting
  int every_n = 0;      // 0: the project's setting; when > 0 it wins over fps
  double dedupe = -1;   // -1: the project's setting; 0 = off; else max dHash distance
  std::string clip_id;  // empty: every clip
  std::string user = "system";
  ProgressFn progress;
  const std::atomic<bool>* cancel = nullptr;
};

struct ExtractReport {
  long long written = 0, kept_existing = 0, duplicates_skipped = 0, failed = 0;
  std::vector<std::string> warnings;
};

// Extracts the frames of every clip (or of one) as frames/<id>.png with the
// overlay outside the field of view blanked, recording provenance in
// frames.json. Idempotent; frames.json is saved atomically in batches so an
// interruption leaves a consistent project that the next run completes.
// Frames are decoded strictly in order (no container seek), so frame k of a
// clip is the k-th frame of a plain sequential read whatever else is
// extracted. A video that ends early yields what it could decode and a
// warning naming where it stopped; frames a corrupt stretch made the decoder
// drop are counted as failed and named, and later frames keep their true
// numbers from the timestamps (MKV/MP4; AVI has none, see the warning).
// Decoding runs on the calling thread, PNG encoding on worker threads; the
// PNGs are flushed to disk (syncfs) before each frames.json batch names them.
// Dedupe compares each frame's dHash with the last kept frame of the same clip
// (after blanking): a Hamming distance <= the threshold skips it.
ExtractReport extract_frames(const Project& p, const ExtractOptions& opt);

// The source frame indices a clip yields at `fps` (or every `every_n`-th).
// Frame k of a clip is start + round(k * video_fps / fps): it depends only on
// the clip and the rate, never on other clips.
std::vector<long long> clip_frame_indices(const Clip& c, double video_fps, double fps, int every_n);

// The field of view used for a video: the manual override of project.json
// when set, else the one stored at import (videos.json; Error naming the file
// and the video when it is unsound), else detected from frames spread over
// the video at exact indices (media/video.h sample_frames), so a file always
// gets the same one, in any project and however busy the machine is. It
// never writes: videos.json has one writer, import.
FieldOfView video_fov(const Project& p, const Video& v);

}  // namespace excap
