// The Runs panel below the results: a form that starts `excap train | eval |
// prelabel | triage` as a child process, and the run going with its progress,
// ETA, last output lines, Cancel and Resume. The child does the work; this
// panel only reads its output each frame (RunJob::update never blocks), so the
// studio stays responsive and outlives a crashing run.
#include <imgui.h>
#include <imgui_stdlib.h>

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <utility>

#include "annotator/ui/results_panels.h"
#include "annotator/ui/results_workspace.h"
#include "common/text.h"

namespace excap::studio {

using annotator::JobStatus;
using annotator::RunKind;

namespace {

constexpr std::pair<RunKind, const char*> kKinds[] = {{RunKind::Train, "Train"},
                                                      {RunKind::Eval, "Evaluate"},
                                                      {RunKind::Prelabel, "Pre-label"},
                                                      {RunKind::Triage, "Triage"}};
constexpr double kShutdownGraceS = 15.0;  // a train run saves its checkpoint within it

std::vector<std::string> split_words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// The names of DIR/splits/*.json, read when the split list opens.
std::vector<std::string> split_names(const fs::path& project) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(project / "splits", ec))
    if (e.path().extension() == ".json") names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

// A combo over `items` writing the choice into `value`.
void choice(const char* label, std::string& value, const std::vector<std::string>& items) {
  if (!ImGui::BeginCombo(label, value.empty() ? "(choose)" : value.c_str())) return;
  for (const auto& item : items)
    if (ImGui::Selectable(item.c_str(), item == value)) value = item;
  ImGui::EndCombo();
}

ImVec4 status_colour(JobStatus s) {
  switch (s) {
    case JobStatus::Done:
      return ImVec4(0.45f, 0.85f, 0.45f, 1.f);
    case JobStatus::Failed:
      return ImVec4(0.95f, 0.40f, 0.35f, 1.f);
    case JobStatus::Cancelled:
      return ImVec4(0.95f, 0.75f, 0.30f, 1.f);
    default:
      return ImGui::GetStyleColorVec4(ImGuiCol_Text);
  }
}

}  // namespace

ResultsRunsPanel::ResultsRunsPanel(ResultsWorkspace& ws, const fs::path& project, std::string user)
    : ws_(ws), job_(project) {
  form_.user = std::move(user);
}

ResultsRunsPanel::~ResultsRunsPanel() {
  if (!job_.running()) return;
  job_.cancel(kShutdownGraceS);
  job_.wait();
}

void ResultsRunsPanel::update() {
  if (!job_.update()) return;
  ws_.refresh();  // the new run, evaluation or triage folder appears in the list
  const auto& s = job_.state();
  if (s.status == JobStatus::Done) {
    const bool triage = s.form.kind == RunKind::Triage;
    ws_.select_named(
        triage ? annotator::studio_triage_folder(job_.project(), s.form.video).filename().string()
               : s.form.run);
  }
}

bool ResultsRunsPanel::button(const char* label, const char* target, bool enabled, ImVec2 size) {
  ImGui::BeginDisabled(!enabled);
  const bool clicked = ImGui::Button(label, size);
  ImGui::EndDisabled();
  ws_.trace_target(target, ImGui::GetItemRectMin(), ImGui::GetItemRectMax());
  return clicked && enabled;
}

void ResultsRunsPanel::draw_content() {
  const char* arrow = collapsed_ ? "Start a run  [+]" : "Start a run  [-]";
  if (ImGui::SmallButton(arrow)) collapsed_ = !collapsed_;
  ws_.trace_target("runs.toggle", ImGui::GetItemRectMin(), ImGui::GetItemRectMax());
  const auto& s = job_.state();
  ImGui::SameLine();
  if (s.status == JobStatus::Idle) {
    ImGui::TextDisabled("start training, evaluation, pre-labeling or triage here");
  } else {
    ImGui::TextColored(status_colour(s.status), "%s %s: %s", annotator::to_string(s.form.kind),
                       s.form.run.c_str(), annotator::to_string(s.status));
    if (s.status == JobStatus::Running && s.total > 0) {
      ImGui::SameLine();
      ImGui::TextDisabled("%lld/%lld, ETA %s", s.done, s.total, duration_text(s.eta_s).c_str());
    }
  }
  if (collapsed_) return;
  const float form_w = std::min(em(30.f), ImGui::GetContentRegionAvail().x * 0.5f);
  ImGui::BeginChild("##runs-form", ImVec2(form_w, 0), true);
  draw_form();
  ImGui::EndChild();
  ImGui::SameLine();
  ImGui::BeginChild("##runs-job", ImVec2(0, 0), true);
  draw_job();
  ImGui::EndChild();
}

