// The mask as colours: RGBA pixels for the canvas texture, computed for a
// rectangle only, so a stroke re-colours (and re-uploads) just what it changed.
#pragma once
#include <array>
#include <cstdint>

#include <opencv2/core.hpp>

#include "store/schema.h"

namespace excap::annotator {

enum class OverlayMode { Fill, Outline };

// 256-entry RGBA lookup from the schema's colours; unlabeled (and ids outside
// the schema) are transparent.
struct OverlayPalette {
  std::array<std::array<std::uint8_t, 4>, 256> rgba{};
  static OverlayPalette from_schema(const LabelSchema& schema);
};

// Writes the RGBA colours of `mask` inside `rect` into `rgba` (CV_8UC4, same
// size as mask). Outline mode keeps a pixel only when a 4-neighbour has
// another value, so the pixels just outside `rect` are read but not written;
// callers grow the rectangle by one pixel after an edit (outline_dirty_rect).
void render_overlay(const cv::Mat& mask, const OverlayPalette& palette, OverlayMode mode,
                    cv::Rect rect, cv::Mat& rgba);

// The rectangle whose overlay pixels can change when `edited` changes.
cv::Rect overlay_dirty_rect(cv::Rect edited, cv::Size size, OverlayMode mode);

}  // namespace excap::annotator
