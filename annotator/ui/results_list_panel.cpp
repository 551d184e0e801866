// The project's runs and triaged videos, the reload button and what could
// not be read.
#include <imgui.h>

#include "annotator/ui/results_panels.h"
#include "annotator/ui/results_workspace.h"

namespace excap::studio {

namespace {

// Every problem of the snapshot, its run or triage folder named.
std::vector<std::string> all_problems(const ResultsSnapshot& s) {
  std::vector<std::string> out = s.problems;
  for (const auto& r : s.runs) {
    for (const auto& p : r.problems) out.push_back(r.name + ": " + p);
    for (const auto& p : r.log.problems) out.push_back(r.name + ": " + p);
    for (const auto& e : r.evals)
      for (const auto& p : e.problems) out.push_back(r.name + "/eval/" + e.subset + ": " + p);
  }
  for (const auto& t : s.triage)
    for (const auto& p : t.problems) out.push_back("triage " + t.name + ": " + p);
  return out;
}

}  // namespace

void ResultsListPanel::draw_content() {
  ImGui::BeginDisabled(ws_.loading());
  if (ImGui::Button(ws_.loading() ? "Reading..." : "Reload (F5)", ImVec2(-1, 0))) ws_.refresh();
  ImGui::EndDisabled();
  const ResultsSnapshot* s = ws_.snapshot();
  if (!ws_.load_error().empty()) ImGui::TextWrapped("%s", ws_.load_error().c_str());
  if (!s) return;
  ImGui::TextDisabled("RUNS (%zu)", s->runs.size());
  if (s->runs.empty()) ImGui::TextWrapped("No run yet: excap train DIR --run NAME ...");
  ImGui::BeginChild("##runs", ImVec2(0, em(14.f)), true);
  for (int i = 0; i < static_cast<int>(s->runs.size()); ++i) {
    const auto& r = s->runs[static_cast<std::size_t>(i)];
    const std::string label = r.name + (r.evals.empty() ? "" : "  [eval]");
    if (ImGui::Selectable(label.c_str(), i == ws_.selected_run())) ws_.select_run(i);
    ws_.trace_target("run " + r.name, ImGui::GetItemRectMin(), ImGui::GetItemRectMax());
    if (ImGui::IsItemHovered())
      ImGui::SetTooltip("%s %s, %lld iterations\n%s", r.arch.c_str(), r.backbone.c_str(), r.iters,
                        r.dir.string().c_str());
  }
  ImGui::EndChild();
  ImGui::TextDisabled("TRIAGED VIDEOS (%zu)", s->triage.size());
  ImGui::BeginChild("##triage", ImVec2(0, em(8.f)), true);
  for (int i = 0; i < static_cast<int>(s->triage.size()); ++i) {
    const auto& t = s->triage[static_cast<std::size_t>(i)];
    const std::string label = t.name + "  (" + std::to_string(t.kept.size()) + " kept)";
    if (ImGui::Selectable(label.c_str(), i == ws_.selected_triage())) ws_.select_triage(i);
    ws_.trace_target("triage " + t.name, ImGui::GetItemRectMin(), ImGui::GetItemRectMax());
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", t.video.string().c_str());
  }
  ImGui::EndChild();
  const auto problems = all_problems(*s);
  ImGui::TextDisabled("NOT READ (%zu)", problems.size());
  ImGui::BeginChild("##problems", ImVec2(0, 0), true);
  for (const auto& p : problems) ImGui::TextWrapped("%s", p.c_str());
  ImGui::EndChild();
}

}  // namespace excap::studio
