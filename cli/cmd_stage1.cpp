// excap import | relink | clips add/list/remove | extract
#include <unistd.h>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "common/error.h"
#include "common/text.h"
#include "stage1/stage1.h"

namespace excap::cli {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string clock_text(double seconds) {
  return format_time(std::floor(seconds)).substr(0, 8);  // hh:mm:ss
}

// "done/total frames, rate, ETA" on stderr: redrawn in place on a terminal,
// a line every few seconds when redirected to a log.
class TerminalProgress {
 public:
  explicit TerminalProgress(std::string label)
      : label_(std::move(label)), tty_(::isatty(STDERR_FILENO) != 0), t0_(Clock::now()) {}
  void operator()(long long done, long long total) {
    const double t = seconds_since(t0_);
    if (first_t_ < 0) {  // the rate counts from the first frame, not from opening the video
      first_t_ = t;
      first_done_ = done;
    }
    const bool last = done >= total;
    if (!last && t - shown_ < (tty_ ? 0.2 : 5.0)) return;
    shown_ = t;
    const double span = t - first_t_;
    const double rate = span > 0 ? (done - first_done_) / span : 0;
    std::ostringstream line;
    line << label_ << ' ' << done << '/' << total << " frames  " << std::fixed
         << std::setprecision(1) << rate << " frames/s  ";
    if (last)
      line << "done in " << clock_text(t);
    else
      line << "ETA " << (rate > 0 ? clock_text((total - done) / rate) : std::string("--:--:--"));
    std::cerr << (tty_ ? "\r" : "") << line.str() << (tty_ && !last ? "  " : "\n") << std::flush;
    if (last) finished_ = true;
  }
  ~TerminalProgress() {
    if (tty_ && shown_ > 0 && !finished_) std::cerr << "\n";
  }

