// Imported videos and the clips of the selected one, with editable notes.
#include "annotator/ui/clips_panels.h"
#include "annotator/ui/clips_workspace.h"
#include "stage1/stage1.h"

#include <imgui.h>
#include <imgui_stdlib.h>

#include <vector>

namespace excap::studio {

// Returns true when a click changed the clip list (saved or removed).
bool ClipListPanel::draw_clip(const Clip& c, const Video& v) {
  ImGui::PushID(c.id.c_str());
  const double fps = v.fps > 0 ? v.fps : 1.0;
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
  const bool edited = note != c.note;
  const bool clicked = ImGui::SmallButton(edited ? "Save" : "Del");
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip(
        "%s", edited ? "Save the note" : "Remove the clip (refused once frames were extracted)");
  ImGui::PopID();
  if (!clicked) return false;
  const std::string id = c.id;  // c dies when the list reloads
  if (edited)
    ws_.save_note(id, note);
  else
    ws_.remove_clip(id);
  return true;
}

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
  // This video's clips by index; only the visible ones are drawn.
  std::vector<int> mine;
  const auto& clips = ws_.clips();
  for (std::size_t i = 0; i < clips.size(); ++i)
    if (v && clips[i].video == v->id) mine.push_back(static_cast<int>(i));
  ImGui::TextDisabled("CLIPS OF THIS VIDEO (%zu)", mine.size());
  ImGui::BeginChild("##clips", ImVec2(0, 0), true);
  ImGuiListClipper clipper;
  clipper.Begin(static_cast<int>(mine.size()));
  bool changed = false;
  while (!changed && clipper.Step())
    for (int r = clipper.DisplayStart; r < clipper.DisplayEnd && !changed; ++r)
      changed = draw_clip(clips[static_cast<std::size_t>(mine[static_cast<std::size_t>(r)])], *v);
  clipper.End();  // the list reloaded after a click: its indices are stale
  ImGui::EndChild();
}

}  // namespace excap::studio
