// Stage I: import (pseudonymised) and clips. Extraction is in stage1_extract.cpp.
#include "stage1/stage1.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <future>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/ids.h"
#include "common/sha256.h"
#include "media/video.h"
#include "store/change.h"

namespace excap {

using nlohmann::json;

namespace {

// Trimmed, inner whitespace collapsed, ASCII case-folded: "Jane  Doe " and
// "jane doe" are the same patient.
std::string normalise_name(const std::string& name) {
  std::string out;
  bool space = false;
  for (unsigned char c : name) {
    if (std::isspace(c)) {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += static_cast<char>(std::tolower(c));
  }
  return out;
}

std::string next_video_id(const std::vector<Video>& videos) {
  std::set<std::string> used;
  for (const auto& v : videos) used.insert(v.id);
  // Sequential ids, never the file name: a file name may carry the patient's name.
  for (int n = static_cast<int>(videos.size()) + 1;; ++n) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "v%03d", n);
    if (!used.count(buf)) return buf;
  }
}

const Video& find_video(const std::vector<Video>& videos, const std::string& id) {
  for (const auto& v : videos)
    if (v.id == id) return v;
  throw Error("video '" + id + "'", "not in videos.json (see excap info)");
}

fs::path absolute_path(const fs::path& p) {
  std::error_code ec;
  fs::path a = fs::weakly_canonical(fs::absolute(p), ec);
  return ec ? fs::absolute(p) : a;
}

// local.json with `video_id`'s source set to `path` (read under the lock).
json with_source(const Project& p, const std::string& video_id, const fs::path& path) {
  json local = p.load_local();
  if (!local.contains("sources") || !local["sources"].is_object())
    local["sources"] = json::object();
  local["sources"][video_id] = absolute_path(path).string();
  return local;
}

void relink(const Project& p, const std::string& video_id, const fs::path& path,
            const std::string& user) {
  const ProjectLock lock = ProjectLock::acquire(p.root(), "relink");
  Change change(lock, p, user, "relink_video");
  change.save_local(with_source(p, video_id, path));
  change.commit(json{{"video", video_id}});
}

StoredFov to_stored(const FieldOfView& fov) {
  StoredFov s;
  s.kind = fov.kind == FieldOfView::Circle ? "circle" : "polygon";
  if (fov.kind == FieldOfView::Circle) s.cx = fov.cx, s.cy = fov.cy, s.r = fov.r;
  for (const auto& pt : fov.polygon) s.points.emplace_back(pt.x, pt.y);
  return s;
}

FieldOfView from_stored(const Project& p, const Video& v) {
  const std::string why = stored_fov_problem(*v.fov, v.width, v.height);
  if (!why.empty())
    throw Error((p.root() / "videos.json").string(),
                "video " + v.id + ": " + why + " (fix or remove its \"fov\" entry)");
  FieldOfView fov;
  fov.kind = v.fov->kind == "circle" ? FieldOfView::Circle : FieldOfView::Polygon;
  if (fov.kind == FieldOfView::Circle) {
    fov.cx = v.fov->cx, fov.cy = v.fov->cy, fov.r = v.fov->r;
    return fov;
  }
  for (const auto& [x, y] : v.fov->points)
    fov.polygon.emplace_back(static_cast<float>(x), static_cast<float>(y));
  return fov;
}

// A disc that is not found leaves the video without a stored fov: a manual
// override in project.json may cover it, and extraction reports the failure.
std::optional<StoredFov> detect_at_import(const fs::path& path, long long frames) {
  try {
    return to_stored(detect_fov(sample_frames(path, 16, frames)));
  } catch (const Error&) {
    return std::nullopt;
  }
}

bool looks_like_video(const fs::path& p) {
  static const std::set<std::string> exts = {".mp4", ".m4v",  ".mov", ".avi", ".mkv", ".webm",
                                             ".mpg", ".mpeg", ".wmv", ".flv", ".ts",  ".mts"};
  std::string e = p.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return std::tolower(c); });
  return exts.count(e) > 0;
}

}  // namespace

// ---- import ----

std::string patient_pseudonym(const Project& p, const std::string& patient_name) {
  const std::string name = normalise_name(patient_name);
  if (name.empty()) throw Error("patient", "the patient name is empty");
  const json local = p.load_local();
  const std::string secret = local.value("pseudonym_secret", "");
  if (secret.size() < 16)
    throw Error((p.root() / "local.json").string(),
                "no pseudonym secret: this project cannot pseudonymise patients");
  return "p-" + hmac_sha256_hex(secret, name).substr(0, 16);
}

