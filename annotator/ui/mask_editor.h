// Editing a LabelDocument on a canvas: the image and overlay textures (the
// overlay re-coloured and re-uploaded only in the rectangle a stroke
// changed), and the labeling tools driven by canvas input. Shared by the
// Label workspace and the expert's repaint in the Adjudicate workspace.
#pragma once
#include <string>
#include <vector>

#include "annotator/core/label_document.h"
#include "annotator/core/overlay.h"
#include "annotator/core/tools.h"
#include "annotator/ui/canvas_view.h"
#include "annotator/ui/gl_texture.h"

namespace excap::studio {

enum class Tool { Brush, Eraser, Polygon, Flood, Superpixel, GrabCut, Count };
const char* tool_name(Tool t);
const char* tool_help(Tool t);

struct ToolState {
  Tool tool = Tool::Brush;
  int cls = 1;  // tissue class painted
  int radius = 8;
  int superpixel_size = 18;
  int grabcut_margin = 10;
};

class MaskEditor {
 public:
  // A new document (or none): full uploads, tool state of the old frame dropped.
  void attach(annotator::LabelDocument* doc);
  annotator::LabelDocument* doc() const { return doc_; }
  // Uploads what changed since the last call; call once per frame before drawing.
  void sync(const annotator::OverlayPalette& palette, annotator::OverlayMode mode);
  ImTextureID image_texture() const { return image_.id(); }
  ImTextureID overlay_texture() const { return overlay_.id(); }

  // Applies the tool to the input; true when an edit was completed (a stroke
  // ended or a one-shot tool ran): the caller autosaves then.
  bool handle(const CanvasInput& in, const ToolState& tools);
  void draw_feedback(const CanvasView& view, const CanvasInput& in, const ToolState& tools,
                     ImU32 class_colour) const;
  bool busy() const { return !polygon_.empty() || (doc_ && doc_->in_stroke()); }
  void cancel();  // drops a polygon in progress / a stroke

  // Statistics of the last upload, for the status bar and the benchmark.
  cv::Rect last_upload() const { return last_upload_; }
  double last_upload_ms() const { return last_upload_ms_; }
  const GlTexture& overlay() const { return overlay_; }

 private:
  const annotator::Superpixels& superpixels(int size);
  annotator::LabelDocument* doc_ = nullptr;
  GlTexture image_, overlay_;
  cv::Mat overlay_rgba_;
  annotator::OverlayMode mode_ = annotator::OverlayMode::Fill;
  bool full_upload_ = true;
  cv::Rect last_upload_;
  double last_upload_ms_ = 0;
  cv::Point last_point_{-1, -1};
  std::vector<cv::Point> polygon_;  // polygon or GrabCut loop in progress
  annotator::Superpixels superpixels_;
  int superpixel_size_ = 0;
};

}  // namespace excap::studio
