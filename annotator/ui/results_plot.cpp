// Charts drawn with ImGui draw lists: line plots over iterations, the
// confusion matrix and per-class bars. No plotting library: three charts
// do not justify one.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include <imgui.h>

#include "annotator/ui/results_panels.h"

namespace excap::studio {

namespace {

struct Range {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  void add(double v) {
    if (!std::isfinite(v)) return;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  bool empty() const { return lo > hi; }
  void pad() {  // a flat series still gets a visible band
    if (hi - lo < 1e-12) lo -= 0.5 * (std::abs(lo) + 1e-3), hi += 0.5 * (std::abs(hi) + 1e-3);
  }
};

// About five round steps (1, 2 or 5 times a power of ten) over the range.
double tick_step(double span) {
  const double raw = span / 5.0;
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0})
    if (raw <= m * p) return m * p;
  return 10 * p;
}

std::string short_number(double v) {
  char buf[32];
  const double a = std::abs(v);
  if (a != 0 && (a < 1e-3 || a >= 1e5))
    std::snprintf(buf, sizeof buf, "%.1e", v);
  else
    std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

struct Frame {
  ImVec2 min, max;
  Range x, y;
  ImVec2 at(double xv, double yv) const {
    const double fx = (xv - x.lo) / (x.hi - x.lo), fy = (yv - y.lo) / (y.hi - y.lo);
    return ImVec2(min.x + static_cast<float>(fx) * (max.x - min.x),
                  max.y - static_cast<float>(fy) * (max.y - min.y));
  }
};

void draw_axes(ImDrawList* dl, const Frame& f) {
  const ImU32 grid = IM_COL32(80, 80, 90, 120), text = ImGui::GetColorU32(ImGuiCol_TextDisabled);
  const float fs = ImGui::GetFontSize();
  const double ys = tick_step(f.y.hi - f.y.lo);
  for (double v = std::ceil(f.y.lo / ys) * ys; v <= f.y.hi + ys * 1e-6; v += ys) {
    const float py = f.at(f.x.lo, v).y;
    dl->AddLine(ImVec2(f.min.x, py), ImVec2(f.max.x, py), grid);
    const std::string s = short_number(std::abs(v) < ys * 1e-6 ? 0.0 : v);
    dl->AddText(ImVec2(f.min.x - ImGui::CalcTextSize(s.c_str()).x - 4, py - fs * 0.5f), text,
                s.c_str());
  }
  const double xs = std::max(1.0, tick_step(f.x.hi - f.x.lo));
  for (double v = std::ceil(f.x.lo / xs) * xs; v <= f.x.hi + 1e-6; v += xs) {
    const float px = f.at(v, f.y.lo).x;
    dl->AddLine(ImVec2(px, f.max.y), ImVec2(px, f.max.y + 4), text);
    const std::string s = short_number(v);
    dl->AddText(ImVec2(px - ImGui::CalcTextSize(s.c_str()).x * 0.5f, f.max.y + 5), text, s.c_str());
  }
  dl->AddRect(f.min, f.max, IM_COL32(120, 120, 130, 255));
}

// The vertical line at the hovered iteration and every series' value there.
void draw_readout(ImDrawList* dl, const Frame& f, const std::vector<PlotSeries>& series) {
  const ImVec2 m = ImGui::GetIO().MousePos;
  if (m.x < f.min.x || m.x > f.max.x || m.y < f.min.y || m.y > f.max.y) return;
  const double it = f.x.lo + (m.x - f.min.x) / (f.max.x - f.min.x) * (f.x.hi - f.x.lo);
  dl->AddLine(ImVec2(m.x, f.min.y), ImVec2(m.x, f.max.y), IM_COL32(220, 220, 220, 120));
  std::string tip;
  for (const auto& s : series) {
    if (s.points->empty()) continue;
    const auto near =
        std::min_element(s.points->begin(), s.points->end(), [it](const auto& a, const auto& b) {
          return std::abs(a.iter - it) < std::abs(b.iter - it);
        });
    tip += s.name + " @" + std::to_string(near->iter) + ": " + short_number(near->value) + "\n";
    dl->AddCircleFilled(f.at(static_cast<double>(near->iter), near->value), 3.f, s.colour);
  }
  if (!tip.empty()) ImGui::SetTooltip("%s", tip.c_str());
}

Frame plot_frame(const std::vector<PlotSeries>& series, ImVec2 origin, ImVec2 size, bool unit_range,
                 float top) {
  const float fs = ImGui::GetFontSize();
  Frame f;
  f.min = ImVec2(origin.x + fs * 3.5f, origin.y + top + fs * 0.4f);
  f.max = ImVec2(origin.x + size.x - fs * 0.5f, origin.y + size.y - fs * 1.4f);
  for (const auto& s : series)
    for (const auto& p : *s.points) f.x.add(static_cast<double>(p.iter)), f.y.add(p.value);
  if (unit_range) f.y.lo = 0, f.y.hi = 1;
  f.x.pad();
  f.y.pad();
  return f;
}

// The title, then a swatch and name per series, wrapped to the width; returns
// the height used.
float draw_legend(ImDrawList* dl, const char* title, const std::vector<PlotSeries>& series,
                  ImVec2 origin, float width) {
  const float fs = ImGui::GetFontSize(), line = fs * 1.2f;
  const ImU32 text = ImGui::GetColorU32(ImGuiCol_Text);
  dl->AddText(origin, text, title);
  float x = origin.x + ImGui::CalcTextSize(title).x + fs, y = origin.y;
  for (const auto& s : series) {
    const float w = fs + ImGui::CalcTextSize(s.name.c_str()).x + fs * 0.6f;
    if (x + w > origin.x + width && x > origin.x) x = origin.x + fs, y += line;
    dl->AddRectFilled(ImVec2(x, y + fs * 0.25f), ImVec2(x + fs * 0.7f, y + fs * 0.95f), s.colour);
    dl->AddText(ImVec2(x + fs * 0.9f, y), text, s.name.c_str());
    x += w;
  }
  return y - origin.y + line;
}

}  // namespace

ImU32 series_colour(int i) {
  static const ImU32 colours[] = {
      IM_COL32(90, 170, 255, 255), IM_COL32(255, 150, 60, 255),  IM_COL32(110, 210, 110, 255),
      IM_COL32(230, 90, 110, 255), IM_COL32(190, 140, 250, 255), IM_COL32(230, 210, 90, 255),
      IM_COL32(80, 210, 210, 255), IM_COL32(240, 140, 210, 255), IM_COL32(200, 200, 200, 255)};
  return colours[static_cast<std::size_t>(i) % (sizeof colours / sizeof colours[0])];
}

std::string percent_text(double fraction) {
  if (!std::isfinite(fraction)) return "-";
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100 * fraction);
  return buf;
}

