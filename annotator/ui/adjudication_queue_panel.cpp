// Frames waiting for the expert.
#include "annotator/ui/adjudicate_panels.h"
#include "annotator/ui/adjudicate_workspace.h"

namespace excap::studio {

void AdjudicationQueuePanel::draw_content() {
  if (!ws_.allowed()) {
    ImGui::TextWrapped("%s", ws_.refusal().c_str());
    return;
  }
  const int waiting = static_cast<int>(ws_.queue().size());
  ImGui::Text("%d waiting, %d decided", waiting, ws_.decided());
  const int total = waiting + ws_.decided();
  ImGui::ProgressBar(total ? static_cast<float>(ws_.decided()) / total : 0.f, ImVec2(-1, 0));
  ImGui::BeginChild("##queue", ImVec2(0, 0), true);
  // Only the visible rows: the queue may hold thousands of frames.
  ImGuiListClipper clipper;
  clipper.Begin(waiting);
  while (clipper.Step())
    for (int i = clipper.DisplayStart; i < clipper.DisplayEnd; ++i)
      if (ImGui::Selectable(ws_.queue()[static_cast<std::size_t>(i)].c_str(), i == ws_.current()))
        ws_.request_open(i);
  ImGui::EndChild();
}

}  // namespace excap::studio
