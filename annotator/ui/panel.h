// One panel, one class: the base places and begins/ends the window, the
// panel overrides draw_content() only (ImHex's View::drawContent). Panel
// state lives in members, never in function-level statics.
#pragma once
#include <string>

#include <imgui.h>

namespace excap::studio {

class Panel {
 public:
  virtual ~Panel() = default;
  void draw(ImVec2 pos, ImVec2 size) {
    ImGui::SetNextWindowPos(pos);
    ImGui::SetNextWindowSize(size);
    const ImGuiWindowFlags flags = ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoResize |
                                   ImGuiWindowFlags_NoCollapse | ImGuiWindowFlags_NoSavedSettings |
                                   extra_flags();
    if (ImGui::Begin(title(), nullptr, flags)) draw_content();
    ImGui::End();
  }

 protected:
  virtual const char* title() const = 0;  // "Frames##label": visible name + unique id
  virtual void draw_content() = 0;
  virtual ImGuiWindowFlags extra_flags() const { return 0; }
  static float em(float k) { return ImGui::GetFontSize() * k; }  // sizes in font units
};

// A workspace fills the area below the menu bar with its panels.
class CommandList;
class Workspace {
 public:
  virtual ~Workspace() = default;
  virtual const char* name() const = 0;
  virtual void add_commands(CommandList& commands) = 0;
  virtual void draw(ImVec2 pos, ImVec2 size) = 0;
  // Structural changes queued during the frame (open another frame, ...).
  virtual void apply_queued() {}
  virtual std::string status_line() const { return ""; }
  virtual void shutdown() {}  // last save before the window closes
};

}  // namespace excap::studio
