// Tools, class palette, clearness degree, view options and what the frame
// still needs before it counts as done. Every button is a command.
#include <algorithm>

#include "annotator/ui/label_panels.h"
#include "annotator/ui/label_workspace.h"
#include "annotator/ui/labeling_widgets.h"

namespace excap::studio {

void ToolsPanel::draw_content() {
  // Measured once at the top: every section's rows start at the left edge.
  const float half = (ImGui::GetContentRegionAvail().x - ImGui::GetStyle().ItemSpacing.x) * 0.5f;
  draw_tools(half);
  ImGui::Separator();
  draw_classes();
  ImGui::Separator();
  ImGui::TextDisabled("CLEARNESS DEGREE");
  cd_buttons(ws_.commands(), ws_.session().project().meta().schema);
  ImGui::Separator();
  draw_mask(half);
  draw_suggestion(half);
  ImGui::Separator();
  draw_view(half);
  ImGui::Separator();
  draw_frame_state();
}

void ToolsPanel::draw_tools(float half) {
  ToolState& tools = ws_.tools();
  StudioSettings& st = ws_.settings();
  ImGui::TextDisabled("TOOL");
  tool_buttons(ws_.commands(), half);
  ImGui::SetNextItemWidth(-em(4.5f));
  if (ImGui::SliderInt("radius", &tools.radius, 0, 80)) st.brush_radius = tools.radius;
  if (tools.tool == Tool::Superpixel) {
    ImGui::SetNextItemWidth(-em(4.5f));
    if (ImGui::SliderInt("cell", &tools.superpixel_size, 6, 60))
      st.superpixel_size = tools.superpixel_size;
  }
}

void ToolsPanel::draw_classes() {
  const ToolState& tools = ws_.tools();
  ImGui::TextDisabled("CLASS");
  for (const auto& t : ws_.session().project().meta().schema.tissue) {
    if (class_row(t, tools.cls == t.id && tools.tool != Tool::Eraser, 1.1f)) ws_.set_class(t.id);
    if (ImGui::IsItemHovered())
      ImGui::SetTooltip("%s", ws_.commands().tooltip_text("class." + std::to_string(t.id)).c_str());
  }
}

void ToolsPanel::draw_mask(float half) {
  CommandList& cmd = ws_.commands();
  StudioSettings& st = ws_.settings();
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
}

void ToolsPanel::draw_view(float half) {
  CommandList& cmd = ws_.commands();
  StudioSettings& st = ws_.settings();
  ImGui::TextDisabled("VIEW");
  ImGui::SetNextItemWidth(-em(4.5f));
  ImGui::SliderFloat("opacity", &st.overlay_opacity, 0.f, 1.f, "%.2f");
  cmd.button("view.hide_mask", half, st.show_mask ? "Hide mask  H" : "Show mask  H");
  ImGui::SameLine();
  cmd.button("view.outline", half, "Outline  O");
  cmd.button("view.fit", half, "Fit  Home");
  ImGui::SameLine();
  cmd.button("label.next_todo", half, "Next to do  Enter");
}

// The model's suggestion (pre-labels on): show it, take it whole, by class or by region.
void ToolsPanel::draw_suggestion(float half) {
  const annotator::SuggestionLayer* s = ws_.suggestion();
  if (!s) return;
  const auto& schema = ws_.session().project().meta().schema;
  ImGui::Separator();
  ImGui::TextDisabled("SUGGESTION (run %s)", s->info.run.c_str());
  ImGui::Text("CD %s, uncertainty %.2f",
              schema.valid_cd(s->info.cd)
                  ? schema.cd[static_cast<std::size_t>(s->info.cd)].name.c_str()
                  : "?",
              uncertainty_score(s->info));
  if (ImGui::Button(ws_.suggestion_shown() ? "Hide suggestion" : "Show suggestion", ImVec2(-1, 0)))
    ws_.toggle_suggestion();
  ws_.trace().target_item("suggestion-show");
  if (ImGui::Button("Accept whole", ImVec2(half, 0)))
    ws_.accept_suggestion(LabelWorkspace::Take::Whole);
  ws_.trace().target_item("suggestion-whole");
  ImGui::SameLine();
  if (ImGui::Button("Accept class", ImVec2(half, 0)))
    ws_.accept_suggestion(LabelWorkspace::Take::Class);
  ws_.trace().target_item("suggestion-class");
  ImGui::TextDisabled("Alt+click: accept the region under the cursor");
}

// What the frame still needs, the undo memory, and a failed save in red.
void ToolsPanel::draw_frame_state() {
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
