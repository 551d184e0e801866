// The --trace test hook of the workspaces: event lines ("saved label F") and
// the screen rectangles of clickable items ("target NAME x y w h"), so a
// scripted test can find what to click and see where its input led. Off, and
// free, unless excap-studio runs with --trace.
#pragma once
#include <imgui.h>

#include <cstdio>
#include <functional>
#include <set>
#include <string>
#include <utility>

namespace excap::studio {

class TraceHook {
 public:
  using Sink = std::function<void(const std::string&)>;
  void set(Sink sink) {
    sink_ = std::move(sink);
    seen_.clear();
  }
  bool on() const { return static_cast<bool>(sink_); }
  void line(const std::string& text) const {
    if (sink_) sink_(text);
  }
  // Written once per name and place: a moved item is written again.
  void target(const std::string& name, ImVec2 min, ImVec2 max) {
    if (!sink_) return;
    char rect[96];
    std::snprintf(rect, sizeof rect, " %.0f %.0f %.0f %.0f", min.x, min.y, max.x - min.x,
                  max.y - min.y);
    std::string text = "target " + name + rect;
    if (seen_.insert(text).second) sink_(text);
  }
  // The last item drawn.
  void target_item(const std::string& name) {
    if (sink_) target(name, ImGui::GetItemRectMin(), ImGui::GetItemRectMax());
  }

 private:
  Sink sink_;
  std::set<std::string> seen_;
};

}  // namespace excap::studio
