#include "annotator/ui/canvas_view.h"

#include <GLFW/glfw3.h>

#include <algorithm>
#include <cmath>

namespace excap::studio {

ImVec2 CanvasView::to_screen(cv::Point2f p) const {
  return ImVec2(origin_.x + size_.x * 0.5f + (p.x - center_.x) * zoom_,
                origin_.y + size_.y * 0.5f + (p.y - center_.y) * zoom_);
}

cv::Point2f CanvasView::to_image(ImVec2 s) const {
  return {center_.x + (s.x - origin_.x - size_.x * 0.5f) / zoom_,
          center_.y + (s.y - origin_.y - size_.y * 0.5f) / zoom_};
}

void CanvasView::zoom_by(float factor) { zoom_ = std::clamp(zoom_ * factor, 0.05f, 64.f); }

CanvasInput CanvasView::draw(const char* id, ImTextureID image, ImTextureID overlay,
                             cv::Size image_size, float overlay_alpha, ImVec2 size) {
  CanvasInput in;
  place(size, image_size);
  ImGui::InvisibleButton(id, size_,
                         ImGuiButtonFlags_MouseButtonLeft | ImGuiButtonFlags_MouseButtonRight |
                             ImGuiButtonFlags_MouseButtonMiddle);
  in.hovered = ImGui::IsItemHovered();
  const bool space = ImGui::IsKeyDown(GLFW_KEY_SPACE) && !ImGui::GetIO().WantTextInput;
  ImDrawList* dl = ImGui::GetWindowDrawList();
  dl->PushClipRect(origin_, ImVec2(origin_.x + size_.x, origin_.y + size_.y), true);
  // No backdrop fill: the window background is already there, and under
  // software GL every full-canvas layer costs fill rate.
  pan(in, space);
  wheel(in);
  const ImVec2 p0 = to_screen({0, 0});
  const ImVec2 p1 =
      to_screen({static_cast<float>(image_size.width), static_cast<float>(image_size.height)});
  if (image) dl->AddImage(image, p0, p1);
  if (overlay && overlay_alpha > 0.f)
    dl->AddImage(overlay, p0, p1, ImVec2(0, 0), ImVec2(1, 1),
                 ImGui::GetColorU32(ImVec4(1, 1, 1, overlay_alpha)));
  dl->PopClipRect();
  pointer(in, image_size, space);
  return in;
}

// The canvas fills `size` (or the remaining region); a new image size refits.
void CanvasView::place(ImVec2 size, cv::Size image_size) {
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  if (size.x <= 0) size.x = avail.x;
  if (size.y <= 0) size.y = avail.y;
  size.x = std::max(size.x, 16.f);
  size.y = std::max(size.y, 16.f);
  origin_ = ImGui::GetCursorScreenPos();
  size_ = size;
  if (image_size != last_image_) {
    last_image_ = image_size;
    fit_pending_ = true;
  }
  if (fit_pending_ && image_size.area() > 0) {
    zoom_ = std::min(size.x / image_size.width, size.y / image_size.height) * 0.98f;
    center_ = {image_size.width * 0.5f, image_size.height * 0.5f};
    fit_pending_ = false;
  }
}

// Pan: middle drag, right drag, or Space + left drag; a right click that
// barely moved is a click, not a pan.
void CanvasView::pan(CanvasInput& in, bool space) {
  const ImGuiIO& io = ImGui::GetIO();
  if (ImGui::IsItemActive() && (ImGui::IsMouseDragging(ImGuiMouseButton_Middle, 0.f) ||
                                ImGui::IsMouseDragging(ImGuiMouseButton_Right, 2.f) ||
                                (space && ImGui::IsMouseDown(ImGuiMouseButton_Left)))) {
    center_.x -= io.MouseDelta.x / zoom_;
    center_.y -= io.MouseDelta.y / zoom_;
    panning_ = true;
  }
  if (in.hovered && ImGui::IsMouseClicked(ImGuiMouseButton_Right)) right_press_ = io.MousePos;
  if (in.hovered && ImGui::IsMouseReleased(ImGuiMouseButton_Right)) {
    const float dx = io.MousePos.x - right_press_.x, dy = io.MousePos.y - right_press_.y;
    in.right_clicked = dx * dx + dy * dy < 9.f;
  }
  if (!ImGui::IsMouseDown(ImGuiMouseButton_Left) && !ImGui::IsMouseDown(ImGuiMouseButton_Middle) &&
      !ImGui::IsMouseDown(ImGuiMouseButton_Right))
    panning_ = false;
}

// Wheel zooms to the cursor: the image point under it stays put. With Shift
// the wheel goes to the caller (brush size).
void CanvasView::wheel(CanvasInput& in) {
  const ImGuiIO& io = ImGui::GetIO();
  if (!in.hovered || io.MouseWheel == 0.f) return;
  if (io.KeyShift) {
    in.wheel = io.MouseWheel;
    return;
  }
  const cv::Point2f before = to_image(io.MousePos);
  zoom_by(std::pow(1.2f, io.MouseWheel));
  const cv::Point2f after = to_image(io.MousePos);
  center_ += before - after;
}

// The pointer in image pixels and the left button, unless the view is panning.
void CanvasView::pointer(CanvasInput& in, cv::Size image_size, bool space) const {
  in.pixel = to_image(ImGui::GetIO().MousePos);
  in.inside = in.hovered && in.pixel.x >= 0 && in.pixel.y >= 0 && in.pixel.x < image_size.width &&
              in.pixel.y < image_size.height;
  if (!panning_ && !space) {
    in.pressed = in.hovered && ImGui::IsMouseClicked(ImGuiMouseButton_Left);
    in.down = ImGui::IsItemActive() && ImGui::IsMouseDown(ImGuiMouseButton_Left);
    in.double_clicked = in.hovered && ImGui::IsMouseDoubleClicked(ImGuiMouseButton_Left);
  }
  in.released = ImGui::IsMouseReleased(ImGuiMouseButton_Left);
}

}  // namespace excap::studio
