// A zoomable, pannable view of an image with an overlay: wheel zooms to the
// cursor, middle or right drag (or Space + left drag) pans, "fit" frames the
// whole image. It reports pointer input in image pixels; what the input
// means (brush, polygon, region pick) is decided by the workspace.
#pragma once
#include <imgui.h>
#include <opencv2/core.hpp>

namespace excap::studio {

struct CanvasInput {
  bool hovered = false;
  cv::Point2f pixel{-1, -1};  // pointer in image coordinates (continuous)
  bool inside = false;        // pointer over the image
  bool pressed = false, down = false, released = false;  // left button, not panning
  bool double_clicked = false;
  bool right_clicked = false;  // without dragging (used for "close polygon", "from annotator 2")
  float wheel = 0.f;           // with Shift: for the brush size; plain wheel zooms
  cv::Point pixel_i() const { return {static_cast<int>(pixel.x), static_cast<int>(pixel.y)}; }
};

class CanvasView {
 public:
  // Draws into the current window's remaining region (or `size`), one
  // image texture and optionally an overlay texture tinted by `overlay_alpha`.
  CanvasInput draw(const char* id, ImTextureID image, ImTextureID overlay, cv::Size image_size,
                   float overlay_alpha, ImVec2 size = ImVec2(0, 0));
  void fit() { fit_pending_ = true; }
  void zoom_by(float factor);  // around the view centre
  float zoom() const { return zoom_; }
  ImVec2 to_screen(cv::Point2f p) const;
  cv::Point2f to_image(ImVec2 s) const;
  ImVec2 origin() const { return origin_; }  // canvas top-left on screen
  ImVec2 size() const { return size_; }

 private:
  void place(ImVec2 size, cv::Size image_size);
  void pan(CanvasInput& in, bool space);
  void wheel(CanvasInput& in);
  void pointer(CanvasInput& in, cv::Size image_size, bool space) const;

  float zoom_ = 1.f;
  cv::Point2f center_{0, 0};  // image point at the view centre
  bool fit_pending_ = true;
  cv::Size last_image_;
  ImVec2 origin_{0, 0}, size_{0, 0};
  bool panning_ = false;
  ImVec2 right_press_{0, 0};
};

}  // namespace excap::studio
