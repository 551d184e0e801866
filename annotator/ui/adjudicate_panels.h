// The panels of the Adjudicate workspace (adjudication_queue_panel.cpp,
// compare_panel.cpp, decision_panel.cpp).
#pragma once
#include "annotator/ui/canvas_view.h"
#include "annotator/ui/panel.h"

namespace excap::studio {

class AdjudicateWorkspace;

class AdjudicationQueuePanel : public Panel {
 public:
  explicit AdjudicationQueuePanel(AdjudicateWorkspace& ws) : ws_(ws) {}

 protected:
  const char* title() const override { return "Undecided##adj"; }
  void draw_content() override;

 private:
  AdjudicateWorkspace& ws_;
};

class ComparePanel : public Panel {
 public:
  explicit ComparePanel(AdjudicateWorkspace& ws) : ws_(ws) {}

 protected:
  const char* title() const override { return "Compare##adj"; }
  void draw_content() override;
  ImGuiWindowFlags extra_flags() const override {
    // No background: the cleared framebuffer shows through, which saves a
    // full-panel blend per frame under software GL.
    return ImGuiWindowFlags_NoTitleBar | ImGuiWindowFlags_NoScrollbar |
           ImGuiWindowFlags_NoScrollWithMouse | ImGuiWindowFlags_NoBackground;
  }

 private:
  void draw_pair();
  CanvasInput draw_final();
  void pick_region(const CanvasInput& in);
  void repaint(const CanvasInput& in);
  AdjudicateWorkspace& ws_;
};

class DecisionPanel : public Panel {
 public:
  explicit DecisionPanel(AdjudicateWorkspace& ws) : ws_(ws) {}

 protected:
  const char* title() const override { return "Decision##adj"; }
  void draw_content() override;

 private:
  void draw_regions(float half);
  void draw_diff_class();
  void draw_region_list();
  void draw_repaint(float half);
  void draw_final(float half);
  AdjudicateWorkspace& ws_;
};

}  // namespace excap::studio