void ResultsRunsPanel::draw_form() {
  for (const auto& [kind, label] : kKinds) {
    if (kind != RunKind::Train) ImGui::SameLine();
    if (ImGui::RadioButton(label, form_.kind == kind)) {
      form_.kind = kind;
      const ResultsSnapshot* snap = ws_.snapshot();
      if (kind != RunKind::Train && snap && ws_.selected_run() >= 0)
        form_.run = snap->runs[static_cast<std::size_t>(ws_.selected_run())].name;
    }
    ws_.trace_target(std::string("runs.kind.") + annotator::to_string(kind),
                     ImGui::GetItemRectMin(), ImGui::GetItemRectMax());
  }
  draw_kind_fields();
  ImGui::SetNextItemWidth(em(6.f));
  choice("device", form_.device, {"auto", "cpu", "cuda"});
  ImGui::SameLine();
  ImGui::SetNextItemWidth(em(6.f));
  ImGui::InputInt("threads (0: all)", &form_.threads);
  form_.threads = std::max(0, form_.threads);
  ImGui::SetNextItemWidth(-em(3.f));
  ImGui::InputTextWithHint("more", "further options, e.g. --batch 4", &extra_);
  if (button("Start", "runs.start", !job_.running(), ImVec2(em(6.f), 0))) start();
  if (!error_.empty()) {
    ImGui::SameLine();
    ImGui::TextColored(status_colour(JobStatus::Failed), "%s", error_.c_str());
  }
}

// Two fields a line, each em(8) wide with its label to the right.
void ResultsRunsPanel::draw_kind_fields() {
  std::vector<std::string> runs;
  if (const ResultsSnapshot* snap = ws_.snapshot())
    for (const auto& r : snap->runs) runs.push_back(r.name);
  const float w = em(8.f);
  ImGui::SetNextItemWidth(w);
  if (form_.kind == RunKind::Train)
    ImGui::InputTextWithHint("run", "new name", &form_.run);
  else
    choice("run", form_.run, runs);
  ImGui::SameLine();
  ImGui::SetNextItemWidth(w);
  switch (form_.kind) {
    case RunKind::Train:
      if (ImGui::BeginCombo("split", form_.split.empty() ? "(choose)" : form_.split.c_str())) {
        for (const auto& name : split_names(job_.project()))  // listed only while open
          if (ImGui::Selectable(name.c_str(), name == form_.split)) form_.split = name;
        ImGui::EndCombo();
      }
      ImGui::SetNextItemWidth(w);
      choice("model", form_.model,
             {"mtcsn", "cls", "seg_fcn", "seg_aspp", "hard_share", "cross_stitch"});
      ImGui::SameLine();
      ImGui::SetNextItemWidth(w);
      choice("backbone", form_.backbone,
             {"resnet18", "resnet34", "resnet50", "resnet101", "densenet121", "tiny"});
      ImGui::SetNextItemWidth(w);
      ImGui::InputInt("iters", &form_.iters, 0);
      ImGui::SameLine();
      ImGui::SetNextItemWidth(w);
      ImGui::InputInt("size (0: 240)", &form_.size, 0);
      form_.iters = std::max(0, form_.iters), form_.size = std::max(0, form_.size);
      break;
    case RunKind::Eval:
      choice("checkpoint", form_.checkpoint, {"best", "latest"});
      ImGui::SetNextItemWidth(w);
      ImGui::InputText("subset", &form_.subset);
      break;
    case RunKind::Prelabel:
      choice("checkpoint", form_.checkpoint, {"best", "latest"});
      ImGui::TextDisabled("as user %s, frames without a final label", form_.user.c_str());
      break;
    case RunKind::Triage:
      choice("checkpoint", form_.checkpoint, {"best", "latest"});
      ImGui::SetNextItemWidth(-em(3.f));
      ImGui::InputTextWithHint("video", "path of a video file", &form_.video);
      break;
  }
}

void ResultsRunsPanel::start() {
  form_.extra = split_words(extra_);
  try {
    job_.start(form_);
    error_.clear();
    follow_log_ = true;
  } catch (const std::exception& e) {
    error_ = e.what();
  }
}

void ResultsRunsPanel::draw_job() {
  const auto& s = job_.state();
  if (s.status == JobStatus::Idle) {
    ImGui::TextDisabled("No run started from the studio yet.");
    ImGui::TextDisabled("The run goes on in its own process; its output appears here.");
    return;
  }
  const bool running = s.status == JobStatus::Running;
  char overlay[96];
  if (s.total > 0)
    std::snprintf(overlay, sizeof overlay, "%lld / %lld   %.1f%%   elapsed %s   ETA %s", s.done,
                  s.total, 100.0 * s.fraction(), duration_text(s.elapsed_s).c_str(),
                  duration_text(s.eta_s).c_str());
  else
    std::snprintf(overlay, sizeof overlay, "%s, elapsed %s", running ? "starting" : "no progress",
                  duration_text(s.elapsed_s).c_str());
  ImGui::ProgressBar(static_cast<float>(s.fraction()), ImVec2(-em(13.f), 0), overlay);
  ImGui::SameLine();
  if (button(s.cancelling ? "Stopping..." : "Cancel", "runs.cancel", running && !s.cancelling,
             ImVec2(em(6.f), 0)))
    job_.cancel();
  ImGui::SameLine();
  if (button("Resume", "runs.resume", s.can_resume && !running, ImVec2(em(6.f), 0))) {
    try {
      job_.resume();
      error_.clear();
    } catch (const std::exception& e) {
      error_ = e.what();
    }
  }
  if (!running) ImGui::TextColored(status_colour(s.status), "%s", s.message.c_str());
  ImGui::Checkbox("follow", &follow_log_);
  ImGui::BeginChild("##runs-log", ImVec2(0, 0), false, ImGuiWindowFlags_HorizontalScrollbar);
  for (const auto& line : s.log_tail) ImGui::TextUnformatted(line.c_str());
  if (follow_log_) ImGui::SetScrollHereY(1.0f);
  ImGui::EndChild();
}

}  // namespace excap::studio
