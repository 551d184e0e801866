// Stage III: the Adjudicate workspace, open only to the expert role. The
// two annotations side by side as "Annotator 1/2" (never by name), a diff
// view, take 1 / take 2, region by region, repaint with the labeling tools,
// the final CD and accept. Undo, autosave (a draft) and crash safety as in
// the Label workspace.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "annotator/core/adjudication_document.h"
#include "annotator/ui/canvas_view.h"
#include "annotator/ui/commands.h"
#include "annotator/ui/mask_editor.h"
#include "annotator/ui/panel.h"
#include "annotator/ui/settings.h"
#include "annotator/ui/trace.h"

namespace excap::studio {

class AdjudicationQueuePanel;
class ComparePanel;
class DecisionPanel;

class AdjudicateWorkspace : public Workspace {
 public:
  AdjudicateWorkspace(const fs::path& project, const std::string& user, StudioSettings& settings);
  ~AdjudicateWorkspace() override;
  const char* name() const override { return "Adjudicate"; }
  void add_commands(CommandList& commands) override;
  void draw(ImVec2 pos, ImVec2 size) override;
  void apply_queued() override;
  std::string status_line() const override;
  void shutdown() override;

  // ---- state for the panels ----
  bool allowed() const { return session_ != nullptr; }
  const std::string& refusal() const { return refusal_; }
  const LabelSchema& schema() const { return schema_; }
  const std::vector<std::string>& queue() const { return queue_; }
  int current() const { return current_; }
  annotator::AdjudicationDocument* doc() const { return doc_.get(); }
  MaskEditor& editor() { return editor_; }
  ToolState& tools() { return tools_; }
  StudioSettings& settings() { return settings_; }
  CommandList& commands() { return *commands_; }
  CanvasView& pair_view() { return pair_view_; }
  CanvasView& final_view() { return final_view_; }
  ImTextureID annotator_texture(int which) const { return which == 0 ? a_tex_.id() : b_tex_.id(); }
  ImTextureID diff_texture() const { return diff_tex_.id(); }
  const annotator::OverlayPalette& palette() const { return palette_; }
  bool pick_mode() const { return pick_mode_; }
  bool show_diff() const { return show_diff_; }
  int diff_class() const { return diff_class_; }
  int decided() const { return decided_; }
  // Test hook (--trace): "saved draft F", "saved final F SOURCE" and the final view's target.
  TraceHook& trace() { return trace_; }

  // ---- actions ----
  bool open_frame_id(const std::string& frame);
  // A frame already decided (opened from Results): shown with its final label
  // at the head of the list; accepting it revises the decision. False, with
  // the reason in the status line, when it cannot be adjudicated.
  bool open_for_review(const std::string& frame);
  void request_open(int index);
  void take(int which);
  void take_region(int region, int which);
  void set_cd(int cd);
  void accept();
  void undo();
  void redo();
  void set_diff_class(int cls);
  void after_edit();

 private:
  void add_decisions(CommandList& c);
  void add_view(CommandList& c);
  void add_navigation(CommandList& c);
  void add_repaint(CommandList& c);
  void open_index(int index);
  void render_pair();
  void render_diff();

  std::unique_ptr<annotator::AdjudicationSession> session_;
  std::string refusal_;
  StudioSettings& settings_;
  CommandList* commands_ = nullptr;
  LabelSchema schema_;
  annotator::OverlayPalette palette_;
  std::vector<std::string> queue_;
  int current_ = -1, decided_ = 0;
  std::optional<int> pending_;
  std::unique_ptr<annotator::AdjudicationDocument> doc_;
  annotator::WorkTimer timer_;
  MaskEditor editor_;
  GlTexture a_tex_, b_tex_, diff_tex_;
  CanvasView pair_view_, final_view_;
  ToolState tools_;
  bool pick_mode_ = true, show_diff_ = false;
  int diff_class_ = -1;  // -1: any disagreement
  std::string message_, save_error_;
  std::vector<std::string> reviewing_;  // decided frames opened for review
  TraceHook trace_;
  std::unique_ptr<AdjudicationQueuePanel> queue_panel_;
  std::unique_ptr<ComparePanel> compare_panel_;
  std::unique_ptr<DecisionPanel> decision_panel_;
};

}  // namespace excap::studio
