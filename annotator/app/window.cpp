#include "annotator/app/window.h"

#include <GLFW/glfw3.h>
#include <backends/imgui_impl_glfw.h>
#include <backends/imgui_impl_opengl3.h>
#include <imgui.h>

#include <filesystem>
#include <stdexcept>

#include <opencv2/imgproc.hpp>

namespace excap::studio {

namespace {
void glfw_error(int code, const char* text) {
  std::fprintf(stderr, "GLFW error %d: %s\n", code, text);
}
const char* kFonts[] = {"/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
                        "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf"};
}  // namespace

StudioWindow::StudioWindow(const WindowOptions& o) : ini_path_(o.ini_path) {
  glfwSetErrorCallback(glfw_error);
  if (!glfwInit()) throw std::runtime_error("cannot initialise GLFW (no display? try xvfb-run)");
  glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
  glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 3);
  glfwWindowHint(GLFW_OPENGL_PROFILE, GLFW_OPENGL_CORE_PROFILE);
  glfwWindowHint(GLFW_OPENGL_FORWARD_COMPAT, GL_TRUE);
  glfwWindowHint(GLFW_VISIBLE, o.visible ? GLFW_TRUE : GLFW_FALSE);
  glfwWindowHint(GLFW_SCALE_TO_MONITOR, GLFW_TRUE);
  window_ = glfwCreateWindow(o.width, o.height, o.title.c_str(), nullptr, nullptr);
  if (!window_) {
    glfwTerminate();
    throw std::runtime_error("cannot create an OpenGL 3.3 core window");
  }
  glfwMakeContextCurrent(window_);
  glfwSwapInterval(o.vsync ? 1 : 0);

  float sx = 1.f, sy = 1.f;
  glfwGetWindowContentScale(window_, &sx, &sy);
  scale_ = o.ui_scale > 0.f ? o.ui_scale : std::max(1.f, sx);

  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  ImGuiIO& io = ImGui::GetIO();
  io.IniFilename = ini_path_.empty() ? nullptr : ini_path_.c_str();
  ImGui::StyleColorsDark();
  ImGuiStyle& style = ImGui::GetStyle();
  style.WindowRounding = 0.f;
  style.FrameRounding = 3.f;
  style.ScaleAllSizes(scale_);  // sizes scaled once for the monitor's DPI
  bool font = false;
  for (const char* f : kFonts) {
    std::error_code ec;
    if (std::filesystem::exists(f, ec) && io.Fonts->AddFontFromFileTTF(f, o.font_px * scale_)) {
      font = true;
      break;
    }
  }
  if (!font) {
    ImFontConfig cfg;
    cfg.SizePixels = 13.f * scale_;
    io.Fonts->AddFontDefault(&cfg);
  }
  ImGui_ImplGlfw_InitForOpenGL(window_, true);
  ImGui_ImplOpenGL3_Init("#version 330");
}

StudioWindow::~StudioWindow() {
  ImGui_ImplOpenGL3_Shutdown();
  ImGui_ImplGlfw_Shutdown();
  ImGui::DestroyContext();
  glfwDestroyWindow(window_);
  glfwTerminate();
}

bool StudioWindow::should_close() const { return glfwWindowShouldClose(window_); }

void StudioWindow::begin_frame(double wait_s) {
  if (wait_s > 0)
    glfwWaitEventsTimeout(wait_s);
  else
    glfwPollEvents();
  ImGui_ImplOpenGL3_NewFrame();
  ImGui_ImplGlfw_NewFrame();
  ImGui::NewFrame();
}

void StudioWindow::build_draw_data() {
  if (!draw_data_built_) ImGui::Render();
  draw_data_built_ = true;
}

void StudioWindow::end_frame(bool do_swap) {
  build_draw_data();
  draw_data_built_ = false;
  int w = 0, h = 0;
  glfwGetFramebufferSize(window_, &w, &h);
  glViewport(0, 0, w, h);
  glClearColor(0.1f, 0.1f, 0.12f, 1.f);
  glClear(GL_COLOR_BUFFER_BIT);
  ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
  if (do_swap) swap();
}

void StudioWindow::swap() { glfwSwapBuffers(window_); }

void StudioWindow::finish() { glFinish(); }

cv::Mat StudioWindow::read_pixels() const {
  int w = 0, h = 0;
  glfwGetFramebufferSize(window_, &w, &h);
  cv::Mat rgba(h, w, CV_8UC4);
  glPixelStorei(GL_PACK_ALIGNMENT, 1);
  glReadBuffer(GL_BACK);
  glReadPixels(0, 0, w, h, GL_RGBA, GL_UNSIGNED_BYTE, rgba.data);
  cv::Mat flipped, bgr;
  cv::flip(rgba, flipped, 0);  // GL's first row is the bottom one
  cv::cvtColor(flipped, bgr, cv::COLOR_RGBA2BGR);
  return bgr;
}

}  // namespace excap::studio
