// Extraction settings, the Extract button, the worker's progress and report.
#include <cstdio>

#include "annotator/ui/clips_panels.h"
#include "annotator/ui/clips_workspace.h"

namespace excap::studio {

void ExtractPanel::draw_content() {
  StudioSettings& st = ws_.settings();
  ImGui::TextDisabled("EXTRACT FRAMES");
  ImGui::SetNextItemWidth(-em(6.f));
  ImGui::InputDouble("frames / s", &st.extract_fps, 0.5, 1.0, "%.2f");
  st.extract_fps = std::max(0.01, st.extract_fps);
  ImGui::RadioButton("every clip", &scope_, 0);
  ImGui::SameLine();
  ImGui::RadioButton("selected clip", &scope_, 1);
  ImGui::TextWrapped(
      "Near-duplicates are dropped and the overlay outside the field of view is blanked, "
      "as set in project.json.");
  const ExtractJob::Progress p = ws_.job().progress();
  const bool can =
      !p.running && !ws_.clips().empty() && (scope_ == 0 || !ws_.selected_clip().empty());
  if (!can) ImGui::BeginDisabled();
  if (ImGui::Button("Extract", ImVec2(-1, 0)))
    ws_.start_extract(scope_ == 0 ? "" : ws_.selected_clip());
  if (!can) ImGui::EndDisabled();
  if (ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled))
    ImGui::SetTooltip("%s", ws_.commands().tooltip_text("clips.extract").c_str());

  if (p.running || p.finished) {
    char overlay[64];
    std::snprintf(overlay, sizeof overlay, "%lld / %lld", p.done, p.total);
    ImGui::ProgressBar(p.total > 0 ? static_cast<float>(p.done) / static_cast<float>(p.total) : 0.f,
                       ImVec2(-1, 0), overlay);
  }
  if (p.running) ws_.commands().button("clips.cancel", -1, "Cancel  Esc");
  if (p.finished) {
    if (!p.error.empty())
      ImGui::TextColored(ImVec4(1, 0.4f, 0.35f, 1), "Failed: %s", p.error.c_str());
    else {
      ImGui::Text("%s: %lld written, %lld kept,", p.cancelled ? "Cancelled" : "Finished",
                  p.report.written, p.report.kept_existing);
      ImGui::Text("%lld duplicates skipped, %lld failed", p.report.duplicates_skipped,
                  p.report.failed);
      for (const auto& w : p.report.warnings) ImGui::TextWrapped("! %s", w.c_str());
    }
  }
}

}  // namespace excap::studio
