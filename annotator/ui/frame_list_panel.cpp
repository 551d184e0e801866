// The user's own frames: filter, status, progress, time spent. Shows nothing
// that depends on another annotator (double-blind).
#include <cstdio>
#include <cstring>

#include "annotator/ui/label_panels.h"
#include "annotator/ui/label_workspace.h"

namespace excap::studio {

using annotator::FrameStatus;

namespace {
std::string hms(double s) {
  char buf[32];
  const int t = static_cast<int>(s);
  std::snprintf(buf, sizeof buf, "%d:%02d:%02d", t / 3600, (t / 60) % 60, t % 60);
  return buf;
}
ImVec4 status_colour(FrameStatus s) {
  switch (s) {
    case FrameStatus::New:
      return ImVec4(0.65f, 0.65f, 0.7f, 1);
    case FrameStatus::InProgress:
      return ImVec4(0.95f, 0.75f, 0.3f, 1);
    case FrameStatus::Done:
      return ImVec4(0.4f, 0.85f, 0.45f, 1);
  }
  return ImVec4(1, 1, 1, 1);
}
}  // namespace

void FrameListPanel::draw_content() {
  const auto& entries = ws_.entries();
  int done = 0;
  double total_time = 0;
  for (const auto& e : entries) {
    done += e.status == FrameStatus::Done;
    total_time += e.time_spent_s;
  }
  const int n = static_cast<int>(entries.size());
  ImGui::Text("Done %d of %d", done, n);
  char overlay[64];
  std::snprintf(overlay, sizeof overlay, "%d%%", n ? done * 100 / n : 0);
  ImGui::ProgressBar(n ? static_cast<float>(done) / n : 0.f, ImVec2(-1, 0), overlay);
  ImGui::TextDisabled("Time spent %s", hms(total_time).c_str());
  ImGui::Separator();
  ImGui::SetNextItemWidth(-1);
  ImGui::InputTextWithHint("##filter", "filter by id", filter_, sizeof filter_);
  const char* kinds[] = {"all", "new", "in progress", "done"};
  ImGui::SetNextItemWidth(-1);
  ImGui::Combo("##status", &status_filter_, kinds, 4);

  ImGui::BeginChild("##frames", ImVec2(0, 0), true);
  const bool follow = last_current_ != ws_.current();
  last_current_ = ws_.current();
  for (int i = 0; i < n; ++i) {
    const auto& e = entries[static_cast<std::size_t>(i)];
    if (filter_[0] && e.frame.find(filter_) == std::string::npos) continue;
    if (status_filter_ > 0 && static_cast<int>(e.status) != status_filter_ - 1) continue;
    ImGui::PushID(i);
    ImGui::TextColored(status_colour(e.status), "%s",
                       e.status == FrameStatus::Done         ? "[x]"
                       : e.status == FrameStatus::InProgress ? "[~]"
                                                             : "[ ]");
    ImGui::SameLine();
    char label[160];
    if (e.queue_score)  // an uncertainty-first queue: the model's score says why it is early
      std::snprintf(label, sizeof label, "%3d  %s  u%.2f", i + 1, e.frame.c_str(), *e.queue_score);
    else
      std::snprintf(label, sizeof label, "%3d  %s", i + 1, e.frame.c_str());
    if (ImGui::Selectable(label, i == ws_.current())) ws_.request_open(i);
    if (ImGui::IsItemHovered())
      ImGui::SetTooltip(
          "%s: %s, %s spent%s", e.frame.c_str(), annotator::status_name(e.status),
          hms(e.time_spent_s).c_str(),
          e.queue_score ? "; early: the model is uncertain here (u = uncertainty)" : "");
    if (follow && i == ws_.current()) ImGui::SetScrollHereY(0.3f);
    ImGui::PopID();
  }
  ImGui::EndChild();
}

}  // namespace excap::studio
