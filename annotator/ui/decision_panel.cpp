// Take 1 / take 2, the disagreement regions, repaint tools, final CD, accept.
#include <algorithm>
#include <numeric>

#include "annotator/ui/adjudicate_panels.h"
#include "annotator/ui/adjudicate_workspace.h"
#include "annotator/ui/labeling_widgets.h"

namespace excap::studio {

void DecisionPanel::draw_content() {
  if (!ws_.doc()) return;
  CommandList& cmd = ws_.commands();
  // Measured once at the top: every section's rows start at the left edge.
  const float half = (ImGui::GetContentRegionAvail().x - ImGui::GetStyle().ItemSpacing.x) * 0.5f;

  ImGui::TextDisabled("WHOLE FRAME");
  cmd.button("adj.take1", half, "Take 1  Ctrl+1");
  ImGui::SameLine();
  cmd.button("adj.take2", half, "Take 2  Ctrl+2");
  draw_regions(half);
  draw_repaint(half);
  ImGui::Separator();
  draw_final(half);
}

void DecisionPanel::draw_regions(float half) {
  CommandList& cmd = ws_.commands();
  const auto* doc = ws_.doc();
  ImGui::TextDisabled("REGIONS (%d, %lld px)", static_cast<int>(doc->disagreement().regions.size()),
                      doc->disagree_pixels());
  cmd.button("adj.pick", half, "Pick  R");
  ImGui::SameLine();
  cmd.button("adj.diff", half, "Diff  D");
  draw_diff_class();
  draw_region_list();
}

// Which class the diff view shows: any disagreement, or one class's.
void DecisionPanel::draw_diff_class() {
  const auto& schema = ws_.schema();
  const int diff_class = ws_.diff_class();
  ImGui::SetNextItemWidth(-1);
  const std::string preview =
      diff_class < 0 ? "diff: any class"
                     : "diff: " + schema.tissue[static_cast<std::size_t>(diff_class)].name;
  if (ImGui::BeginCombo("##diffclass", preview.c_str())) {
    if (ImGui::Selectable("any class", diff_class < 0)) ws_.set_diff_class(-1);
    for (const auto& t : schema.tissue)
      if (ImGui::Selectable(t.name.c_str(), diff_class == t.id)) ws_.set_diff_class(t.id);
    ImGui::EndCombo();
  }
}

// Every disagreement region with its two classes and a take-1/take-2 pair.
void DecisionPanel::draw_region_list() {
  const auto& schema = ws_.schema();
  const auto& d = ws_.doc()->disagreement();
  // Largest regions first: they matter most.
  std::vector<int> order(d.regions.size());
  std::iota(order.begin(), order.end(), 1);
  std::sort(order.begin(), order.end(), [&](int a, int b) {
    return d.regions[static_cast<std::size_t>(a - 1)].area >
           d.regions[static_cast<std::size_t>(b - 1)].area;
  });
  ImGui::BeginChild("##regions", ImVec2(0, em(7.f)), true);
  for (int r : order) {
    ImGui::PushID(r);
    const auto& reg = d.regions[static_cast<std::size_t>(r - 1)];
    ImGui::Text("#%-3d %6d px", r, reg.area);
    if (ImGui::IsItemHovered() && schema.valid_tissue(reg.class_a) &&
        schema.valid_tissue(reg.class_b))
      ImGui::SetTooltip("Annotator 1: %s, Annotator 2: %s",
                        schema.tissue[static_cast<std::size_t>(reg.class_a)].name.c_str(),
                        schema.tissue[static_cast<std::size_t>(reg.class_b)].name.c_str());
    ImGui::SameLine();
    if (ImGui::SmallButton("1")) ws_.take_region(r, 0);
    ImGui::SameLine();
    if (ImGui::SmallButton("2")) ws_.take_region(r, 1);
    ImGui::PopID();
  }
  ImGui::EndChild();
}

void DecisionPanel::draw_repaint(float half) {
  ImGui::TextDisabled("REPAINT");
  tool_buttons(ws_.commands(), half);
  for (const auto& t : ws_.schema().tissue)
    if (class_row(t, ws_.tools().cls == t.id, 1.f)) ws_.tools().cls = t.id;
}

void DecisionPanel::draw_final(float half) {
  CommandList& cmd = ws_.commands();
  ImGui::TextDisabled("FINAL CLEARNESS DEGREE");
  cd_buttons(cmd, ws_.schema());
  cmd.button("edit.undo", half);
  ImGui::SameLine();
  cmd.button("edit.redo", half);
  const auto comp = ws_.doc()->final_label().completeness();
  if (!comp.done()) ImGui::TextWrapped("Not ready: %s", comp.message().c_str());
  cmd.button("adj.accept", -1, "Accept and next  Ctrl+Enter");
}

}  // namespace excap::studio
