// Commands are data: id, label, shortcut, enabled, run. The menus, the
// shortcut handling and the tooltips are all built from one list
// (ImHex's addMenuItem). Structural changes (switching frame or workspace)
// are queued by the commands and applied after the frame by their owners.
#pragma once
#include <functional>
#include <string>
#include <vector>

namespace excap::studio {

struct Shortcut {
  int key = -1;  // GLFW key code (imgui 1.86's GLFW backend indexes KeysDown by it)
  bool ctrl = false, shift = false;
  bool valid() const { return key >= 0; }
  std::string text() const;  // "Ctrl+Z", "Shift+Right", "1"
};

// "Ctrl+Shift+Z", "Q", "1", "Space", "Left", "F1", ... -> Shortcut; invalid when unknown.
Shortcut parse_shortcut(const std::string& text);

struct Command {
  std::string id;     // "edit.undo"
  std::string menu;   // "Edit"; empty: shortcut and buttons only
  std::string label;  // "Undo"
  Shortcut shortcut;
  std::string tooltip;  // one line of help
  std::function<void()> run;
  std::function<bool()> enabled;  // empty: always
  std::function<bool()> checked;  // empty: not a toggle
};

class CommandList {
 public:
  void add(Command c);
  void clear() { commands_.clear(); }
  const Command* find(const std::string& id) const;
  bool is_enabled(const Command& c) const { return !c.enabled || c.enabled(); }
  bool run(const std::string& id);
  // Runs the commands whose shortcuts were pressed this frame (not while a
  // text field has the keyboard).
  void handle_shortcuts();
  // The items of one menu, in the order they were added.
  void draw_menu_items(const std::string& menu);
  std::vector<std::string> menus() const;  // in order of first appearance
  // A button for a command: label, tooltip "<tooltip> (<shortcut>)", runs it.
  bool button(const std::string& id, float width = 0.f, const char* override_label = nullptr);
  // The tooltip text for a command, shortcut included.
  std::string tooltip_text(const std::string& id) const;
  const std::vector<Command>& all() const { return commands_; }
  // Test hook (--trace): told the id of every command run, by key, menu or button.
  void set_observer(std::function<void(const std::string&)> observer) {
    observer_ = std::move(observer);
  }

 private:
  void invoke(const Command& c);
  std::vector<Command> commands_;
  std::function<void(const std::string&)> observer_;
};

}  // namespace excap::studio