 private:
  std::string label_;
  bool tty_;
  Clock::time_point t0_;
  double shown_ = 0;
  double first_t_ = -1;
  long long first_done_ = 0;
  bool finished_ = false;
};

void print_report(const ExtractReport& r) {
  std::cout << "written " << r.written << ", kept existing " << r.kept_existing
            << ", near-duplicates skipped " << r.duplicates_skipped << ", failed " << r.failed
            << "\n";
  for (const auto& w : r.warnings) std::cerr << "excap: warning: " << printable(w) << "\n";
}

const Video& video_by_id(const std::vector<Video>& videos, const std::string& id) {
  for (const auto& v : videos)
    if (v.id == id) return v;
  throw Error("--video " + printable(id),
              "no such video in this project (excap clips list shows them)");
}

void register_import(CLI::App& app, Registry& reg) {
  auto* cmd = app.add_subcommand(
      "import", "Import a video: probe, sha256, pseudonymous patient id (the name is not stored)");
  auto dir = std::make_shared<std::string>();
  auto video = std::make_shared<std::string>();
  auto patient = std::make_shared<std::string>();
  auto user = std::make_shared<std::string>("system");
  cmd->add_option("DIR", *dir, "Project folder")->required();
  cmd->add_option("VIDEO", *video, "Video file")->required();
  cmd->add_option("--patient", *patient, "Patient name (stored only as a keyed hash)")->required();
  auto* user_opt = cmd->add_option("--user", *user, "Who imports (a project user; audit log)")
                       ->check(safe_name())
                       ->capture_default_str();
  reg.add(cmd, [=] {
    Project p = Project::open(*dir);
    if (user_opt->count() > 0) require_project_user(p, *user, "--user");
    const Video v = import_video(p, *video, *patient, *user);
    std::cout << "imported " << v.id << ": " << v.width << "x" << v.height << ", "
              << printable(v.codec) << ", " << v.fps << " fps, " << v.frames << " frames ("
              << format_time(v.duration_s) << "), patient " << v.patient << "\n";
    return 0;
  });
}

void register_relink(CLI::App& app, Registry& reg) {
  auto* cmd = app.add_subcommand(
      "relink", "Find moved videos again by sha256 (a file, or a folder searched recursively)");
  auto dir = std::make_shared<std::string>();
  auto where = std::make_shared<std::string>();
  auto user = std::make_shared<std::string>("system");
  cmd->add_option("DIR", *dir, "Project folder")->required();
  cmd->add_option("VIDEO", *where, "Video file or folder holding it")->required();
  auto* user_opt = cmd->add_option("--user", *user, "Who relinks (a project user; audit log)")
                       ->check(safe_name())
                       ->capture_default_str();
  reg.add(cmd, [=] {
    Project p = Project::open(*dir);
    if (user_opt->count() > 0) require_project_user(p, *user, "--user");
    std::error_code ec;
    if (fs::is_directory(*where, ec)) {
      const auto found = relink_folder(p, *where, *user);
      for (const auto& [id, path] : found)
        std::cout << "relinked " << id << " -> " << printable(path.string()) << "\n";
      if (found.empty()) {
        std::cerr << "excap: no file under " << printable(*where) << " matches an imported video\n";
        return 1;
      }
      return 0;
    }
    const std::string id = relink_video(p, *where, *user);
    std::cout << "relinked " << id << " -> " << printable(video_source(p, id).string()) << "\n";
    return 0;
  });
}

// Both ends of a new clip lie within the video (the end is exclusive), checked
// here where the positions are read so that the message names them as given.
void check_clip_ends(const Video& v, const std::string& from, const std::string& to, long long a,
                     long long b) {
  const std::string where = "clip --from " + from + " --to " + to + " of video " + v.id;
  const std::string length =
      "the video has " + std::to_string(v.frames) + " frames (" + format_time(v.duration_s) + ")";
  if (a >= v.frames)
    throw Error(where, "the start, frame " + std::to_string(a) + ", is past the end: " + length);
  if (b > v.frames)
    throw Error(where, "the end, frame " + std::to_string(b) + ", is past the end: " + length);
}

void register_clips_add(CLI::App* clips, Registry& reg) {
  auto* cmd =
      clips->add_subcommand("add", "Add a clip; refused when it overlaps another (--merge merges)");
  auto dir = std::make_shared<std::string>();
  auto video = std::make_shared<std::string>();
  auto from = std::make_shared<std::string>();
  auto to = std::make_shared<std::string>();
  auto note = std::make_shared<std::string>();
  auto user = std::make_shared<std::string>("system");
  auto merge = std::make_shared<bool>(false);
  cmd->add_option("DIR", *dir, "Project folder")->required();
  cmd->add_option("--video", *video, "Video id")->required()->check(safe_name());
  cmd->add_option("--from", *from, "In point: hh:mm:ss.mmm or a frame number")->required();
  cmd->add_option("--to", *to, "Out point, exclusive: hh:mm:ss.mmm or a frame number")->required();
  cmd->add_option("--note", *note, "Free-text note");
  auto* user_opt = cmd->add_option("--user,--by", *user, "Who chose the clip (a project user)")
                       ->check(safe_name())
                       ->capture_default_str();
  cmd->add_flag("--merge", *merge, "Merge with overlapping clips instead of refusing");
  reg.add(cmd, [=] {
    Project p = Project::open(*dir);
    if (user_opt->count() > 0) require_project_user(p, *user, "--user");
    const auto videos = p.load_videos();
    const Video& v = video_by_id(videos, *video);
    const long long a = parse_frame_position(*from, v.fps);
    const long long b = parse_frame_position(*to, v.fps);
    check_clip_ends(v, *from, *to, a, b);
    const AddClipResult r = add_clip_ex(p, v.id, a, b, *user, *note, *merge);
    if (r.merged.empty()) {
      std::cout << "added ";
    } else {
      std::cout << "merged with";
      for (const auto& id : r.merged) std::cout << ' ' << id;
      std::cout << " into ";
    }
    std::cout << r.clip.id << ": frames [" << r.clip.start << ", " << r.clip.end
              << ") = " << format_time(r.clip.start / v.fps) << " to "
              << format_time(r.clip.end / v.fps) << "\n";
    return 0;
  });
}

void register_clips_list(CLI::App* clips, Registry& reg) {
  auto* cmd = clips->add_subcommand("list", "List clips");
  auto dir = std::make_shared<std::string>();
  auto video = std::make_shared<std::string>();
  auto as_json = std::make_shared<bool>(false);
  cmd->add_option("DIR", *dir, "Project folder")->required();
  cmd->add_option("--video", *video, "Only this video's clips")->check(safe_name());
  cmd->add_flag("--json", *as_json, "Print JSON");
  reg.add(cmd, [=] {
    Project p = Project::open(*dir);
    const auto videos = p.load_videos();
    std::map<std::string, long long> frames_per_clip;
    for (const auto& f : p.load_frames()) ++frames_per_clip[f.clip];
    nlohmann::json out = nlohmann::json::array();
    for (const auto& c : p.load_clips()) {
      if (!video->empty() && c.video != *video) continue;
      double fps = 0;
      for (const auto& v : videos)
        if (v.id == c.video) fps = v.fps;
      if (*as_json) {
        nlohmann::json j = c;
        j["frames_extracted"] = frames_per_clip[c.id];
        out.push_back(j);
        continue;
      }
      std::cout << printable(c.id) << "  video " << printable(c.video) << "  frames [" << c.start
                << ", " << c.end << ")";
      if (fps > 0)
        std::cout << "  " << format_time(c.start / fps) << " - " << format_time(c.end / fps);
      std::cout << "  extracted " << frames_per_clip[c.id] << "  by " << printable(c.by);
      if (!c.note.empty()) std::cout << "  \"" << printable(c.note) << "\"";
      std::cout << "\n";
    }
    if (*as_json) std::cout << out.dump(2) << "\n";
    return 0;
  });
}

void register_clips_remove(CLI::App* clips, Registry& reg) {
  auto* cmd = clips->add_subcommand("remove", "Remove a clip");
  auto dir = std::make_shared<std::string>();
  auto clip = std::make_shared<std::string>();
  auto drop = std::make_shared<bool>(false);
  auto user = std::make_shared<std::string>("system");
  cmd->add_option("DIR", *dir, "Project folder")->required();
  cmd->add_option("CLIP", *clip, "Clip id")->required()->check(safe_name());
  cmd->add_flag("--drop-frames", *drop, "Also delete the frames extracted from it");
  auto* user_opt = cmd->add_option("--user", *user, "Who removes it (a project user; audit log)")
                       ->check(safe_name())
                       ->capture_default_str();
  reg.add(cmd, [=] {
    Project p = Project::open(*dir);
    if (user_opt->count() > 0) require_project_user(p, *user, "--user");
    remove_clip(p, *clip, *drop, *user);
    std::cout << "removed " << *clip << "\n";
    return 0;
  });
}

void register_clips(CLI::App& app, Registry& reg) {
  CLI::App* clips = group(app, "clips", "Choose clips of interest (in/out points)");
  register_clips_add(clips, reg);
  register_clips_list(clips, reg);
  register_clips_remove(clips, reg);
}

std::string number_text(double x) {
  std::ostringstream s;
  s << x;
  return s.str();
}

// What `excap extract` was given: an option not given keeps project.json's
// setting (CLI11's count tells), a given one must lie in its range.
struct ExtractArgs {
  double fps = 0;
  int every = 0;
  double dedupe = 0;
  CLI::Option* fps_opt = nullptr;
  CLI::Option* every_opt = nullptr;
  CLI::Option* dedupe_opt = nullptr;
};

ExtractOptions checked_extract_options(const ExtractArgs& a, ExtractOptions o) {
  if (a.fps_opt->count() > 0) {
    if (!(std::isfinite(a.fps) && a.fps > 0))
      throw Error("--fps",
                  "must be a finite number of frames per second > 0, got " + number_text(a.fps));
    o.fps = a.fps;
  }
  if (a.every_opt->count() > 0) {
    if (a.every < 1)
      throw Error("--every", "must be a whole number >= 1, got " + std::to_string(a.every));
    o.every_n = a.every;
  }
  if (a.dedupe_opt->count() > 0) {
    if (!(a.dedupe >= 0 && a.dedupe <= 64))
      throw Error("--dedupe", "must be 0..64 (bits of the 64-bit dHash; 0 = off), got " +
                                  number_text(a.dedupe));
    o.dedupe = a.dedupe;
  }
  return o;
}

void register_extract(CLI::App& app, Registry& reg) {
  auto* cmd = app.add_subcommand(
      "extract",
      "Extract the frames of every clip (or one) as PNG, overlay outside the field of view "
      "blanked; exit status 3 when some frames could not be extracted");
  auto dir = std::make_shared<std::string>();
  auto opt = std::make_shared<ExtractOptions>();
  auto args = std::make_shared<ExtractArgs>();
  auto quiet = std::make_shared<bool>(false);
  cmd->add_option("DIR", *dir, "Project folder")->required();
  args->fps_opt = cmd->add_option("--fps", args->fps,
                                  "Frames per second of video time, > 0 (default: project.json)");
  args->every_opt =
      cmd->add_option("--every", args->every, "Every N-th source frame (N >= 1) instead of --fps");
  args->fps_opt->excludes(args->every_opt);
  args->dedupe_opt =
      cmd->add_option("--dedupe", args->dedupe,
                      "Skip a frame whose dHash differs from the last kept one in at most T of 64 "
                      "bits (0..64, 0 = off; default: project.json)");
  cmd->add_option("--clip", opt->clip_id, "Only this clip")->check(safe_name());
  auto* user_opt = cmd->add_option("--user", opt->user, "Who extracts (a project user; audit log)")
                       ->check(safe_name())
                       ->capture_default_str();
  cmd->add_flag("--quiet", *quiet, "No progress line");
  reg.add(cmd, [=] {
    ExtractOptions o = checked_extract_options(*args, *opt);
    Project p = Project::open(*dir);
    if (user_opt->count() > 0) require_project_user(p, o.user, "--user");
    auto progress = std::make_shared<TerminalProgress>("extract");
    if (!*quiet) o.progress = [progress](long long d, long long t) { (*progress)(d, t); };
    const ExtractReport r = extract_frames(p, o);
    print_report(r);
    return r.failed > 0 ? 3 : 0;
  });
}

}  // namespace

void register_stage1_commands(CLI::App& app, Registry& reg) {
  register_import(app, reg);
  register_relink(app, reg);
  register_clips(app, reg);
  register_extract(app, reg);
}

}  // namespace excap::cli
