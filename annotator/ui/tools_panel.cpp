// Tools, class palette, clearness degree, view options and what the frame
// still needs before it counts as done. Every button is a command.
#include <cstdio>

#include "annotator/ui/label_panels.h"
#include "annotator/ui/label_workspace.h"

namespace excap::studio {

void ToolsPanel::draw_content() {
  CommandList& cmd = ws_.commands();
  const auto& schema = ws_.session().project().meta().schema;
  ToolState& tools = ws_.tools();
  StudioSettings& st = ws_.settings();
  const float half = (ImGui::GetContentRegionAvail().x - ImGui::GetStyle().ItemSpacing.x) * 0.5f;

  ImGui::TextDisabled("TOOL");
  for (int t = 0; t < static_cast<int>(Tool::Count); ++t) {
    if (t % 2) ImGui::SameLine();
    const Command* c = cmd.find(std::string("tool.") + tool_name(static_cast<Tool>(t)));
    if (!c) continue;
    const std::string label = c->label + "  " + c->shortcut.text();
    cmd.button(c->id, half, label.c_str());
  }
  ImGui::SetNextItemWidth(-em(4.5f));
  if (ImGui::SliderInt("radius", &tools.radius, 0, 80)) st.brush_radius = tools.radius;
  if (tools.tool == Tool::Superpixel) {
    ImGui::SetNextItemWidth(-em(4.5f));
    if (ImGui::SliderInt("cell", &tools.superpixel_size, 6, 60))
      st.superpixel_size = tools.superpixel_size;
  }

  ImGui::Separator();
  ImGui::TextDisabled("CLASS");
  for (const auto& t : schema.tissue) {
    ImGui::PushID(t.id);
    const ImVec4 col(t.color[0] / 255.f, t.color[1] / 255.f, t.color[2] / 255.f, 1.f);
    ImGui::ColorButton("##c", col, ImGuiColorEditFlags_NoTooltip, ImVec2(em(1.1f), em(1.1f)));
    ImGui::SameLine();
    char label[96];
    std::snprintf(label, sizeof label, "%s  %s", t.hotkey.c_str(), t.name.c_str());
    if (ImGui::Selectable(label, tools.cls == t.id && tools.tool != Tool::Eraser))
      ws_.set_class(t.id);
    if (ImGui::IsItemHovered())
      ImGui::SetTooltip("%s", cmd.tooltip_text("class." + std::to_string(t.id)).c_str());
    ImGui::PopID();
  }

  ImGui::Separator();
  ImGui::TextDisabled("CLEARNESS DEGREE");
  const float third =
      (ImGui::GetContentRegionAvail().x - 2 * ImGui::GetStyle().ItemSpacing.x) / 3.f;
  for (const auto& d : schema.cd) {
    if (d.id > 0) ImGui::SameLine();
    const std::string label = d.name + " " + d.hotkey;
    cmd.button("cd." + std::to_string(d.id), third, label.c_str());
  }

  ImGui::Separator();
  ImGui::TextDisabled("MASK");
  cmd.button("edit.fill_unlabeled", -1, "Fill unlabeled with class  Shift+F");
  ImGui::SetNextItemWidth(em(5.f));
  ImGui::InputInt("##islands", &st.island_min_pixels, 10, 100);
  st.island_min_pixels = std::max(st.island_min_pixels, 1);
  ImGui::SameLine();
  cmd.button("edit.remove_islands", -1, "Remove islands < N px");
  cmd.button("edit.undo", half);
  ImGui::SameLine();
  cmd.button("edit.redo", half);

  ImGui::Separator();
  ImGui::TextDisabled("VIEW");
  ImGui::SetNextItemWidth(-em(4.5f));
  ImGui::SliderFloat("opacity", &st.overlay_opacity, 0.f, 1.f, "%.2f");
  cmd.button("view.hide_mask", half, st.show_mask ? "Hide mask  H" : "Show mask  H");
  ImGui::SameLine();
  cmd.button("view.outline", half, "Outline  O");
  cmd.button("view.fit", half, "Fit  Home");
  ImGui::SameLine();
  cmd.button("label.next_todo", half, "Next to do  Enter");

  ImGui::Separator();
  if (auto* doc = ws_.doc()) {
    const auto c = doc->completeness();
    ImGui::TextColored(c.done() ? ImVec4(0.4f, 0.85f, 0.45f, 1) : ImVec4(0.95f, 0.75f, 0.3f, 1),
                       "%s", c.done() ? "Frame is done" : "Not done yet:");
    if (!c.done()) ImGui::TextWrapped("%s", c.message().c_str());
    ImGui::TextDisabled("Undo steps %zu (%.1f MB)", doc->history().undo_depth(),
                        doc->history().bytes() / 1048576.0);
  }
  if (!ws_.save_error().empty())
    ImGui::TextColored(ImVec4(1, 0.35f, 0.3f, 1), "%s", ws_.save_error().c_str());
}

}  // namespace excap::studio