void draw_line_plot(const char* id, const char* title, const std::vector<PlotSeries>& series,
                    ImVec2 size, bool unit_range) {
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  ImGui::InvisibleButton(id, size);
  const float top = draw_legend(dl, title, series, origin, size.x);
  Frame f = plot_frame(series, origin, size, unit_range, top);
  if (f.x.empty() || f.y.empty()) {
    dl->AddText(ImVec2(origin.x, origin.y + ImGui::GetFontSize() * 1.5f),
                ImGui::GetColorU32(ImGuiCol_TextDisabled), "no points in metrics.jsonl");
    return;
  }
  draw_axes(dl, f);
  dl->PushClipRect(f.min, f.max, true);
  for (const auto& s : series) {
    std::vector<ImVec2> pts;
    for (const auto& p : *s.points) pts.push_back(f.at(static_cast<double>(p.iter), p.value));
    if (pts.size() == 1) dl->AddCircleFilled(pts[0], 3.f, s.colour);
    dl->AddPolyline(pts.data(), static_cast<int>(pts.size()), s.colour, 0, 1.5f);
  }
  dl->PopClipRect();
  if (ImGui::IsItemHovered()) draw_readout(dl, f, series);
}

void draw_confusion(const std::vector<std::vector<long long>>& confusion,
                    const std::vector<std::string>& names, float cell) {
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const ImVec2 o = ImGui::GetCursorScreenPos();
  const float label_w = cell * 1.3f, fs = ImGui::GetFontSize();
  const int n = static_cast<int>(confusion.size());
  const ImU32 text = ImGui::GetColorU32(ImGuiCol_Text);
  for (int r = 0; r < n; ++r) {
    long long row_sum = 0;
    for (long long v : confusion[static_cast<std::size_t>(r)]) row_sum += v;
    const std::string name =
        r < static_cast<int>(names.size()) ? names[static_cast<std::size_t>(r)] : std::to_string(r);
    dl->AddText(ImVec2(o.x, o.y + fs * 1.2f + r * cell + cell * 0.5f - fs * 0.5f), text,
                name.c_str());
    if (r == 0)
      for (int c = 0; c < n; ++c)
        dl->AddText(ImVec2(o.x + label_w + c * cell + 2, o.y),
                    ImGui::GetColorU32(ImGuiCol_TextDisabled),
                    (c < static_cast<int>(names.size()) ? names[static_cast<std::size_t>(c)]
                                                        : std::to_string(c))
                        .c_str());
    for (int c = 0; c < n && c < static_cast<int>(confusion[static_cast<std::size_t>(r)].size());
         ++c) {
      const long long v = confusion[static_cast<std::size_t>(r)][static_cast<std::size_t>(c)];
      const float share = row_sum ? static_cast<float>(v) / row_sum : 0.f;
      const ImVec2 a(o.x + label_w + c * cell, o.y + fs * 1.2f + r * cell);
      const ImVec2 b(a.x + cell - 2, a.y + cell - 2);
      const int g = static_cast<int>(40 + 160 * share);
      dl->AddRectFilled(a, b, r == c ? IM_COL32(30, g, 60, 255) : IM_COL32(g, 40, 50, 255));
      const std::string count = std::to_string(v);
      const ImVec2 ts = ImGui::CalcTextSize(count.c_str());
      dl->AddText(ImVec2(a.x + (cell - ts.x) * 0.5f, a.y + (cell - ts.y) * 0.5f), text,
                  count.c_str());
    }
  }
  ImGui::Dummy(ImVec2(label_w + n * cell, fs * 1.2f + n * cell));
}

