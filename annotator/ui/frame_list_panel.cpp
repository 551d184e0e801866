// The user's own frames: filter, status, progress, time spent. Shows nothing
// that depends on another annotator (double-blind).
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <optional>

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

// Cost independent of the list's length: totals come from the session,
// the filtered rows from a cache, and only the visible rows are drawn.
void FrameListPanel::draw_content() {
  const annotator::Session& session = ws_.session();
  const annotator::FrameProgress& p = session.progress();
  const int n = p.total;
  ImGui::Text("Done %d of %d", p.done, n);
  char overlay[64];
  std::snprintf(overlay, sizeof overlay, "%d%%", n ? p.done * 100 / n : 0);
  ImGui::ProgressBar(n ? static_cast<float>(p.done) / n : 0.f, ImVec2(-1, 0), overlay);
  ImGui::TextDisabled("Time spent %s", hms(p.time_spent_s).c_str());
  ImGui::Separator();
  ImGui::SetNextItemWidth(-1);
  ImGui::InputTextWithHint("##filter", "filter by id", filter_, sizeof filter_);
  const char* kinds[] = {"all", "new", "in progress", "done"};
  ImGui::SetNextItemWidth(-1);
  ImGui::Combo("##status", &status_filter_, kinds, 4);
  std::optional<FrameStatus> status;
  if (status_filter_ > 0) status = static_cast<FrameStatus>(status_filter_ - 1);
  draw_rows(rows_.rows(session, filter_, status));
}

void FrameListPanel::draw_rows(const std::vector<int>& rows) {
  ImGui::BeginChild("##frames", ImVec2(0, 0), true);
  if (last_current_ != ws_.current()) {
    // Scroll to the frame just opened; it may lie outside the drawn rows.
    const int row = rows_.row_of(ws_.current());
    if (row >= 0)
      ImGui::SetScrollY(
          std::max(0.f, static_cast<float>(row) * ImGui::GetTextLineHeightWithSpacing() -
                            ImGui::GetWindowHeight() * 0.3f));
  }
  last_current_ = ws_.current();
  ImGuiListClipper clipper;
  clipper.Begin(static_cast<int>(rows.size()));
  while (clipper.Step())
    for (int r = clipper.DisplayStart; r < clipper.DisplayEnd; ++r)
      draw_row(rows[static_cast<std::size_t>(r)]);
  ImGui::EndChild();
}

void FrameListPanel::draw_row(int i) {
  const annotator::FrameEntry& e = ws_.entries()[static_cast<std::size_t>(i)];
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
  ImGui::PopID();
}

}  // namespace excap::studio