// Hashing reads to the end of the file: a device (/dev/zero), a pipe or a
// folder would never end or means nothing, so only a regular file (after
// following symlinks) is read. A missing file is left to the prober's message.
static void require_regular_file(const fs::path& path) {
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (!fs::exists(st)) return;
  if (!fs::is_regular_file(st))
    throw Error(path.string(),
                "is not a regular file (a device, pipe or folder is never a video file)");
}

Video import_video(const Project& p, const fs::path& video_path, const std::string& patient_name,
                   const std::string& user) {
  require_safe_id(user, "user");
  const std::string pseudonym = patient_pseudonym(p, patient_name);
  require_regular_file(video_path);
  // Fingerprint and probe at the same time: one reads bytes, the other decodes.
  auto sha = std::async(std::launch::async, [&] { return sha256_file(video_path); });
  VideoInfo info;
  try {
    info = probe_video(video_path, false);
  } catch (...) {
    sha.wait();
    throw;
  }
  const std::string digest = sha.get();
  // Once, here, before the lock: the sampling pass decodes up to the whole video (media/video.h).
  const std::optional<StoredFov> fov = detect_at_import(video_path, info.frames);
  const ProjectLock lock = ProjectLock::acquire(p.root(), "import");
  std::vector<Video> videos = p.load_videos();
  for (const auto& v : videos)
    if (v.sha256 == digest)
      throw Error(video_path.string(),
                  "already imported as video " + v.id + " (same sha256); a file is imported once");
  Video v;
  v.id = next_video_id(videos);
  v.patient = pseudonym;
  v.sha256 = digest;
  v.fps = info.fps;
  v.frames = info.frames;
  v.width = info.width;
  v.height = info.height;
  v.codec = info.codec;
  v.duration_s = info.duration_s;
  v.imported = now_iso8601();
  v.fov = fov;
  Change change(lock, p, user, "import_video");
  change.save_local(with_source(p, v.id, video_path));  // the video and its source land together
  videos.push_back(v);
  change.save_videos(videos);
  change.commit(
      json{{"video", v.id}, {"patient", v.patient}, {"sha256", v.sha256}, {"frames", v.frames}});
  return v;
}

std::string relink_video(const Project& p, const fs::path& video_path, const std::string& user) {
  require_regular_file(video_path);
  const std::string digest = sha256_file(video_path);
  for (const auto& v : p.load_videos()) {
    if (v.sha256 != digest) continue;
    relink(p, v.id, video_path, user);
    return v.id;
  }
  throw Error(video_path.string(), "matches no imported video (sha256 " + digest.substr(0, 12) +
                                       "...); import it with excap import");
}

std::vector<std::pair<std::string, fs::path>> relink_folder(const Project& p,
                                                            const fs::path& folder,
                                                            const std::string& user) {
  std::vector<std::pair<std::string, fs::path>> out;
  std::map<std::string, std::string> by_sha;
  for (const auto& v : p.load_videos()) by_sha[v.sha256] = v.id;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(folder, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file() || !looks_like_video(it->path())) continue;
    auto hit = by_sha.find(sha256_file(it->path()));
    if (hit == by_sha.end()) continue;
    relink(p, hit->second, it->path(), user);
    out.emplace_back(hit->second, absolute_path(it->path()));
  }
  if (ec) throw Error(folder.string(), "cannot scan folder: " + ec.message());
  return out;
}

fs::path video_source(const Project& p, const std::string& video_id) {
  const json local = p.load_local();
  const std::string where = "video " + video_id;
  if (!local.contains("sources") || !local["sources"].contains(video_id) ||
      !local["sources"][video_id].is_string())
    throw Error(where, "no source file recorded in local.json; run excap relink DIR FILE");
  const fs::path path = local["sources"][video_id].get<std::string>();
  std::error_code ec;
  if (!fs::exists(path, ec))
    throw Error(where, "source file " + path.string() +
                           " is gone; if it moved, run excap relink DIR NEW_PATH");
  return path;
}

// ---- clips ----

long long parse_frame_position(const std::string& text, double fps) {
  const std::string where = "position '" + text + "'";
  if (text.empty()) throw Error(where, "empty");
  const bool plain =
      std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); });
  if (plain) {
    try {
      return std::stoll(text);
    } catch (const std::exception&) {
      throw Error(where, "frame number out of range");
    }
  }
  // hh:mm:ss.mmm, mm:ss(.mmm) or ss.mmm
  double seconds = 0;
  std::size_t pos = 0;
  int parts = 0;
  while (pos <= text.size()) {
    const std::size_t colon = text.find(':', pos);
    const std::string part =
        text.substr(pos, colon == std::string::npos ? std::string::npos : colon - pos);
    const bool last = colon == std::string::npos;
    const bool ok =
        !part.empty() &&
        std::all_of(part.begin(), part.end(),
                    [&](unsigned char c) { return std::isdigit(c) || (last && c == '.'); }) &&
        std::count(part.begin(), part.end(), '.') <= 1 && part != ".";
    if (!ok || ++parts > 3)
      throw Error(where, "expected hh:mm:ss.mmm, mm:ss, seconds, or a frame number");
    const double v = std::stod(part);
    seconds = seconds * 60 + v;
    if (last) break;
    pos = colon + 1;
  }
  if (!(fps > 0)) throw Error(where, "the video has no frame rate to convert a time");
  // The frame on screen at that time; the epsilon absorbs decimal rounding.
  // Beyond 9e18 frames (or infinite) the conversion to an integer is undefined.
  const double frame = std::floor(seconds * fps + 1e-6);
  if (!(frame < 9e18)) throw Error(where, "time out of range");
  return static_cast<long long>(frame);
}

