// The Results workspace: the project's runs with their training curves and
// evaluation (confusion matrix, per-class IoU, worst frames), the comparison
// table and triage results. What it shows comes from annotator/core's
// results model, loaded on a worker thread and reloaded when the files change.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "annotator/core/results_model.h"
#include "annotator/ui/commands.h"
#include "annotator/ui/gl_texture.h"
#include "annotator/ui/panel.h"
#include "annotator/ui/settings.h"

namespace excap::studio {

using annotator::ResultsSnapshot;

// Where a click in Results leads: a frame (Label or Adjudicate) or a moment
// of a project video (Clips).
struct ResultsJump {
  std::string frame;
  std::string video_id;
  long long video_frame = -1;
};

class ResultsListPanel;
class ResultsViewPanel;
class ResultsRunsPanel;

class ResultsWorkspace : public Workspace {
 public:
  // `user`: who starts runs from the Runs panel (pre-labeling's --user).
  ResultsWorkspace(const fs::path& project, StudioSettings& settings, std::string user = "");
  ~ResultsWorkspace() override;
  const char* name() const override { return "Results"; }
  void add_commands(CommandList& commands) override;
  void draw(ImVec2 pos, ImVec2 size) override;
  std::string status_line() const override;

  bool loading() const { return loader_.busy(); }
  // Read, shown, and drawn once more (a tab asked for is open): for screenshots.
  bool settled() const { return snapshot_ && !loading() && drawn_since_install_ >= 2; }
  void refresh();
  // Selects the run or triaged video of that name once loaded (--frame NAME).
  bool select_named(std::string name) {
    pending_name_ = std::move(name);
    return true;  // whether it exists is known once read
  }
  // The click of this frame that leads elsewhere, taken once by the studio.
  std::optional<ResultsJump> take_jump();
  // Test hook: where clickable things are on screen, one line per new place.
  void set_trace(std::function<void(const std::string&)> trace) { trace_ = std::move(trace); }

  // ---- state for the panels ----
  const ResultsSnapshot* snapshot() const { return snapshot_ ? &*snapshot_ : nullptr; }
  int selected_run() const { return run_; }
  int selected_triage() const { return triage_; }
  int selected_eval() const { return eval_; }
  void select_run(int i);
  void select_triage(int i);
  void select_eval(int i) { eval_ = i; }
  const std::string& load_error() const { return load_error_; }
  GlTexture* texture(const std::string& key);  // nullptr when none
  void request_jump(ResultsJump jump) { jump_ = std::move(jump); }
  void trace_target(const std::string& what, ImVec2 min, ImVec2 max);
  bool show_triage_tab() const { return show_triage_; }
  void clear_tab_request() { show_triage_ = false, show_run_ = false; }
  bool show_run_tab() const { return show_run_; }
  const ResultsRunsPanel& runs_panel() const { return *runs_panel_; }

 private:
  void poll(double dt);
  void install(ResultsSnapshot snapshot);

  annotator::ResultsLoader loader_;
  std::optional<ResultsSnapshot> snapshot_;
  std::map<std::string, std::unique_ptr<GlTexture>> textures_;
  std::string load_error_;
  int run_ = -1, eval_ = 0, triage_ = -1;
  bool show_triage_ = false, show_run_ = false;
  double since_check_ = 0;
  int drawn_since_install_ = 0;
  std::string pending_name_;
  std::optional<ResultsJump> jump_;
  std::function<void(const std::string&)> trace_;
  std::set<std::string> traced_;
  std::unique_ptr<ResultsListPanel> list_panel_;
  std::unique_ptr<ResultsViewPanel> view_panel_;
  std::unique_ptr<ResultsRunsPanel> runs_panel_;
};

// Texture keys: "worst/<run>/<eval>/<frame>/<image|truth|pred>", "sheet/<triage>".
std::string worst_texture_key(int run, int eval, const std::string& frame, const char* kind);
std::string sheet_texture_key(int triage);

}  // namespace excap::studio
