// Stage II: the Label workspace. The frames assigned to this user (their own
// shuffled order, status, filter, progress), the canvas with the labeling
// tools, the class palette and the clearness-degree buttons from the schema,
// autosave on every stroke end and CD change.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "annotator/core/autosave.h"
#include "annotator/core/session.h"
#include "annotator/core/suggestion_layer.h"
#include "annotator/ui/canvas_view.h"
#include "annotator/ui/commands.h"
#include "annotator/ui/mask_editor.h"
#include "annotator/ui/panel.h"
#include "annotator/ui/settings.h"
#include "annotator/ui/trace.h"

namespace excap::studio {

class FrameListPanel;
class ToolsPanel;
class LabelCanvasPanel;

class LabelWorkspace : public Workspace {
 public:
  LabelWorkspace(annotator::Session session, StudioSettings& settings);
  ~LabelWorkspace() override;
  const char* name() const override { return "Label"; }
  void add_commands(CommandList& commands) override;
  void draw(ImVec2 pos, ImVec2 size) override;
  void apply_queued() override;
  std::string status_line() const override;
  void shutdown() override;

  // ---- state the panels read ----
  const annotator::Session& session() const { return session_; }
  const std::vector<annotator::FrameEntry>& entries() const { return session_.entries(); }
  int current() const { return current_; }
  annotator::LabelDocument* doc() const { return doc_.get(); }
  MaskEditor& editor() { return editor_; }
  CanvasView& view() { return view_; }
  ToolState& tools() { return tools_; }
  StudioSettings& settings() { return settings_; }
  CommandList& commands() { return *commands_; }
  const annotator::OverlayPalette& palette() const { return palette_; }
  double time_on_frame() const { return timer_.seconds(); }
  const std::string& save_error() const { return save_error_; }
  const std::string& last_message() const { return message_; }
  // The model's suggestion for the open frame (pre-labels on), and its colours.
  const annotator::SuggestionLayer* suggestion() const {
    return suggestion_ ? &*suggestion_ : nullptr;
  }
  bool suggestion_shown() const { return suggestion_ && suggestion_->visible; }
  ImTextureID suggestion_texture();
  // Test hook (--trace): "saved label FRAME" per landed save, and the targets
  // the panels report (the canvas image, the suggestion buttons).
  TraceHook& trace() { return trace_; }

  // ---- actions (commands and panels call these) ----
  void request_open(int index);                  // applied after the frame
  bool open_frame_id(const std::string& frame);  // immediately; false when not in my list
  void next(int step);
  void next_unfinished();  // the next frame after this one that is not done, wrapping
  void reload_frames();    // re-reads my assignments; the open frame stays open if still mine
  void set_class(int cls);
  void set_cd(int cd);
  void undo();
  void redo();
  void fill_unlabeled();
  void remove_islands();
  void toggle_suggestion();
  // Whether a frame opens with its suggestion shown (default: the annotator's own mask).
  void show_suggestion_first(bool on);
  // Takes the suggestion: whole (and its CD), the current class, or the region under `at`.
  enum class Take { Whole, Class, Region };
  void accept_suggestion(Take how, cv::Point at = {-1, -1});
  void after_edit();   // autosave after a completed edit
  void save_now();     // hands a snapshot to the autosave writer
  void flush_saves();  // waits for the writer, then records the results
  void tick(double dt, bool had_input);

 private:
  void add_navigation(CommandList& c);
  void add_editing(CommandList& c);
  void add_tools(CommandList& c);
  void add_classes(CommandList& c);
  void add_view(CommandList& c);
  void open_index(int index);
  void collect_saves();

  annotator::Session session_;
  StudioSettings& settings_;
  CommandList* commands_ = nullptr;
  annotator::OverlayPalette palette_;
  int current_ = -1;
  std::optional<int> pending_open_;
  std::unique_ptr<annotator::LabelDocument> doc_;
  std::optional<annotator::SuggestionLayer> suggestion_;
  GlTexture suggestion_texture_;
  bool suggestion_uploaded_ = false;
  bool suggestion_first_ = false;
  annotator::WorkTimer timer_;
  MaskEditor editor_;
  CanvasView view_;
  ToolState tools_;
  std::string save_error_, message_;
  TraceHook trace_;
  std::unique_ptr<FrameListPanel> frames_panel_;
  std::unique_ptr<ToolsPanel> tools_panel_;
  std::unique_ptr<LabelCanvasPanel> canvas_panel_;
  // Last member: destroyed (and drained) first, while session_ still exists.
  std::unique_ptr<annotator::AutosaveWriter> writer_;
};

}  // namespace excap::studio