std::string format_time(double seconds) {
  if (seconds < 0) seconds = 0;
  const long long ms = std::llround(seconds * 1000);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02lld:%02lld:%02lld.%03lld", ms / 3600000, ms / 60000 % 60,
                ms / 1000 % 60, ms % 1000);
  return buf;
}

static std::string next_clip_id(const std::vector<Clip>& clips, const std::string& video_id) {
  std::set<std::string> used;
  for (const auto& c : clips) used.insert(c.id);
  for (int n = 1;; ++n) {
    const std::string id = video_id + "-c" + std::to_string(n);
    if (!used.count(id)) return id;
  }
}

AddClipResult add_clip_ex(const Project& p, const std::string& video_id, long long start,
                          long long end, const std::string& by, const std::string& note,
                          bool merge_overlaps) {
  require_safe_id(by, "user");
  const ProjectLock lock = ProjectLock::acquire(p.root(), "clips add");
  const std::vector<Video> videos = p.load_videos();
  const Video& v = find_video(videos, video_id);
  const std::string where =
      "clip [" + std::to_string(start) + ", " + std::to_string(end) + ") of video " + video_id;
  if (start < 0) throw Error(where, "starts before the first frame");
  if (end <= start) throw Error(where, "is empty: the end must come after the start");
  if (end > v.frames)
    throw Error(where, "runs past the end of the video (" + std::to_string(v.frames) + " frames, " +
                           format_time(v.duration_s) + ")");
  std::vector<Clip> clips = p.load_clips();
  std::vector<std::size_t> overlapping;
  for (std::size_t i = 0; i < clips.size(); ++i)
    if (clips[i].video == video_id && clips[i].start < end && start < clips[i].end)
      overlapping.push_back(i);
  AddClipResult result;
  if (overlapping.empty()) {
    Clip c{next_clip_id(clips, video_id), video_id, start, end, by, note};
    clips.push_back(c);
    Change change(lock, p, by, "add_clip");
    change.save_clips(clips);
    change.commit(json{{"clip", c.id}, {"video", video_id}, {"start", start}, {"end", end}});
    result.clip = c;
    return result;
  }
  if (!merge_overlaps) {
    const Clip& o = clips[overlapping.front()];
    throw Error(where, "refused: overlaps clip " + o.id + " [" + std::to_string(o.start) + ", " +
                           std::to_string(o.end) + ") (" + format_time(o.start / v.fps) + " to " +
                           format_time(o.end / v.fps) +
                           "); a frame belongs to one clip. Choose "
                           "other in/out points, or add with --merge to merge them into one clip");
  }
  // Merge: keep the earliest overlapping clip's id so its frames keep their clip.
  std::sort(overlapping.begin(), overlapping.end(),
            [&](std::size_t a, std::size_t b) { return clips[a].start < clips[b].start; });
  Clip merged = clips[overlapping.front()];
  std::set<std::string> absorbed;
  for (std::size_t i : overlapping) {
    merged.start = std::min(merged.start, clips[i].start);
    merged.end = std::max(merged.end, clips[i].end);
    if (clips[i].id != merged.id) {
      absorbed.insert(clips[i].id);
      if (!clips[i].note.empty()) merged.note += (merged.note.empty() ? "" : "; ") + clips[i].note;
    }
    result.merged.push_back(clips[i].id);
  }
  merged.start = std::min(merged.start, start);
  merged.end = std::max(merged.end, end);
  if (!note.empty()) merged.note += (merged.note.empty() ? "" : "; ") + note;
  Change change(lock, p, by, "merge_clip");
  if (!absorbed.empty()) {
    std::vector<Frame> frames = p.load_frames();
    bool changed = false;
    for (auto& f : frames)
      if (absorbed.count(f.clip)) f.clip = merged.id, changed = true;
    if (changed) change.save_frames(frames);
  }
  std::vector<Clip> kept;
  for (auto& c : clips) {
    if (absorbed.count(c.id)) continue;
    kept.push_back(c.id == merged.id ? merged : c);
  }
  change.save_clips(kept);
  change.commit(json{{"clip", merged.id},
                     {"video", video_id},
                     {"start", merged.start},
                     {"end", merged.end},
                     {"merged", result.merged}});
  result.clip = merged;
  return result;
}

