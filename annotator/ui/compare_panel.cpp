// Annotator 1 and 2 side by side (one shared view), and the final label
// below, with the diff view and region picking or repainting.
#include <algorithm>

#include "annotator/ui/adjudicate_panels.h"
#include "annotator/ui/adjudicate_workspace.h"

namespace excap::studio {

void ComparePanel::draw_content() {
  if (!ws_.doc()) {
    ImGui::TextWrapped("%s",
                       ws_.allowed() ? "Nothing waiting for a decision." : ws_.refusal().c_str());
    return;
  }
  draw_pair();
  const CanvasInput in = draw_final();
  if (ws_.pick_mode())
    pick_region(in);
  else
    repaint(in);
}

// The two annotations side by side, in one shared view, over 42% of the height.
void ComparePanel::draw_pair() {
  const auto* doc = ws_.doc();
  const auto& schema = ws_.schema();
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  const float spacing = ImGui::GetStyle().ItemSpacing.x;
  const float line = ImGui::GetTextLineHeightWithSpacing();
  const float top_h = std::max(avail.y * 0.42f - line, 32.f);
  const float half = (avail.x - spacing) * 0.5f;
  auto cd_name = [&](std::optional<int> cd) {
    return cd && schema.valid_cd(*cd) ? schema.cd[static_cast<std::size_t>(*cd)].name
                                      : std::string("no CD");
  };
  // Shown as "Annotator 1/2", never by name (double-blind towards the expert too).
  ImGui::Text("%s: %s", annotator_display_name(0).c_str(), cd_name(doc->cd(0)).c_str());
  ImGui::SameLine(half + spacing);
  ImGui::Text("%s: %s", annotator_display_name(1).c_str(), cd_name(doc->cd(1)).c_str());
  const cv::Size size = doc->final_label().size();
  ImGui::BeginGroup();
  ws_.pair_view().draw("##a1", ws_.annotator_texture(0), nullptr, size, 0.f, ImVec2(half, top_h));
  ImGui::EndGroup();
  ImGui::SameLine();
  ImGui::BeginGroup();
  ws_.pair_view().draw("##a2", ws_.annotator_texture(1), nullptr, size, 0.f, ImVec2(half, top_h));
  ImGui::EndGroup();
}

// The final label (or the diff view over it) in the rest of the panel.
CanvasInput ComparePanel::draw_final() {
  StudioSettings& st = ws_.settings();
  MaskEditor& editor = ws_.editor();
  editor.sync(ws_.palette(),
              st.outline ? annotator::OverlayMode::Outline : annotator::OverlayMode::Fill);
  ImGui::Text(
      "Final%s",
      ws_.show_diff()
          ? "  (diff view: magenta = disagree; per class: orange 1 only, blue 2 only, green both)"
          : "");
  const ImVec2 rest = ImGui::GetContentRegionAvail();
  const CanvasInput in = ws_.final_view().draw(
      "##final", editor.image_texture(),
      ws_.show_diff() ? ws_.diff_texture() : editor.overlay_texture(),
      ws_.doc()->final_label().size(),
      ws_.show_diff() ? 0.85f : (st.show_mask ? st.overlay_opacity : 0.f), rest);
  if (ws_.trace().on()) {
    const cv::Size image = ws_.doc()->final_label().size();
    ws_.trace().target("final " + ws_.doc()->frame_id(), ws_.final_view().to_screen({0, 0}),
                       ws_.final_view().to_screen(
                           {static_cast<float>(image.width), static_cast<float>(image.height)}));
  }
  return in;
}

// Region picking: the region under the pointer is outlined; left click takes
// annotator 1's labels there, right click annotator 2's.
void ComparePanel::pick_region(const CanvasInput& in) {
  const auto* doc = ws_.doc();
  const int region = in.inside ? doc->region_at(in.pixel_i()) : 0;
  if (region <= 0) return;
  const auto& reg = doc->disagreement().regions[static_cast<std::size_t>(region - 1)];
  const CanvasView& view = ws_.final_view();
  const cv::Rect b = reg.box;
  ImGui::GetWindowDrawList()->AddRect(
      view.to_screen({static_cast<float>(b.x), static_cast<float>(b.y)}),
      view.to_screen({static_cast<float>(b.br().x), static_cast<float>(b.br().y)}),
      IM_COL32(255, 255, 0, 255), 0, 0, 2.f);
  ImGui::SetTooltip("Region %d (%d px): left click = annotator 1, right click = annotator 2",
                    region, reg.area);
  if (in.pressed) ws_.take_region(region, 0);
  if (in.right_clicked) ws_.take_region(region, 1);
}

// Repainting the final label with the labeling tools.
void ComparePanel::repaint(const CanvasInput& in) {
  const auto& schema = ws_.schema();
  ToolState& tools = ws_.tools();
  MaskEditor& editor = ws_.editor();
  if (in.wheel != 0.f) tools.radius = std::clamp(tools.radius + (in.wheel > 0 ? 1 : -1), 0, 200);
  if (editor.handle(in, tools)) ws_.after_edit();
  ImU32 colour = IM_COL32(255, 255, 255, 255);
  if (schema.valid_tissue(tools.cls)) {
    const auto& c = schema.tissue[static_cast<std::size_t>(tools.cls)].color;
    colour = IM_COL32(c[0], c[1], c[2], 255);
  }
  editor.draw_feedback(ws_.final_view(), in, tools, colour);
}

}  // namespace excap::studio
