// The GLFW window with an OpenGL 3.3 core context and Dear ImGui on it:
// DPI-aware font and sizes, frame begin/end, and reading the framebuffer
// back (screenshots, the smoke test).
#pragma once
#include <string>

#include <opencv2/core.hpp>

struct GLFWwindow;

namespace excap::studio {

struct WindowOptions {
  int width = 1280, height = 800;
  std::string title = "ExCap Studio";
  bool visible = true;
  bool vsync = true;
  float ui_scale = 0.f;  // 0: the monitor's content scale
  float font_px = 15.f;  // at scale 1
  std::string ini_path;  // empty: no imgui.ini
};

class StudioWindow {
 public:
  explicit StudioWindow(const WindowOptions& options);  // throws std::runtime_error
  ~StudioWindow();
  StudioWindow(const StudioWindow&) = delete;
  StudioWindow& operator=(const StudioWindow&) = delete;

  bool should_close() const;
  // Polls events (or, when `wait_s` > 0, sleeps until one arrives or the
  // time passes: an idle studio draws nothing), then starts an ImGui frame.
  void begin_frame(double wait_s = 0);
  void build_draw_data();            // ImGui::Render(): the UI's CPU work, no GL yet
  void end_frame(bool swap = true);  // draw ImGui with GL (and swap)
  void swap();
  void finish();                // glFinish: the GPU (llvmpipe) really drew it
  cv::Mat read_pixels() const;  // BGR, top row first, of the back buffer
  float scale() const { return scale_; }

 private:
  GLFWwindow* window_ = nullptr;
  float scale_ = 1.f;
  bool draw_data_built_ = false;
  std::string ini_path_;
};

}  // namespace excap::studio
