// The triage tab: p(clear) and the tissue shares along the video as strips,
// the kept frames as the contact sheet; a click jumps to that moment in Clips.
#include <imgui.h>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "annotator/ui/results_panels.h"
#include "annotator/ui/results_workspace.h"

namespace excap::studio {

using annotator::TriageSeries;

namespace {

// frames.csv names a tissue lower-cased with anything but letters and digits as '_'.
std::string column_name(const std::string& name) {
  std::string out;
  for (char c : name)
    out += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(c)) : '_';
  return out;
}

ImU32 tissue_colour(const LabelSchema& schema, const std::string& share, float alpha) {
  for (const auto& t : schema.tissue)
    if (column_name(t.name) == share)
      return IM_COL32(t.color[0], t.color[1], t.color[2], static_cast<int>(255 * alpha));
  return IM_COL32(200, 200, 200, static_cast<int>(255 * alpha));
}

// The row nearest to x along the strips' time axis.
std::size_t row_at(const TriageSeries& t, float x, float x0, float w) {
  const double span = std::max(1e-9, t.time_s.back() - t.time_s.front());
  const double at = t.time_s.front() + (x - x0) / w * span;
  const auto it = std::lower_bound(t.time_s.begin(), t.time_s.end(), at);
  std::size_t i = static_cast<std::size_t>(it - t.time_s.begin());
  if (i >= t.time_s.size()) i = t.time_s.size() - 1;
  if (i > 0 && at - t.time_s[i - 1] < t.time_s[i] - at) --i;
  return i;
}

}  // namespace

void ResultsViewPanel::draw_triage() {
  const ResultsSnapshot* s = ws_.snapshot();
  if (s->triage.empty()) {
    ImGui::TextWrapped(
        "No triage results: excap triage VIDEO --run DIR/runs/NAME --out DIR/triage");
    return;
  }
  const int i = std::max(0, ws_.selected_triage());
  const TriageSeries& t = s->triage[static_cast<std::size_t>(i)];
  ImGui::Text("%s", t.video.string().c_str());
  ImGui::TextDisabled("%zu frames triaged, %zu kept%s", t.frame.size(), t.kept.size(),
                      t.video_id.empty()
                          ? "; not a video of this project (no jump to Clips)"
                          : ("; video " + t.video_id + ", click to open it in Clips").c_str());
  if (t.frame.empty()) return;
  draw_triage_strips(t);
  ImGui::Separator();
  draw_contact_sheet(t);
}

