// The frame with its mask overlay and the tool feedback; forwards pointer
// input to the mask editor and autosaves after every completed edit.
#include <algorithm>

#include "annotator/ui/label_panels.h"
#include "annotator/ui/label_workspace.h"

namespace excap::studio {

void LabelCanvasPanel::draw_content() {
  auto* doc = ws_.doc();
  if (!doc) {
    ImGui::TextWrapped("%s", ws_.entries().empty()
                                 ? "No frames are assigned to you in this project."
                                 : ws_.last_message().c_str());
    return;
  }
  StudioSettings& st = ws_.settings();
  MaskEditor& editor = ws_.editor();
  editor.sync(ws_.palette(),
              st.outline ? annotator::OverlayMode::Outline : annotator::OverlayMode::Fill);
  const float alpha =
      st.show_mask ? (st.outline ? std::max(st.overlay_opacity, 0.85f) : st.overlay_opacity) : 0.f;
  const float bar = ImGui::GetFrameHeightWithSpacing();
  ImVec2 avail = ImGui::GetContentRegionAvail();
  const bool suggested = ws_.suggestion_shown();  // the suggestion in place of the mask
  const CanvasInput in = ws_.view().draw(
      "##canvas", editor.image_texture(),
      suggested ? ws_.suggestion_texture() : editor.overlay_texture(), doc->size(),
      suggested ? std::max(st.overlay_opacity, 0.5f) : alpha, ImVec2(avail.x, avail.y - bar));
  if (ws_.trace().on()) {
    const cv::Size image = doc->size();
    ws_.trace().target(
        "canvas " + doc->frame_id(), ws_.view().to_screen({0, 0}),
        ws_.view().to_screen({static_cast<float>(image.width), static_cast<float>(image.height)}));
  }
  ToolState& tools = ws_.tools();
  if (in.wheel != 0.f) {
    tools.radius = std::clamp(tools.radius + (in.wheel > 0 ? 1 : -1), 0, 200);
    st.brush_radius = tools.radius;
  }
  if (ws_.suggestion() && ImGui::GetIO().KeyAlt) {
    if (in.inside && ImGui::IsMouseClicked(ImGuiMouseButton_Left))
      ws_.accept_suggestion(LabelWorkspace::Take::Region, in.pixel_i());
  } else if (editor.handle(in, tools)) {
    ws_.after_edit();
  }
  const auto& schema = ws_.session().project().meta().schema;
  ImU32 colour = IM_COL32(255, 255, 255, 255);
  if (tools.tool != Tool::Eraser && schema.valid_tissue(tools.cls)) {
    const auto& c = schema.tissue[static_cast<std::size_t>(tools.cls)].color;
    colour = IM_COL32(c[0], c[1], c[2], 255);
  }
  editor.draw_feedback(ws_.view(), in, tools, colour);

  // A line under the canvas: pixel, class under the cursor, zoom, tool.
  const auto cd = doc->cd();
  std::string cls = "-";
  if (in.inside) {
    const int v = doc->mask().at<std::uint8_t>(in.pixel_i());
    cls = schema.valid_tissue(v) ? schema.tissue[static_cast<std::size_t>(v)].name : "unlabeled";
  }
  ImGui::Text("%d of %zu  %s   CD: %s   %s   zoom %.0f%%   %s r=%d", ws_.current() + 1,
              ws_.entries().size(), doc->frame_id().c_str(),
              cd ? schema.cd[static_cast<std::size_t>(*cd)].name.c_str() : "not set",
              in.inside ? ("(" + std::to_string(in.pixel_i().x) + "," +
                           std::to_string(in.pixel_i().y) + ") " + cls)
                              .c_str()
                        : "",
              ws_.view().zoom() * 100.f, tool_name(tools.tool), tools.radius);
}

}  // namespace excap::studio
