// Imported videos and the clips of the selected one, with editable notes.
#include "annotator/ui/clips_panels.h"
#include "annotator/ui/clips_workspace.h"
#include "stage1/stage1.h"

#include <imgui.h>
#include <imgui_stdlib.h>

namespace excap::studio {

void ClipListPanel::draw_content() {
  const auto& videos = ws_.videos();
  ImGui::TextDisabled("VIDEOS (%zu)", videos.size());
  if (videos.empty())
    ImGui::TextWrapped("No video imported yet: excap import DIR VIDEO --patient NAME");
  ImGui::BeginChild("##videos", ImVec2(0, em(6.f)), true);
  for (int i = 0; i < static_cast<int>(videos.size()); ++i) {
    const Video& v = videos[static_cast<std::size_t>(i)];
    const std::string label = v.id + "  " + v.patient + "  " + format_time(v.duration_s);
    if (ImGui::Selectable(label.c_str(), i == ws_.selected_video())) ws_.select_video(i);
  }
  ImGui::EndChild();

  const Video* v = ws_.video();
  int count = 0;
  for (const auto& c : ws_.clips()) count += v && c.video == v->id;
  ImGui::TextDisabled("CLIPS OF THIS VIDEO (%d)", count);
  ImGui::BeginChild("##clips", ImVec2(0, 0), true);
  for (const auto& c : ws_.clips()) {
    if (!v || c.video != v->id) continue;
    ImGui::PushID(c.id.c_str());
    const double fps = v->fps > 0 ? v->fps : 1.0;
    const std::string label = c.id + "   " + format_time(c.start / fps).substr(3, 9) + " - " +
                              format_time(c.end / fps).substr(3, 9);
    if (ImGui::Selectable(label.c_str(), c.id == ws_.selected_clip())) ws_.select_clip(c.id);
    if (ImGui::IsItemHovered())
      ImGui::SetTooltip("frames %lld..%lld, chosen by %s", c.start, c.end - 1, c.by.c_str());
    auto it = note_edits_.find(c.id);
    std::string& note = it == note_edits_.end() ? (note_edits_[c.id] = c.note) : it->second;
    ImGui::SetNextItemWidth(-em(3.5f));
    ImGui::InputTextWithHint("##note", "note", &note);
    ImGui::SameLine();
    if (ImGui::SmallButton(note != c.note ? "Save" : "Del")) {
      if (note != c.note)
        ws_.save_note(c.id, note);
      else
        ws_.remove_clip(c.id);
    }
    if (ImGui::IsItemHovered())
      ImGui::SetTooltip("%s", note != c.note
                                  ? "Save the note"
                                  : "Remove the clip (refused once frames were extracted)");
    ImGui::PopID();
  }
  ImGui::EndChild();
}

}  // namespace excap::studio
