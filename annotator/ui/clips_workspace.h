// Stage I: the Clips workspace. Play, pause and scrub an imported video
// (frame-accurate, decoded on a worker thread), a timeline with the existing
// clips, in/out marks, the clip list with notes, and extraction on a worker
// thread with a progress bar and cancel.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "annotator/core/extract_job.h"
#include "annotator/core/video_cursor.h"
#include "annotator/ui/canvas_view.h"
#include "annotator/ui/commands.h"
#include "annotator/ui/gl_texture.h"
#include "annotator/ui/panel.h"
#include "annotator/ui/settings.h"
#include "store/project.h"

namespace excap::studio {

using annotator::ExtractJob;
using annotator::VideoCursor;

class ClipListPanel;
class PlayerPanel;
class ExtractPanel;

class ClipsWorkspace : public Workspace {
 public:
  ClipsWorkspace(const fs::path& project, std::string user, StudioSettings& settings);
  ~ClipsWorkspace() override;
  const char* name() const override { return "Clips"; }
  void add_commands(CommandList& commands) override;
  void draw(ImVec2 pos, ImVec2 size) override;
  void apply_queued() override;
  std::string status_line() const override;
  void shutdown() override;
  bool idle() const;

  // ---- state for the panels ----
  const Project& project() const { return project_; }
  const std::vector<Video>& videos() const { return videos_; }
  const std::vector<Clip>& clips() const { return clips_; }
  int selected_video() const { return video_; }
  const Video* video() const;
  VideoCursor* cursor() const { return cursor_.get(); }
  long long position() const { return position_; }
  long long mark_in() const { return in_; }
  long long mark_out() const { return out_; }
  bool playing() const { return playing_; }
  GlTexture& frame_texture() { return frame_tex_; }
  CanvasView& view() { return view_; }
  ExtractJob& job() { return job_; }
  const ExtractJob& job() const { return job_; }
  StudioSettings& settings() { return settings_; }
  CommandList& commands() { return *commands_; }
  const std::string& user() const { return user_; }
  std::string& note() { return note_; }
  const std::string& selected_clip() const { return selected_clip_; }
  void select_clip(const std::string& id);  // seeks to it and marks its range

  // ---- actions ----
  void select_video(int index);  // queued
  void seek(long long frame);
  // A frame number or a time ("00:01:02.5"); selects the clip there. False when unparsable.
  bool seek_text(const std::string& position);
  void step(long long frames);
  void toggle_play() {
    playing_ = !playing_;
    play_accum_ = 0;
  }
  void set_in() { in_ = position_; }
  void set_out() { out_ = position_; }
  void add_clip();
  void remove_clip(const std::string& id);
  void save_note(const std::string& clip_id, const std::string& note);
  void start_extract(const std::string& clip_id);
  void set_message(std::string m) { message_ = std::move(m); }
  // Called each frame by the player: advances playback, uploads a new frame.
  void update_player(double dt);

 private:
  void add_playback(CommandList& c);
  void add_clip_marks(CommandList& c);
  void open_video(int index);
  void reload_clips();

  Project project_;
  std::string user_;
  StudioSettings& settings_;
  CommandList* commands_ = nullptr;
  std::vector<Video> videos_;
  std::vector<Clip> clips_;
  int video_ = -1;
  int pending_video_ = -1;
  std::unique_ptr<VideoCursor> cursor_;
  long long position_ = 0, shown_ = -1;
  long long in_ = -1, out_ = -1;
  bool playing_ = false;
  double play_accum_ = 0;
  GlTexture frame_tex_;
  CanvasView view_;
  ExtractJob job_;
  std::string message_, note_, selected_clip_;
  std::unique_ptr<ClipListPanel> list_panel_;
  std::unique_ptr<PlayerPanel> player_panel_;
  std::unique_ptr<ExtractPanel> extract_panel_;
};

}  // namespace excap::studio
