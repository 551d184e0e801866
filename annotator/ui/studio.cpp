#include "annotator/ui/studio.h"

#include <imgui.h>

#include "annotator/core/session.h"
#include "annotator/ui/adjudicate_workspace.h"
#include "annotator/ui/clips_workspace.h"
#include "annotator/ui/label_workspace.h"
#include "annotator/ui/results_workspace.h"
#include "common/error.h"

namespace excap::studio {

Studio::Studio(const StudioOptions& options, StudioSettings& settings)
    : options_(options), settings_(settings) {
  annotator::Session session = annotator::Session::open(options.project, options.user);
  is_expert_ = session.may_adjudicate();
  may_choose_clips_ = may_choose_clips(session.role());
  label_ = std::make_unique<LabelWorkspace>(std::move(session), settings_);
  label_->show_suggestion_first(options.show_suggestion);
  active_ = "label";
  if (options.workspace == "clips" || options.workspace == "adjudicate" ||
      options.workspace == "results")
    switch_to(options.workspace);
  else if (options.workspace != "label")
    throw Error("--workspace " + options.workspace,
                "unknown workspace (clips, label, adjudicate, results)");
  if (pending_workspace_) {
    active_ = *pending_workspace_;
    pending_workspace_.reset();
  }
  if (active_ == "clips") open_clips();
  if (active_ == "results") open_results();
  if (active_ == "adjudicate") open_adjudicate();
  if (!options.frame.empty()) {
    bool found = false;
    if (active_ == "adjudicate")
      found = adjudicate_->open_frame_id(options.frame);
    else if (active_ == "clips")
      found = clips_->seek_text(options.frame);
    else if (active_ == "results")
      found = results_->select_named(options.frame);
    else
      found = label_->open_frame_id(options.frame);
    if (!found) message_ = "Frame " + options.frame + " is not in your list";
  }
  rebuild_commands();
}

Studio::~Studio() = default;

Workspace* Studio::workspace() const {
  if (active_ == "clips") return clips_.get();
  if (active_ == "adjudicate") return adjudicate_.get();
  if (active_ == "results") return results_.get();
  return label_.get();
}

bool Studio::idle() const {
  if (active_ == "clips") return clips_->idle();
  if (active_ == "results") return results_->settled();
  return true;
}

bool Studio::animating() const {
  if (clips_ && (clips_->playing() || !clips_->idle() || clips_->job().progress().running))
    return true;
  if (results_ && results_->loading()) return true;
  return pending_workspace_.has_value();
}

void Studio::switch_to(const std::string& name) { pending_workspace_ = name; }

void Studio::browse_next() {
  if (active_ == "label" && !label_->entries().empty())
    label_->request_open((label_->current() + 1) % static_cast<int>(label_->entries().size()));
  if (active_ == "adjudicate" && adjudicate_ && !adjudicate_->queue().empty())
    adjudicate_->request_open((adjudicate_->current() + 1) %
                              static_cast<int>(adjudicate_->queue().size()));
}

// The one way into the Clips workspace: it shows the raw video, so only roles
// that choose clips may open it.
void Studio::open_clips() {
  if (!may_choose_clips_)
    throw Error("Clips workspace", "user '" + options_.user +
                                       "' is an annotator: only experts, engineers and admins "
                                       "choose clips (the workspace shows the raw video)");
  if (!clips_)
    clips_ = std::make_unique<ClipsWorkspace>(options_.project, options_.user, settings_);
}

// Results show final labels and model outputs: the roles that may open Clips.
void Studio::open_results() {
  if (!may_choose_clips_)
    throw Error("Results workspace", "user '" + options_.user +
                                         "' is an annotator: results show the final labels, "
                                         "which annotators do not see while they label");
  if (!results_) {
    results_ = std::make_unique<ResultsWorkspace>(options_.project, settings_, options_.user);
    results_->set_trace(trace_);
  }
}

void Studio::open_adjudicate() {
  if (adjudicate_) return;
  adjudicate_ = std::make_unique<AdjudicateWorkspace>(options_.project, options_.user, settings_);
  adjudicate_->trace().set(trace_);
}

void Studio::set_trace(std::function<void(const std::string&)> trace) {
  trace_ = std::move(trace);
  if (results_) results_->set_trace(trace_);
  label_->trace().set(trace_);
  if (adjudicate_) adjudicate_->trace().set(trace_);
  commands_.set_observer(trace_ ? [this](const std::string& id) { this->trace("command " + id); }
                                : std::function<void(const std::string&)>());
  this->trace("workspace " + active_);
}

// With --trace: where the left button is held (each frame it is pressed or
// moves) and where it is let go, so a scripted drag knows every point was seen.
void Studio::trace_pointer() const {
  if (!trace_) return;
  const ImGuiIO& io = ImGui::GetIO();
  const std::string at = " " + std::to_string(static_cast<int>(io.MousePos.x)) + " " +
                         std::to_string(static_cast<int>(io.MousePos.y));
  if (ImGui::IsMouseDown(ImGuiMouseButton_Left) && (ImGui::IsMouseClicked(ImGuiMouseButton_Left) ||
                                                    io.MouseDelta.x != 0 || io.MouseDelta.y != 0))
    trace("pointer down" + at);
  if (ImGui::IsMouseReleased(ImGuiMouseButton_Left)) trace("pointer up" + at);
}

// A worst frame opens in Adjudicate when the expert may adjudicate it
// (undecided, or decided and opened for review), else in Label when it is in
// the user's list; a triage moment opens in Clips.
void Studio::apply_results_jump(const ResultsJump& jump) {
  try {
    if (!jump.frame.empty()) return open_frame_from_results(jump.frame);
    if (jump.video_id.empty()) {
      message_ = "The triaged video is not one of this project's videos";
      return;
    }
    open_clips();
    const auto& videos = clips_->videos();
    for (int i = 0; i < static_cast<int>(videos.size()); ++i)
      if (videos[static_cast<std::size_t>(i)].id == jump.video_id) {
        clips_->select_video(i);
        clips_->apply_queued();
        clips_->seek(jump.video_frame);
        switch_to("clips");
        trace("seek clips " + jump.video_id + " " + std::to_string(jump.video_frame));
        return;
      }
    message_ = "Video " + jump.video_id + " is not in videos.json";
  } catch (const std::exception& e) {
    message_ = e.what();
  }
}

void Studio::open_frame_from_results(const std::string& frame) {
  if (is_expert_) {
    open_adjudicate();
    // Undecided frames are in the queue; a decided one opens for review.
    if (adjudicate_->open_for_review(frame)) {
      switch_to("adjudicate");
      trace("open adjudicate " + frame);
      return;
    }
  }
  if (label_->open_frame_id(frame)) {
    switch_to("label");
    trace("open label " + frame);
    return;
  }
  message_ = "Frame " + frame + " is neither in your list nor one you may adjudicate";
  trace("open none " + frame);
}

void Studio::rebuild_commands() {
  commands_.clear();
  if (may_choose_clips_)  // not offered at all to annotators: no menu item, no key
    commands_.add({"workspace.clips",
                   "Workspace",
                   "Clips",
                   parse_shortcut("F1"),
                   "Stage I: choose clips in a video and extract frames",
                   [this] { switch_to("clips"); },
                   {},
                   [this] { return active_ == "clips"; }});
  commands_.add({"workspace.label",
                 "Workspace",
                 "Label",
                 parse_shortcut("F2"),
                 "Stage II: label your assigned frames",
                 [this] { switch_to("label"); },
                 {},
                 [this] { return active_ == "label"; }});
  commands_.add({"workspace.adjudicate", "Workspace", "Adjudicate", parse_shortcut("F3"),
                 "Stage III: settle disagreements (expert role only)",
                 [this] { switch_to("adjudicate"); }, [this] { return is_expert_; },
                 [this] { return active_ == "adjudicate"; }});
  if (may_choose_clips_)
    commands_.add({"workspace.results",
                   "Workspace",
                   "Results",
                   parse_shortcut("F4"),
                   "Training curves, evaluations, the comparison of runs and triage results",
                   [this] { switch_to("results"); },
                   {},
                   [this] { return active_ == "results"; }});
  commands_.add({"app.quit",
                 "File",
                 "Quit",
                 parse_shortcut("Ctrl+Q"),
                 "Save and quit",
                 [this] { quit_ = true; },
                 {},
                 {}});
  commands_.add({"app.shortcuts",
                 "Help",
                 "Keyboard shortcuts",
                 parse_shortcut("F12"),
                 "List every command and its key",
                 [this] { show_shortcuts_ = !show_shortcuts_; },
                 {},
                 [this] { return show_shortcuts_; }});
  workspace()->add_commands(commands_);
}

void Studio::frame(double dt) {
  const ImGuiIO& io = ImGui::GetIO();
  const bool had_input = io.MouseDelta.x != 0 || io.MouseDelta.y != 0 || io.MouseWheel != 0 ||
                         ImGui::IsAnyMouseDown() || io.InputQueueCharacters.Size > 0;
  label_->tick(dt, had_input);
  trace_pointer();
  commands_.handle_shortcuts();

  const float menu_h = draw_menu_bar();
  const ImGuiViewport* vp = ImGui::GetMainViewport();
  const float status_h = ImGui::GetFrameHeight();
  workspace()->draw(ImVec2(vp->Pos.x, vp->Pos.y + menu_h),
                    ImVec2(vp->Size.x, vp->Size.y - menu_h - status_h));
  draw_status_bar(dt);
  if (show_shortcuts_) draw_shortcuts();

  // Structural changes after the frame.
  workspace()->apply_queued();
  if (results_ && active_ == "results")
    if (auto jump = results_->take_jump()) apply_results_jump(*jump);
  if (pending_workspace_) apply_workspace_switch();
}

// The menus from the command list, then who is working where; returns its height.
float Studio::draw_menu_bar() {
  float height = 0;
  if (!ImGui::BeginMainMenuBar()) return height;
  for (const auto& m : commands_.menus()) {
    if (ImGui::BeginMenu(m.c_str())) {
      commands_.draw_menu_items(m);
      ImGui::EndMenu();
    }
  }
  ImGui::SameLine(ImGui::GetWindowWidth() - ImGui::GetFontSize() * 16.f);
  ImGui::TextDisabled("%s  |  %s", options_.user.c_str(), workspace()->name());
  height = ImGui::GetWindowSize().y;
  ImGui::EndMainMenuBar();
  return height;
}

void Studio::draw_status_bar(double dt) {
  const ImGuiViewport* vp = ImGui::GetMainViewport();
  const float status_h = ImGui::GetFrameHeight();
  ImGui::SetNextWindowPos(ImVec2(vp->Pos.x, vp->Pos.y + vp->Size.y - status_h));
  ImGui::SetNextWindowSize(ImVec2(vp->Size.x, status_h));
  ImGui::PushStyleVar(ImGuiStyleVar_WindowPadding,
                      ImVec2(ImGui::GetFontSize() * 0.5f, ImGui::GetFontSize() * 0.15f));
  if (ImGui::Begin("##status", nullptr,
                   ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoSavedSettings |
                       ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoBringToFrontOnFocus)) {
    const std::string line = workspace()->status_line();
    ImGui::TextUnformatted((message_.empty() ? line : message_ + " | " + line).c_str());
    ImGui::SameLine(ImGui::GetWindowWidth() - ImGui::GetFontSize() * 7.f);
    ImGui::TextDisabled("%.1f ms", 1000.0 * dt);
  }
  ImGui::End();
  ImGui::PopStyleVar();
}

// The F12 table: every command of the list, its key and its help line.
void Studio::draw_shortcuts() {
  ImGui::SetNextWindowSize(ImVec2(ImGui::GetFontSize() * 30, ImGui::GetFontSize() * 28),
                           ImGuiCond_FirstUseEver);
  if (ImGui::Begin("Keyboard shortcuts", &show_shortcuts_)) {
    if (ImGui::BeginTable("##keys", 3, ImGuiTableFlags_RowBg | ImGuiTableFlags_ScrollY)) {
      for (const auto& c : commands_.all()) {
        ImGui::TableNextRow();
        ImGui::TableNextColumn();
        ImGui::TextUnformatted(c.shortcut.text().c_str());
        ImGui::TableNextColumn();
        ImGui::TextUnformatted(c.label.c_str());
        ImGui::TableNextColumn();
        ImGui::TextDisabled("%s", c.tooltip.c_str());
      }
      ImGui::EndTable();
    }
  }
  ImGui::End();
}

// Opens the workspace asked for during the frame (created on first use) and
// rebuilds the command list for it; a workspace that cannot open stays closed
// and says why in the status bar.
void Studio::apply_workspace_switch() {
  const std::string next = *pending_workspace_;
  pending_workspace_.reset();
  try {
    if (next == "clips") open_clips();
    if (next == "results") open_results();
    if (next == "adjudicate") open_adjudicate();
    if (next != active_) workspace()->shutdown();
    active_ = next;
    message_.clear();
    trace("workspace " + active_);
  } catch (const std::exception& e) {
    message_ = e.what();
  }
  rebuild_commands();
}

void Studio::shutdown() {
  if (label_) label_->shutdown();
  if (clips_) clips_->shutdown();
  if (adjudicate_) adjudicate_->shutdown();
}

}  // namespace excap::studio