void ResultsViewPanel::draw_triage_strips(const TriageSeries& t) {
  const ResultsSnapshot* s = ws_.snapshot();
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const float fs = ImGui::GetFontSize(), label_w = fs * 8.f;
  const ImVec2 o = ImGui::GetCursorScreenPos();
  const float w = ImGui::GetContentRegionAvail().x - label_w - fs;
  const float p_h = fs * 4.f, strip_h = fs * 1.1f;
  const float total = p_h + strip_h * static_cast<float>(t.shares.size()) + fs * 1.4f;
  const float x0 = o.x + label_w,
              span = static_cast<float>(std::max(1e-9, t.time_s.back() - t.time_s.front()));
  auto x_of = [&](double time) {
    return x0 + static_cast<float>(time - t.time_s.front()) / span * w;
  };
  const ImU32 text = ImGui::GetColorU32(ImGuiCol_Text);
  dl->AddText(ImVec2(o.x, o.y + p_h * 0.5f - fs * 0.5f), text, "p(clear)");
  dl->AddRect(ImVec2(x0, o.y), ImVec2(x0 + w, o.y + p_h), IM_COL32(120, 120, 130, 255));
  std::vector<ImVec2> line;
  for (std::size_t r = 0; r < t.p_clear.size(); ++r)
    if (std::isfinite(t.p_clear[r]))
      line.push_back(
          ImVec2(x_of(t.time_s[r]), o.y + p_h * (1.f - static_cast<float>(t.p_clear[r]))));
  dl->AddPolyline(line.data(), static_cast<int>(line.size()), series_colour(0), 0, 1.5f);
  for (const auto& k : t.kept)
    dl->AddLine(ImVec2(x_of(k.time_s), o.y + p_h - fs * 0.6f), ImVec2(x_of(k.time_s), o.y + p_h),
                IM_COL32(255, 220, 80, 255), 2.f);
  for (std::size_t c = 0; c < t.shares.size(); ++c) {
    const float y = o.y + p_h + strip_h * static_cast<float>(c);
    dl->AddText(ImVec2(o.x, y), text, t.share_names[c].c_str());
    for (std::size_t r = 0; r < t.shares[c].size(); ++r) {
      const float a = x_of(t.time_s[r]);
      const float b = r + 1 < t.time_s.size() ? x_of(t.time_s[r + 1]) : x0 + w;
      const double v = t.shares[c][r];
      if (std::isfinite(v) && v > 0)
        dl->AddRectFilled(
            ImVec2(a, y + 1), ImVec2(std::max(a + 1, b), y + strip_h - 1),
            tissue_colour(s->schema, t.share_names[c], static_cast<float>(std::min(1.0, v))));
    }
  }
  const float axis_y = o.y + p_h + strip_h * static_cast<float>(t.shares.size());
  for (int k = 0; k <= 4; ++k) {
    const double time = t.time_s.front() + span * k / 4.0;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f s", time);
    dl->AddText(ImVec2(x_of(time) - (k == 4 ? ImGui::CalcTextSize(buf).x : 0), axis_y + 2),
                ImGui::GetColorU32(ImGuiCol_TextDisabled), buf);
  }
  ImGui::SetCursorScreenPos(ImVec2(x0, o.y));
  ImGui::InvisibleButton("##strips", ImVec2(w, total - fs * 1.4f));
  const bool clicked = ImGui::IsItemClicked();
  ws_.trace_target("strip " + t.name, ImGui::GetItemRectMin(), ImGui::GetItemRectMax());
  if (ImGui::IsItemHovered()) {
    const std::size_t r = row_at(t, ImGui::GetIO().MousePos.x, x0, w);
    std::string tip = "frame " + std::to_string(t.frame[r]) + " at " + std::to_string(t.time_s[r]) +
                      " s\np(clear) " + percent_text(t.p_clear[r]);
    for (std::size_t c = 0; c < t.shares.size(); ++c)
      tip += "\n" + t.share_names[c] + " " + percent_text(t.shares[c][r]);
    ImGui::SetTooltip("%s", tip.c_str());
    dl->AddLine(ImVec2(x_of(t.time_s[r]), o.y), ImVec2(x_of(t.time_s[r]), axis_y),
                IM_COL32(230, 230, 230, 160));
    if (clicked) ws_.request_jump({"", t.video_id, t.frame[r]});
  }
  ImGui::SetCursorScreenPos(ImVec2(o.x, o.y + total));
  ImGui::Dummy(ImVec2(1, 1));
}

void ResultsViewPanel::draw_contact_sheet(const TriageSeries& t) {
  GlTexture* tex = ws_.texture(sheet_texture_key(std::max(0, ws_.selected_triage())));
  ImGui::TextDisabled("KEPT FRAMES (contact sheet; click a frame to open it in Clips)");
  if (!tex) {
    ImGui::TextDisabled("no contact_sheet.png");
    return;
  }
  ImGui::BeginChild("##sheet", ImVec2(0, 0), false, ImGuiWindowFlags_HorizontalScrollbar);
  const float w = ImGui::GetContentRegionAvail().x;
  const ImVec2 size(w, w * tex->size().height / std::max(1, tex->size().width));
  const ImVec2 o = ImGui::GetCursorScreenPos();
  ImGui::Image(tex->id(), size);
  if (ImGui::IsItemHovered()) {
    const ImVec2 m = ImGui::GetIO().MousePos;
    const int i =
        annotator::sheet_tile_at(t, t.sheet_size, (m.x - o.x) / size.x, (m.y - o.y) / size.y);
    if (i >= 0) {
      const long long frame = t.sheet[static_cast<std::size_t>(i)];
      ImGui::SetTooltip("kept frame %lld: click to open it in Clips", frame);
      if (ImGui::IsItemClicked()) ws_.request_jump({"", t.video_id, frame});
    }
  }
  ImGui::EndChild();
}

}  // namespace excap::studio
