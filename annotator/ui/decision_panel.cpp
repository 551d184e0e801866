// Take 1 / take 2, the disagreement regions, repaint tools, final CD, accept.
#include <cstdio>
#include <numeric>

#include "annotator/ui/adjudicate_panels.h"
#include "annotator/ui/adjudicate_workspace.h"

namespace excap::studio {

void DecisionPanel::draw_content() {
  auto* doc = ws_.doc();
  if (!doc) return;
  CommandList& cmd = ws_.commands();
  const auto& schema = ws_.schema();
  const float half = (ImGui::GetContentRegionAvail().x - ImGui::GetStyle().ItemSpacing.x) * 0.5f;

  ImGui::TextDisabled("WHOLE FRAME");
  cmd.button("adj.take1", half, "Take 1  Ctrl+1");
  ImGui::SameLine();
  cmd.button("adj.take2", half, "Take 2  Ctrl+2");

  const auto& d = doc->disagreement();
  const int n_regions = static_cast<int>(d.regions.size());
  ImGui::TextDisabled("REGIONS (%d, %lld px)", n_regions, doc->disagree_pixels());
  cmd.button("adj.pick", half, "Pick  R");
  ImGui::SameLine();
  cmd.button("adj.diff", half, "Diff  D");
  int diff_class = ws_.diff_class();
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
  // Largest regions first: they matter most.
  std::vector<int> order(static_cast<std::size_t>(n_regions));
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
    if (ImGui::IsItemHovered() && ws_.schema().valid_tissue(reg.class_a) &&
        ws_.schema().valid_tissue(reg.class_b))
      ImGui::SetTooltip("Annotator 1: %s, Annotator 2: %s",
                        ws_.schema().tissue[static_cast<std::size_t>(reg.class_a)].name.c_str(),
                        ws_.schema().tissue[static_cast<std::size_t>(reg.class_b)].name.c_str());
    ImGui::SameLine();
    if (ImGui::SmallButton("1")) ws_.take_region(r, 0);
    ImGui::SameLine();
    if (ImGui::SmallButton("2")) ws_.take_region(r, 1);
    ImGui::PopID();
  }
  ImGui::EndChild();

  ImGui::TextDisabled("REPAINT");
  for (int t = 0; t < static_cast<int>(Tool::Count); ++t) {
    if (t % 2) ImGui::SameLine();
    const Command* c = cmd.find(std::string("tool.") + tool_name(static_cast<Tool>(t)));
    if (c) cmd.button(c->id, half, (c->label + "  " + c->shortcut.text()).c_str());
  }
  for (const auto& t : schema.tissue) {
    ImGui::PushID(t.id);
    ImGui::ColorButton("##c", ImVec4(t.color[0] / 255.f, t.color[1] / 255.f, t.color[2] / 255.f, 1),
                       ImGuiColorEditFlags_NoTooltip, ImVec2(em(1.f), em(1.f)));
    ImGui::SameLine();
    char label[96];
    std::snprintf(label, sizeof label, "%s  %s", t.hotkey.c_str(), t.name.c_str());
    if (ImGui::Selectable(label, ws_.tools().cls == t.id)) ws_.tools().cls = t.id;
    ImGui::PopID();
  }

  ImGui::Separator();
  ImGui::TextDisabled("FINAL CLEARNESS DEGREE");
  const float third =
      (ImGui::GetContentRegionAvail().x - 2 * ImGui::GetStyle().ItemSpacing.x) / 3.f;
  for (const auto& c : schema.cd) {
    if (c.id > 0) ImGui::SameLine();
    cmd.button("cd." + std::to_string(c.id), third, (c.name + " " + c.hotkey).c_str());
  }
  cmd.button("edit.undo", half);
  ImGui::SameLine();
  cmd.button("edit.redo", half);
  const auto comp = doc->final_label().completeness();
  if (!comp.done()) ImGui::TextWrapped("Not ready: %s", comp.message().c_str());
  cmd.button("adj.accept", -1, "Accept and next  Ctrl+Enter");
}

}  // namespace excap::studio
