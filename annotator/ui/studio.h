// The studio: the menu bar and status bar, the workspaces (Clips, Label,
// Adjudicate) and the one command list that drives menus, shortcuts and
// tooltips. Knows nothing about GLFW windows; app/ owns the window.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "annotator/ui/commands.h"
#include "annotator/ui/panel.h"
#include "annotator/ui/settings.h"

namespace excap::studio {

class LabelWorkspace;
class ClipsWorkspace;
class AdjudicateWorkspace;
class ResultsWorkspace;
struct ResultsJump;

struct StudioOptions {
  fs::path project;
  std::string user;
  std::string workspace = "label";  // clips | label | adjudicate | results
  std::string frame;                // open this frame first
  bool show_suggestion = false;     // Label: the suggestion layer shown on opening a frame
};

class Studio {
 public:
  // Throws Error when the project cannot be opened, the user is unknown, or
  // the workspace asked for is not one the user's role may open.
  Studio(const StudioOptions& options, StudioSettings& settings);
  ~Studio();

  // One frame of UI: call between ImGui::NewFrame() and ImGui::Render().
  void frame(double dt);
  bool quit_requested() const { return quit_; }
  void shutdown();  // saves what is open
  LabelWorkspace* label() const { return label_.get(); }
  ClipsWorkspace* clips() const { return clips_.get(); }
  AdjudicateWorkspace* adjudicate() const { return adjudicate_.get(); }
  ResultsWorkspace* results() const { return results_.get(); }
  // Test hook (--trace): one line per workspace switch, opened frame or seek,
  // and the places of the Results workspace's clickable items.
  void set_trace(std::function<void(const std::string&)> trace);
  const std::string& active() const { return active_; }
  // Opens the next frame of the active workspace's list (wrapping), as the
  // "Next frame" key does; for scripted runs (--browse).
  void browse_next();
  // True when the workspace's view is settled (video decoded, etc.), for screenshots.
  bool idle() const;
  // True while something changes without input (video playing or decoding,
  // extraction running): the main loop keeps drawing instead of waiting.
  bool animating() const;

 private:
  float draw_menu_bar();
  void draw_status_bar(double dt);
  void draw_shortcuts();
  void apply_workspace_switch();
  void switch_to(const std::string& name);  // applied after the frame
  void open_clips();                        // throws Error for a role that may not
  void open_results();                      // the same roles as Clips
  void open_adjudicate();                   // created on first use, traced
  void trace_pointer() const;
  void apply_results_jump(const ResultsJump& jump);
  void open_frame_from_results(const std::string& frame);
  void trace(const std::string& line) const {
    if (trace_) trace_(line);
  }
  void rebuild_commands();
  Workspace* workspace() const;

  StudioOptions options_;
  StudioSettings& settings_;
  CommandList commands_;
  std::unique_ptr<LabelWorkspace> label_;
  std::unique_ptr<ClipsWorkspace> clips_;
  std::unique_ptr<AdjudicateWorkspace> adjudicate_;
  std::unique_ptr<ResultsWorkspace> results_;
  std::function<void(const std::string&)> trace_;
  std::string active_;
  std::optional<std::string> pending_workspace_;
  std::string message_;
  bool quit_ = false;
  bool show_shortcuts_ = false;
  bool is_expert_ = false;
  bool may_choose_clips_ = false;  // store's may_choose_clips(role)
};

}  // namespace excap::studio
