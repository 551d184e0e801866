#include "annotator/ui/clips_workspace.h"

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "annotator/ui/clips_panels.h"
#include "stage1/stage1.h"

namespace excap::studio {

ClipsWorkspace::ClipsWorkspace(const fs::path& project, std::string user, StudioSettings& settings)
    : project_(Project::open(project)),
      user_(std::move(user)),
      settings_(settings),
      list_panel_(std::make_unique<ClipListPanel>(*this)),
      player_panel_(std::make_unique<PlayerPanel>(*this)),
      extract_panel_(std::make_unique<ExtractPanel>(*this)) {
  videos_ = project_.load_videos();
  reload_clips();
  if (!videos_.empty()) open_video(0);
}

ClipsWorkspace::~ClipsWorkspace() = default;

const Video* ClipsWorkspace::video() const {
  return video_ >= 0 ? &videos_[static_cast<std::size_t>(video_)] : nullptr;
}

void ClipsWorkspace::reload_clips() {
  try {
    clips_ = project_.load_clips();
  } catch (const std::exception& e) {
    message_ = e.what();
  }
}

void ClipsWorkspace::select_video(int index) { pending_video_ = index; }

void ClipsWorkspace::apply_queued() {
  if (pending_video_ >= 0 && pending_video_ != video_) open_video(pending_video_);
  pending_video_ = -1;
}

void ClipsWorkspace::open_video(int index) {
  cursor_.reset();
  video_ = index;
  position_ = 0;
  shown_ = -1;
  in_ = out_ = -1;
  playing_ = false;
  selected_clip_.clear();
  const Video& v = videos_[static_cast<std::size_t>(index)];
  try {
    cursor_ = std::make_unique<VideoCursor>(video_source(project_, v.id), v.frames);
    cursor_->request(0);
    message_.clear();
  } catch (const std::exception& e) {
    message_ = e.what();
  }
}

void ClipsWorkspace::add_commands(CommandList& c) {
  commands_ = &c;
  add_playback(c);
  add_clip_marks(c);
}

void ClipsWorkspace::add_playback(CommandList& c) {
  auto has_video = [this] { return cursor_ != nullptr; };
  c.add({"clips.play", "Playback", "Play / pause", parse_shortcut("Space"),
         "Play or pause the video", [this] { toggle_play(); }, has_video,
         [this] { return playing_; }});
  c.add({"clips.step_back",
         "Playback",
         "Previous frame",
         parse_shortcut("Left"),
         "One frame back",
         [this] { step(-1); },
         has_video,
         {}});
  c.add({"clips.step_fwd",
         "Playback",
         "Next frame",
         parse_shortcut("Right"),
         "One frame forward",
         [this] { step(1); },
         has_video,
         {}});
  c.add({"clips.sec_back",
         "Playback",
         "Back 1 s",
         parse_shortcut("Shift+Left"),
         "One second back",
         [this] { step(-static_cast<long long>(std::lround(cursor_->fps()))); },
         has_video,
         {}});
  c.add({"clips.sec_fwd",
         "Playback",
         "Forward 1 s",
         parse_shortcut("Shift+Right"),
         "One second forward",
         [this] { step(static_cast<long long>(std::lround(cursor_->fps()))); },
         has_video,
         {}});
  c.add({"clips.start",
         "Playback",
         "Go to start",
         parse_shortcut("Home"),
         "First frame",
         [this] { seek(0); },
         has_video,
         {}});
}

void ClipsWorkspace::add_clip_marks(CommandList& c) {
  auto has_video = [this] { return cursor_ != nullptr; };
  c.add({"clips.in",
         "Clip",
         "Mark in",
         parse_shortcut("I"),
         "The clip starts at this frame",
         [this] { set_in(); },
         has_video,
         {}});
  c.add({"clips.out",
         "Clip",
         "Mark out",
         parse_shortcut("O"),
         "The clip ends at this frame (inclusive)",
         [this] { set_out(); },
         has_video,
         {}});
  c.add({"clips.add",
         "Clip",
         "Add clip",
         parse_shortcut("A"),
         "Add the clip from the in mark to the out mark",
         [this] { add_clip(); },
         [this] { return cursor_ && in_ >= 0 && out_ >= in_; },
         {}});
  c.add({"clips.extract",
         "Clip",
         "Extract frames",
         parse_shortcut("Ctrl+E"),
         "Extract the frames of every clip on a worker thread",
         [this] { start_extract(""); },
         [this] { return !job_.progress().running && !clips_.empty(); },
         {}});
  c.add({"clips.cancel",
         "Clip",
         "Cancel extraction",
         parse_shortcut("Escape"),
         "Stop the running extraction",
         [this] { job_.cancel(); },
         [this] { return job_.progress().running; },
         {}});
}

void ClipsWorkspace::draw(ImVec2 pos, ImVec2 size) {
  const float fs = ImGui::GetFontSize();
  const float left = std::min(fs * 18.f, size.x * 0.25f);
  const float right = std::min(fs * 17.f, size.x * 0.24f);
  list_panel_->draw(pos, ImVec2(left, size.y));
  player_panel_->draw(ImVec2(pos.x + left, pos.y), ImVec2(size.x - left - right, size.y));
  extract_panel_->draw(ImVec2(pos.x + size.x - right, pos.y), ImVec2(right, size.y));
}

void ClipsWorkspace::seek(long long frame) {
  if (!cursor_) return;
  position_ = std::clamp<long long>(frame, 0, cursor_->frame_count() - 1);
  cursor_->request(position_);
}

bool ClipsWorkspace::seek_text(const std::string& position) {
  if (!cursor_) return false;
  try {
    const long long f = parse_frame_position(position, cursor_->fps());
    for (const auto& c : clips_)
      if (video() && c.video == video()->id && f >= c.start && f < c.end) select_clip(c.id);
    seek(f);
    return true;
  } catch (const std::exception& e) {
    message_ = e.what();
    return false;
  }
}

void ClipsWorkspace::step(long long frames) {
  playing_ = false;
  seek(position_ + frames);
}

void ClipsWorkspace::select_clip(const std::string& id) {
  selected_clip_ = id;
  for (const auto& c : clips_)
    if (c.id == id) {
      in_ = c.start;
      out_ = c.end - 1;
      seek(c.start);
    }
}

void ClipsWorkspace::update_player(double dt) {
  if (!cursor_) return;
  if (playing_) {
    const auto snap = cursor_->snapshot();
    play_accum_ += dt * cursor_->fps();
    // Never run ahead of the decoder: playback slows down instead of skipping.
    if (!snap.busy && play_accum_ >= 1.0) {
      const auto n = static_cast<long long>(play_accum_);
      play_accum_ -= static_cast<double>(n);
      if (position_ + 1 >= cursor_->frame_count())
        playing_ = false;
      else
        seek(position_ + std::min<long long>(n, 4));
    }
  }
  const auto snap = cursor_->snapshot();
  if (!snap.error.empty()) message_ = snap.error;
  if (snap.index >= 0 && snap.index != shown_ && !snap.bgr.empty()) {
    cv::Mat rgba;
    cv::cvtColor(snap.bgr, rgba, cv::COLOR_BGR2RGBA);
    frame_tex_.upload(rgba, true);
    shown_ = snap.index;
  }
}

bool ClipsWorkspace::idle() const {
  if (!cursor_) return true;
  const auto snap = cursor_->snapshot();
  return !snap.busy && shown_ == snap.index;
}

void ClipsWorkspace::add_clip() {
  const Video* v = video();
  if (!v || in_ < 0 || out_ < in_) return;
  try {
    const Clip c = excap::add_clip(project_, v->id, in_, out_ + 1, user_, note_);
    message_ = "Added clip " + c.id;
    note_.clear();
    reload_clips();
    selected_clip_ = c.id;
  } catch (const std::exception& e) {
    message_ = e.what();
  }
}

void ClipsWorkspace::remove_clip(const std::string& id) {
  try {
    excap::remove_clip(project_, id, false, user_);
    message_ = "Removed clip " + id;
    reload_clips();
  } catch (const std::exception& e) {
    message_ = e.what();
  }
}

void ClipsWorkspace::save_note(const std::string& clip_id, const std::string& note) {
  try {
    excap::set_clip_note(project_, clip_id, note, user_);
    reload_clips();
  } catch (const std::exception& e) {
    message_ = e.what();
  }
}

void ClipsWorkspace::start_extract(const std::string& clip_id) {
  ExtractOptions opt;
  opt.fps = settings_.extract_fps;
  opt.clip_id = clip_id;
  opt.user = user_;
  if (!job_.start(project_, opt)) message_ = "An extraction is already running";
}

std::string ClipsWorkspace::status_line() const {
  std::string s;
  if (const Video* v = video()) {
    s = v->id + " (" + v->patient + ")  frame " + std::to_string(position_) + " / " +
        std::to_string(v->frames) + "  " + format_time(v->fps > 0 ? position_ / v->fps : 0.0);
  } else {
    s = "No video imported (excap import DIR VIDEO --patient NAME)";
  }
  if (!message_.empty()) s += " | " + message_;
  return s;
}

void ClipsWorkspace::shutdown() { playing_ = false; }

}  // namespace excap::studio
