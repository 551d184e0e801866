#include "annotator/ui/labeling_widgets.h"

#include <imgui.h>

#include <cstdio>

#include "annotator/ui/mask_editor.h"

namespace excap::studio {

void tool_buttons(CommandList& cmd, float width) {
  for (int t = 0; t < static_cast<int>(Tool::Count); ++t) {
    if (t % 2) ImGui::SameLine();
    const Command* c = cmd.find(std::string("tool.") + tool_name(static_cast<Tool>(t)));
    if (!c) continue;
    const std::string label = c->label + "  " + c->shortcut.text();
    cmd.button(c->id, width, label.c_str());
  }
}

bool class_row(const TissueClass& t, bool selected, float swatch_em) {
  ImGui::PushID(t.id);
  const ImVec4 col(t.color[0] / 255.f, t.color[1] / 255.f, t.color[2] / 255.f, 1.f);
  const float side = ImGui::GetFontSize() * swatch_em;
  ImGui::ColorButton("##c", col, ImGuiColorEditFlags_NoTooltip, ImVec2(side, side));
  ImGui::SameLine();
  char label[96];
  std::snprintf(label, sizeof label, "%s  %s", t.hotkey.c_str(), t.name.c_str());
  const bool clicked = ImGui::Selectable(label, selected);
  ImGui::PopID();
  return clicked;
}

void cd_buttons(CommandList& cmd, const LabelSchema& schema) {
  const float third =
      (ImGui::GetContentRegionAvail().x - 2 * ImGui::GetStyle().ItemSpacing.x) / 3.f;
  for (const auto& d : schema.cd) {
    if (d.id > 0) ImGui::SameLine();
    const std::string label = d.name + " " + d.hotkey;
    cmd.button("cd." + std::to_string(d.id), third, label.c_str());
  }
}

}  // namespace excap::studio
