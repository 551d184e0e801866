// The panels of the Clips workspace (clip_list_panel.cpp, player_panel.cpp,
// extract_panel.cpp).
#pragma once
#include <map>
#include <string>

#include "annotator/ui/panel.h"
#include "store/project.h"

namespace excap::studio {

class ClipsWorkspace;

class ClipListPanel : public Panel {
 public:
  explicit ClipListPanel(ClipsWorkspace& ws) : ws_(ws) {}

 protected:
  const char* title() const override { return "Videos and clips##clips"; }
  void draw_content() override;

 private:
  bool draw_clip(const Clip& c, const Video& v);
  ClipsWorkspace& ws_;
  std::map<std::string, std::string> note_edits_;  // clip id -> note being edited
};

class PlayerPanel : public Panel {
 public:
  explicit PlayerPanel(ClipsWorkspace& ws) : ws_(ws) {}

 protected:
  const char* title() const override { return "Player##clips"; }
  void draw_content() override;
  ImGuiWindowFlags extra_flags() const override {
    // No background: the cleared framebuffer shows through, which saves a
    // full-panel blend per frame under software GL.
    return ImGuiWindowFlags_NoTitleBar | ImGuiWindowFlags_NoScrollbar |
           ImGuiWindowFlags_NoScrollWithMouse | ImGuiWindowFlags_NoBackground;
  }

 private:
  void draw_timeline();
  ClipsWorkspace& ws_;
  char jump_[32] = {};
};

class ExtractPanel : public Panel {
 public:
  explicit ExtractPanel(ClipsWorkspace& ws) : ws_(ws) {}

 protected:
  const char* title() const override { return "Extract##clips"; }
  void draw_content() override;

 private:
  ClipsWorkspace& ws_;
  int scope_ = 0;  // 0 all clips, 1 the selected clip
};

}  // namespace excap::studio