void draw_class_bars(const std::vector<std::pair<std::string, double>>& values,
                     const std::vector<ImU32>& colours, float width) {
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const ImVec2 o = ImGui::GetCursorScreenPos();
  const float fs = ImGui::GetFontSize(), row = fs * 1.25f, label_w = fs * 9.f;
  const float bar_w = std::max(fs * 4.f, width - label_w - fs * 3.5f);
  for (std::size_t i = 0; i < values.size(); ++i) {
    const float y = o.y + static_cast<float>(i) * row;
    dl->AddText(ImVec2(o.x, y), ImGui::GetColorU32(ImGuiCol_Text), values[i].first.c_str());
    const double v = values[i].second;
    const ImVec2 a(o.x + label_w, y + 2);
    dl->AddRect(a, ImVec2(a.x + bar_w, y + row - 3), IM_COL32(90, 90, 100, 255));
    if (std::isfinite(v))
      dl->AddRectFilled(
          a, ImVec2(a.x + bar_w * static_cast<float>(std::clamp(v, 0.0, 1.0)), y + row - 3),
          i < colours.size() ? colours[i] : series_colour(0));
    dl->AddText(ImVec2(a.x + bar_w + 4, y), ImGui::GetColorU32(ImGuiCol_Text),
                percent_text(v).c_str());
  }
  ImGui::Dummy(ImVec2(width, row * static_cast<float>(values.size())));
}

}  // namespace excap::studio
