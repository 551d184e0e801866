// The panels of the Label workspace, one class each (frame_list_panel.cpp,
// tools_panel.cpp, label_canvas_panel.cpp).
#pragma once
#include <string>
#include <vector>

#include "annotator/core/session.h"
#include "annotator/ui/commands.h"
#include "annotator/ui/panel.h"

namespace excap::studio {

class LabelWorkspace;

class FrameListPanel : public Panel {
 public:
  explicit FrameListPanel(LabelWorkspace& ws) : ws_(ws) {}

 protected:
  const char* title() const override { return "My frames##label"; }
  void draw_content() override;

 private:
  void draw_rows(const std::vector<int>& rows);
  void draw_row(int index);
  LabelWorkspace& ws_;
  char filter_[64] = {};
  int status_filter_ = 0;  // 0 all, 1 new, 2 in progress, 3 done
  int last_current_ = -1;
  annotator::FrameFilter rows_;  // rebuilt only when the filter or a status changes
};

class ToolsPanel : public Panel {
 public:
  explicit ToolsPanel(LabelWorkspace& ws) : ws_(ws) {}

 protected:
  const char* title() const override { return "Tools##label"; }
  void draw_content() override;

 private:
  void draw_tools(float half);
  void draw_classes();
  void draw_mask(float half);
  void draw_view(float half);
  void draw_frame_state();
  void draw_suggestion(float half);
  LabelWorkspace& ws_;
};

class LabelCanvasPanel : public Panel {
 public:
  explicit LabelCanvasPanel(LabelWorkspace& ws) : ws_(ws) {}

 protected:
  const char* title() const override { return "Canvas##label"; }
  void draw_content() override;
  ImGuiWindowFlags extra_flags() const override {
    // No background: the cleared framebuffer shows through, which saves a
    // full-panel blend per frame under software GL.
    return ImGuiWindowFlags_NoTitleBar | ImGuiWindowFlags_NoScrollbar |
           ImGuiWindowFlags_NoScrollWithMouse | ImGuiWindowFlags_NoBackground;
  }

 private:
  LabelWorkspace& ws_;
};

}  // namespace excap::studio
