// The video, the transport buttons, jump to time, and the timeline with the
// clips, the in/out marks and the playhead (click or drag to scrub).
#include <algorithm>
#include <cstdio>

#include <imgui.h>
#include <imgui_stdlib.h>

#include "annotator/ui/clips_panels.h"
#include "annotator/ui/clips_workspace.h"
#include "stage1/stage1.h"

namespace excap::studio {

void PlayerPanel::draw_content() {
  ws_.update_player(ImGui::GetIO().DeltaTime);
  VideoCursor* cursor = ws_.cursor();
  if (!cursor) {
    ImGui::TextWrapped("%s", ws_.status_line().c_str());
    return;
  }
  const float controls = ImGui::GetFrameHeightWithSpacing() * 3.f + em(2.6f);
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  GlTexture& tex = ws_.frame_texture();
  ws_.view().draw("##video", tex.valid() ? tex.id() : nullptr, nullptr, cursor->size(), 0.f,
                  ImVec2(avail.x, avail.y - controls));

  draw_timeline();

  CommandList& cmd = ws_.commands();
  cmd.button("clips.start", 0, "|<");
  ImGui::SameLine();
  cmd.button("clips.sec_back", 0, "<<");
  ImGui::SameLine();
  cmd.button("clips.step_back", 0, "<");
  ImGui::SameLine();
  cmd.button("clips.play", em(4.f), ws_.playing() ? "Pause" : "Play");
  ImGui::SameLine();
  cmd.button("clips.step_fwd", 0, ">");
  ImGui::SameLine();
  cmd.button("clips.sec_fwd", 0, ">>");
  ImGui::SameLine();
  const double fps = cursor->fps() > 0 ? cursor->fps() : 1.0;
  ImGui::Text("  %s   frame %lld / %lld", format_time(ws_.position() / fps).c_str(), ws_.position(),
              cursor->frame_count());

  ImGui::SetNextItemWidth(em(7.f));
  const bool go = ImGui::InputTextWithHint("##jump", "mm:ss or frame", jump_, sizeof jump_,
                                           ImGuiInputTextFlags_EnterReturnsTrue);
  ImGui::SameLine();
  if (ImGui::Button("Go") || go) {
    try {
      ws_.seek(parse_frame_position(jump_, fps));
    } catch (const std::exception& e) {
      ws_.set_message(e.what());
    }
  }
  ImGui::SameLine();
  cmd.button("clips.in", 0, "In  I");
  ImGui::SameLine();
  cmd.button("clips.out", 0, "Out  O");
  ImGui::SameLine();
  const auto mark = [&](long long f) { return f < 0 ? std::string("-") : std::to_string(f); };
  ImGui::Text("%s .. %s", mark(ws_.mark_in()).c_str(), mark(ws_.mark_out()).c_str());
  ImGui::SameLine();
  ImGui::SetNextItemWidth(std::max(em(6.f), ImGui::GetContentRegionAvail().x - em(7.f)));
  ImGui::InputTextWithHint("##newnote", "note for the new clip", &ws_.note());
  ImGui::SameLine();
  cmd.button("clips.add", -1, "Add clip  A");
}

void PlayerPanel::draw_timeline() {
  const Video* v = ws_.video();
  VideoCursor* cursor = ws_.cursor();
  const long long n = cursor->frame_count();
  const ImVec2 p0 = ImGui::GetCursorScreenPos();
  const float w = ImGui::GetContentRegionAvail().x, h = em(2.2f);
  ImGui::InvisibleButton("##timeline", ImVec2(w, h));
  const auto x_of = [&](long long f) {
    return p0.x + w * static_cast<float>(f) / static_cast<float>(std::max<long long>(n, 1));
  };
  if (ImGui::IsItemActive()) {
    const float t = std::clamp((ImGui::GetIO().MousePos.x - p0.x) / w, 0.f, 1.f);
    ws_.seek(static_cast<long long>(t * static_cast<float>(n - 1) + 0.5f));
  }
  ImDrawList* dl = ImGui::GetWindowDrawList();
  dl->AddRectFilled(p0, ImVec2(p0.x + w, p0.y + h), IM_COL32(40, 42, 48, 255), em(0.2f));
  // Ticks every 10% with the time.
  const double fps = cursor->fps() > 0 ? cursor->fps() : 1.0;
  for (int k = 0; k <= 10; ++k) {
    const float x = p0.x + w * k / 10.f;
    dl->AddLine(ImVec2(x, p0.y + h * 0.75f), ImVec2(x, p0.y + h), IM_COL32(120, 120, 130, 255));
  }
  for (const auto& c : ws_.clips()) {
    if (!v || c.video != v->id) continue;
    const bool sel = c.id == ws_.selected_clip();
    dl->AddRectFilled(ImVec2(x_of(c.start), p0.y + h * 0.15f),
                      ImVec2(std::max(x_of(c.end), x_of(c.start) + 2.f), p0.y + h * 0.65f),
                      sel ? IM_COL32(90, 170, 255, 230) : IM_COL32(70, 130, 200, 160), em(0.15f));
  }
  if (ws_.mark_in() >= 0 && ws_.mark_out() >= ws_.mark_in())
    dl->AddRectFilled(ImVec2(x_of(ws_.mark_in()), p0.y + h * 0.65f),
                      ImVec2(x_of(ws_.mark_out() + 1), p0.y + h * 0.8f),
                      IM_COL32(250, 200, 60, 220));
  for (long long m : {ws_.mark_in(), ws_.mark_out()})
    if (m >= 0)
      dl->AddLine(ImVec2(x_of(m), p0.y), ImVec2(x_of(m), p0.y + h), IM_COL32(250, 200, 60, 255),
                  2.f);
  const float px = x_of(ws_.position());
  dl->AddLine(ImVec2(px, p0.y - em(0.2f)), ImVec2(px, p0.y + h), IM_COL32(255, 80, 80, 255), 2.f);
  if (ImGui::IsItemHovered()) {
    const float t = std::clamp((ImGui::GetIO().MousePos.x - p0.x) / w, 0.f, 1.f);
    ImGui::SetTooltip("%s", format_time(t * static_cast<float>(n - 1) / fps).c_str());
  }
}

}  // namespace excap::studio
