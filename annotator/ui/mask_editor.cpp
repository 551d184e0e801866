#include "annotator/ui/mask_editor.h"

#include <chrono>

#include <opencv2/imgproc.hpp>

namespace excap::studio {

using namespace excap::annotator;

const char* tool_name(Tool t) {
  switch (t) {
    case Tool::Brush:
      return "Brush";
    case Tool::Eraser:
      return "Eraser";
    case Tool::Polygon:
      return "Polygon";
    case Tool::Flood:
      return "Flood fill";
    case Tool::Superpixel:
      return "Superpixel";
    case Tool::GrabCut:
      return "GrabCut";
    case Tool::Count:
      break;
  }
  return "?";
}

const char* tool_help(Tool t) {
  switch (t) {
    case Tool::Brush:
      return "Paint the class under a round brush; Shift+wheel or [ ] sets its size";
    case Tool::Eraser:
      return "Set pixels back to unlabeled";
    case Tool::Polygon:
      return "Click the corners, double-click or right-click to fill the polygon";
    case Tool::Flood:
      return "Fill the connected region of equal class under the cursor";
    case Tool::Superpixel:
      return "Paint whole SLIC superpixels under the brush";
    case Tool::GrabCut:
      return "Drag a rough loop around an object; GrabCut finds its outline";
    case Tool::Count:
      break;
  }
  return "";
}

void MaskEditor::attach(LabelDocument* doc) {
  doc_ = doc;
  polygon_.clear();
  superpixels_ = Superpixels();
  superpixel_size_ = 0;
  full_upload_ = true;
  last_point_ = {-1, -1};
  if (!doc_) return;
  cv::Mat rgba;
  cv::cvtColor(doc_->image(), rgba, cv::COLOR_BGR2RGBA);
  image_.upload(rgba, true);
}

void MaskEditor::sync(const OverlayPalette& palette, OverlayMode mode) {
  if (!doc_) return;
  const auto t0 = std::chrono::steady_clock::now();
  cv::Rect r = doc_->take_changed_rect();
  if (mode != mode_) {
    mode_ = mode;
    full_upload_ = true;
  }
  if (full_upload_ || overlay_rgba_.size() != doc_->size()) {
    overlay_rgba_.create(doc_->size(), CV_8UC4);
    render_overlay(doc_->mask(), palette, mode_,
                   cv::Rect(0, 0, doc_->size().width, doc_->size().height), overlay_rgba_);
    overlay_.upload(overlay_rgba_, false);
    last_upload_ = cv::Rect(0, 0, doc_->size().width, doc_->size().height);
    full_upload_ = false;
  } else {
    r = overlay_dirty_rect(r, doc_->size(), mode_);
    if (r.empty()) return;
    render_overlay(doc_->mask(), palette, mode_, r, overlay_rgba_);
    overlay_.update(overlay_rgba_, r);
    last_upload_ = r;
  }
  last_upload_ms_ =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

const Superpixels& MaskEditor::superpixels(int size) {
  if (superpixels_.empty() || superpixel_size_ != size) {
    superpixels_ = Superpixels::compute(doc_->image(), size);
    superpixel_size_ = size;
  }
  return superpixels_;
}

void MaskEditor::cancel() {
  polygon_.clear();
  if (doc_) doc_->cancel_stroke();
}

bool MaskEditor::handle(const CanvasInput& in, const ToolState& tools) {
  if (!doc_) return false;
  const cv::Point p = in.pixel_i();
  const auto value = static_cast<std::uint8_t>(tools.tool == Tool::Eraser ? kUnlabeled : tools.cls);
  switch (tools.tool) {
    case Tool::Brush:
    case Tool::Eraser:
    case Tool::Superpixel: {
      if (in.pressed && in.inside) {
        doc_->begin_stroke(tool_name(tools.tool));
        last_point_ = p;
      }
      if (doc_->in_stroke() && in.down) {
        if (tools.tool == Tool::Superpixel) {
          const Superpixels& sp = superpixels(tools.superpixel_size);
          doc_->stroke_apply([&](cv::Mat& m) { return sp.paint(m, p, tools.radius, value); });
        } else {
          const cv::Point from = last_point_;
          doc_->stroke_apply(
              [&](cv::Mat& m) { return paint_segment(m, from, p, tools.radius, value); });
        }
        last_point_ = p;
      }
      if (doc_->in_stroke() && (in.released || !in.down)) return doc_->end_stroke();
      return false;
    }
    case Tool::Flood:
      if (in.pressed && in.inside)
        return doc_->apply("flood fill", [&](cv::Mat& m) { return flood_fill(m, p, value); });
      return false;
    case Tool::Polygon:
      if (in.pressed && in.inside && !in.double_clicked) polygon_.push_back(p);
      if ((in.double_clicked || in.right_clicked) && polygon_.size() >= 3) {
        const auto poly = polygon_;
        polygon_.clear();
        return doc_->apply("polygon", [&](cv::Mat& m) { return fill_polygon(m, poly, value); });
      }
      return false;
    case Tool::GrabCut:
      if (in.pressed && in.inside) polygon_ = {p};
      if (!polygon_.empty() && in.down && p != polygon_.back()) polygon_.push_back(p);
      if (!polygon_.empty() && in.released) {
        const auto loop = polygon_;
        polygon_.clear();
        return doc_->apply("grabcut", [&](cv::Mat& m) {
          return grabcut_region(m, doc_->image(), loop, value, tools.grabcut_margin, 4,
                                doc_->fov());
        });
      }
      return false;
    case Tool::Count:
      break;
  }
  return false;
}

void MaskEditor::draw_feedback(const CanvasView& view, const CanvasInput& in,
                               const ToolState& tools, ImU32 class_colour) const {
  ImDrawList* dl = ImGui::GetWindowDrawList();
  dl->PushClipRect(view.origin(),
                   ImVec2(view.origin().x + view.size().x, view.origin().y + view.size().y), true);
  if (!polygon_.empty()) {
    std::vector<ImVec2> pts;
    for (const auto& q : polygon_) pts.push_back(view.to_screen({q.x + 0.5f, q.y + 0.5f}));
    if (tools.tool == Tool::Polygon && in.hovered) pts.push_back(ImGui::GetIO().MousePos);
    dl->AddPolyline(pts.data(), static_cast<int>(pts.size()), class_colour,
                    tools.tool == Tool::GrabCut, ImGui::GetFontSize() * 0.12f);
  }
  const bool round =
      tools.tool == Tool::Brush || tools.tool == Tool::Eraser || tools.tool == Tool::Superpixel;
  if (round && in.hovered) {
    const float r = std::max(0.5f, (tools.radius + 0.5f) * view.zoom());
    dl->AddCircle(ImGui::GetIO().MousePos, r, IM_COL32(255, 255, 255, 200), 48, 1.5f);
    dl->AddCircle(ImGui::GetIO().MousePos, r + 1.5f, class_colour, 48, 1.0f);
  }
  dl->PopClipRect();
}

}  // namespace excap::studio
