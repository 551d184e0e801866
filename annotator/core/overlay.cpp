#include "annotator/core/overlay.h"

namespace excap::annotator {

OverlayPalette OverlayPalette::from_schema(const LabelSchema& schema) {
  OverlayPalette p;
  for (const auto& t : schema.tissue) {
    if (t.id < 0 || t.id > 254) continue;
    p.rgba[static_cast<std::size_t>(t.id)] = {t.color[0], t.color[1], t.color[2], 255};
  }
  return p;
}

void render_overlay(const cv::Mat& mask, const OverlayPalette& palette, OverlayMode mode,
                    cv::Rect rect, cv::Mat& rgba) {
  CV_Assert(mask.type() == CV_8UC1);
  if (rgba.size() != mask.size() || rgba.type() != CV_8UC4) {
    rgba.create(mask.size(), CV_8UC4);
    rect = cv::Rect(0, 0, mask.cols, mask.rows);
  }
  rect &= cv::Rect(0, 0, mask.cols, mask.rows);
  const int w = mask.cols, h = mask.rows;
  for (int y = rect.y; y < rect.y + rect.height; ++y) {
    const std::uint8_t* m = mask.ptr<std::uint8_t>(y);
    const std::uint8_t* up = mask.ptr<std::uint8_t>(y > 0 ? y - 1 : y);
    const std::uint8_t* down = mask.ptr<std::uint8_t>(y + 1 < h ? y + 1 : y);
    auto* out = rgba.ptr<std::array<std::uint8_t, 4>>(y);
    for (int x = rect.x; x < rect.x + rect.width; ++x) {
      const std::uint8_t v = m[x];
      bool show = true;
      if (mode == OverlayMode::Outline) {
        const std::uint8_t l = m[x > 0 ? x - 1 : x], r = m[x + 1 < w ? x + 1 : x];
        show = l != v || r != v || up[x] != v || down[x] != v;
      }
      out[x] = show ? palette.rgba[v] : std::array<std::uint8_t, 4>{0, 0, 0, 0};
    }
  }
}

cv::Rect overlay_dirty_rect(cv::Rect edited, cv::Size size, OverlayMode mode) {
  if (edited.empty()) return {};
  if (mode == OverlayMode::Outline)
    edited = cv::Rect(edited.x - 1, edited.y - 1, edited.width + 2, edited.height + 2);
  return edited & cv::Rect(cv::Point(0, 0), size);
}

}  // namespace excap::annotator