Clip add_clip(const Project& p, const std::string& video_id, long long start, long long end,
              const std::string& by, const std::string& note) {
  return add_clip_ex(p, video_id, start, end, by, note, false).clip;
}

void remove_clip(const Project& p, const std::string& clip_id, bool drop_frames,
                 const std::string& user) {
  require_safe_id(user, "user");
  const ProjectLock lock = ProjectLock::acquire(p.root(), "clips remove");
  std::vector<Clip> clips = p.load_clips();
  auto it =
      std::find_if(clips.begin(), clips.end(), [&](const Clip& c) { return c.id == clip_id; });
  if (it == clips.end()) throw Error("clip '" + clip_id + "'", "not in clips.json");
  std::vector<Frame> frames = p.load_frames();
  std::vector<Frame> rest, gone;
  for (auto& f : frames) (f.clip == clip_id ? gone : rest).push_back(f);
  if (!gone.empty()) {
    if (!drop_frames)
      throw Error("clip '" + clip_id + "'", std::to_string(gone.size()) +
                                                " frames were extracted from it; remove with "
                                                "--drop-frames to delete them too");
    const auto assignments = p.load_assignments();
    for (const auto& f : gone)
      if (assignments.count(f.id))
        throw Error("clip '" + clip_id + "'", "frame " + f.id +
                                                  " is assigned to annotators; its labels would "
                                                  "be orphaned, so the clip stays");
  }
  Change change(lock, p, user, "remove_clip");
  if (!gone.empty()) change.save_frames(rest);
  clips.erase(it);
  change.save_clips(clips);
  for (const auto& f : gone) change.remove(p.frame_path(f.id));
  change.commit(json{{"clip", clip_id}, {"frames_removed", gone.size()}});
}

void set_clip_note(const Project& p, const std::string& clip_id, const std::string& note,
                   const std::string& user) {
  require_safe_id(user, "user");
  const ProjectLock lock = ProjectLock::acquire(p.root(), "clip note");
  std::vector<Clip> clips = p.load_clips();
  auto it =
      std::find_if(clips.begin(), clips.end(), [&](const Clip& c) { return c.id == clip_id; });
  if (it == clips.end()) throw Error("clip '" + clip_id + "'", "not in clips.json");
  it->note = note;
  Change change(lock, p, user, "clip_note");
  change.save_clips(clips);
  change.commit(json{{"clip", clip_id}});
}

// ---- frame selection and field of view ----

std::vector<long long> clip_frame_indices(const Clip& c, double video_fps, double fps,
                                          int every_n) {
  std::vector<long long> out;
  if (every_n > 0) {
    for (long long i = c.start; i < c.end; i += every_n) out.push_back(i);
    return out;
  }
  if (!(fps > 0)) throw Error("extraction", "neither a frame rate nor every-N is set");
  if (!(video_fps > 0)) throw Error("clip " + c.id, "the video has no frame rate");
  if (fps >= video_fps) {
    for (long long i = c.start; i < c.end; ++i) out.push_back(i);
    return out;
  }
  // Output tick k at clip time k/fps takes the nearest source frame.
  const double step = video_fps / fps;
  for (long long k = 0;; ++k) {
    const long long i = c.start + std::llround(k * step);
    if (i >= c.end) break;
    out.push_back(i);
  }
  return out;
}

FieldOfView video_fov(const Project& p, const Video& v) {
  const FovOverride& o = p.meta().extraction.fov;
  FieldOfView fov;
  if (o.mode == "circle") {
    fov.kind = FieldOfView::Circle;
    fov.cx = o.cx;
    fov.cy = o.cy;
    fov.r = o.r;
    return fov;
  }
  if (o.mode == "polygon") {
    fov.kind = FieldOfView::Polygon;
    for (const auto& [x, y] : o.polygon)
      fov.polygon.emplace_back(static_cast<float>(x), static_cast<float>(y));
    return fov;
  }
  if (v.fov) return from_stored(p, v);
  // Detected, not stored: videos.json keeps import as its one writer, so an
  // extraction or triage never races an import over it (a lost update).
  const fs::path src = video_source(p, v.id);
  try {
    return detect_fov(sample_frames(src, 16, v.frames));
  } catch (const Error& e) {
    throw Error("video " + v.id, "field of view: " + e.reason());
  }
}

}  // namespace excap
