#include "annotator/ui/commands.h"

#include <GLFW/glfw3.h>
#include <imgui.h>

#include <algorithm>
#include <cctype>

namespace excap::studio {

namespace {

struct KeyName {
  const char* name;
  int key;
};
const KeyName kNamed[] = {
    {"Space", GLFW_KEY_SPACE},
    {"Enter", GLFW_KEY_ENTER},
    {"Escape", GLFW_KEY_ESCAPE},
    {"Tab", GLFW_KEY_TAB},
    {"Backspace", GLFW_KEY_BACKSPACE},
    {"Delete", GLFW_KEY_DELETE},
    {"Left", GLFW_KEY_LEFT},
    {"Right", GLFW_KEY_RIGHT},
    {"Up", GLFW_KEY_UP},
    {"Down", GLFW_KEY_DOWN},
    {"PageUp", GLFW_KEY_PAGE_UP},
    {"PageDown", GLFW_KEY_PAGE_DOWN},
    {"Home", GLFW_KEY_HOME},
    {"End", GLFW_KEY_END},
    {"[", GLFW_KEY_LEFT_BRACKET},
    {"]", GLFW_KEY_RIGHT_BRACKET},
    {",", GLFW_KEY_COMMA},
    {".", GLFW_KEY_PERIOD},
    {"-", GLFW_KEY_MINUS},
    {"=", GLFW_KEY_EQUAL},
};

}  // namespace

std::string Shortcut::text() const {
  if (!valid()) return "";
  std::string s;
  if (ctrl) s += "Ctrl+";
  if (shift) s += "Shift+";
  for (const auto& k : kNamed)
    if (k.key == key) return s + k.name;
  if (key >= GLFW_KEY_F1 && key <= GLFW_KEY_F12)
    return s + "F" + std::to_string(key - GLFW_KEY_F1 + 1);
  if ((key >= GLFW_KEY_A && key <= GLFW_KEY_Z) || (key >= GLFW_KEY_0 && key <= GLFW_KEY_9))
    return s + static_cast<char>(key);  // GLFW's letter and digit codes are ASCII
  return s + "?";
}

Shortcut parse_shortcut(const std::string& text) {
  Shortcut sc;
  std::string rest = text;
  for (;;) {
    if (rest.rfind("Ctrl+", 0) == 0) {
      sc.ctrl = true;
      rest = rest.substr(5);
    } else if (rest.rfind("Shift+", 0) == 0) {
      sc.shift = true;
      rest = rest.substr(6);
    } else {
      break;
    }
  }
  if (rest.size() == 1) {
    const char c = static_cast<char>(std::toupper(static_cast<unsigned char>(rest[0])));
    if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
      sc.key = c;
      return sc;
    }
  }
  for (const auto& k : kNamed)
    if (rest == k.name) sc.key = k.key;
  if (sc.key < 0 && rest.size() >= 2 && rest[0] == 'F') {
    const int n = std::atoi(rest.c_str() + 1);
    if (n >= 1 && n <= 12) sc.key = GLFW_KEY_F1 + n - 1;
  }
  return sc;
}

void CommandList::add(Command c) {
  for (auto& existing : commands_)
    if (existing.id == c.id) {
      existing = std::move(c);
      return;
    }
  commands_.push_back(std::move(c));
}

const Command* CommandList::find(const std::string& id) const {
  for (const auto& c : commands_)
    if (c.id == id) return &c;
  return nullptr;
}

bool CommandList::run(const std::string& id) {
  const Command* c = find(id);
  if (!c || !is_enabled(*c) || !c->run) return false;
  invoke(*c);
  return true;
}

// The id is copied first: a command may rebuild the list it lives in.
void CommandList::invoke(const Command& c) {
  const std::string id = c.id;
  c.run();
  if (observer_) observer_(id);
}

void CommandList::handle_shortcuts() {
  const ImGuiIO& io = ImGui::GetIO();
  if (io.WantTextInput) return;
  // Copy the ids first: a command may rebuild the list.
  std::vector<std::string> fire;
  for (const auto& c : commands_) {
    if (!c.shortcut.valid()) continue;
    if (c.shortcut.ctrl != io.KeyCtrl || c.shortcut.shift != io.KeyShift) continue;
    if (ImGui::IsKeyPressed(c.shortcut.key, true)) fire.push_back(c.id);
  }
  for (const auto& id : fire) run(id);
}

void CommandList::draw_menu_items(const std::string& menu) {
  for (const auto& c : commands_) {
    if (c.menu != menu) continue;
    const std::string sc = c.shortcut.text();
    const bool checked = c.checked && c.checked();
    if (ImGui::MenuItem(c.label.c_str(), sc.empty() ? nullptr : sc.c_str(), checked,
                        is_enabled(c)) &&
        c.run)
      invoke(c);
    if (!c.tooltip.empty() && ImGui::IsItemHovered()) ImGui::SetTooltip("%s", c.tooltip.c_str());
  }
}

std::vector<std::string> CommandList::menus() const {
  std::vector<std::string> out;
  for (const auto& c : commands_)
    if (!c.menu.empty() && std::find(out.begin(), out.end(), c.menu) == out.end())
      out.push_back(c.menu);
  return out;
}

std::string CommandList::tooltip_text(const std::string& id) const {
  const Command* c = find(id);
  if (!c) return "";
  std::string t = c->tooltip.empty() ? c->label : c->tooltip;
  if (c->shortcut.valid()) t += " (" + c->shortcut.text() + ")";
  return t;
}

bool CommandList::button(const std::string& id, float width, const char* override_label) {
  const Command* c = find(id);
  if (!c) return false;
  const bool enabled = is_enabled(*c);
  const bool checked = c->checked && c->checked();
  if (!enabled) ImGui::PushStyleVar(ImGuiStyleVar_Alpha, ImGui::GetStyle().Alpha * 0.45f);
  if (checked)
    ImGui::PushStyleColor(ImGuiCol_Button, ImGui::GetStyleColorVec4(ImGuiCol_ButtonActive));
  const std::string label =
      std::string(override_label ? override_label : c->label.c_str()) + "##" + id;
  bool pressed = ImGui::Button(label.c_str(), ImVec2(width, 0));
  if (checked) ImGui::PopStyleColor();
  if (!enabled) ImGui::PopStyleVar();
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", tooltip_text(id).c_str());
  if (pressed && enabled && c->run) {
    invoke(*c);
    return true;
  }
  return false;
}

}  // namespace excap::studio
