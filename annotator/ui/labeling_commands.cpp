#include "annotator/ui/labeling_commands.h"

namespace excap::studio {

const char* tool_key(Tool t) {
  switch (t) {
    case Tool::Brush:
      return "B";
    case Tool::Eraser:
      return "X";
    case Tool::Polygon:
      return "P";
    case Tool::Flood:
      return "F";
    case Tool::Superpixel:
      return "S";
    case Tool::GrabCut:
      return "C";
    case Tool::Count:
      break;
  }
  return "";
}

void add_tool_commands(CommandList& c, const std::string& menu,
                       const std::function<void(Tool)>& select,
                       const std::function<bool()>& enabled,
                       const std::function<bool(Tool)>& checked) {
  for (int t = 0; t < static_cast<int>(Tool::Count); ++t) {
    const Tool tool = static_cast<Tool>(t);
    c.add({std::string("tool.") + tool_name(tool), menu, tool_name(tool),
           parse_shortcut(tool_key(tool)), tool_help(tool), [select, tool] { select(tool); },
           enabled, [checked, tool] { return checked(tool); }});
  }
}

void add_class_commands(CommandList& c, const LabelSchema& schema, const std::string& verb,
                        const std::function<void(int)>& select,
                        const std::function<bool(int)>& checked) {
  for (const auto& t : schema.tissue)
    c.add({"class." + std::to_string(t.id),
           "Classes",
           t.name,
           parse_shortcut(t.hotkey),
           verb + " with " + t.name,
           [select, id = t.id] { select(id); },
           {},
           [checked, id = t.id] { return checked(id); }});
}

void add_cd_commands(CommandList& c, const LabelSchema& schema, const std::string& what,
                     const std::function<void(int)>& set, const std::function<bool()>& enabled,
                     const std::function<bool(int)>& checked) {
  for (const auto& d : schema.cd)
    c.add({"cd." + std::to_string(d.id), "Clearness", d.name, parse_shortcut(d.hotkey),
           what + ": " + d.name, [set, id = d.id] { set(id); }, enabled,
           [checked, id = d.id] { return checked(id); }});
}

void add_undo_commands(CommandList& c, const std::string& undo_tooltip,
                       const std::function<void()>& undo, const std::function<void()>& redo,
                       const std::function<const annotator::UndoHistory*()>& history) {
  c.add({"edit.undo",
         "Edit",
         "Undo",
         parse_shortcut("Ctrl+Z"),
         undo_tooltip,
         undo,
         [history] {
           const annotator::UndoHistory* h = history();
           return h && h->can_undo();
         },
         {}});
  c.add({"edit.redo",
         "Edit",
         "Redo",
         parse_shortcut("Ctrl+Shift+Z"),
         "Redo",
         redo,
         [history] {
           const annotator::UndoHistory* h = history();
           return h && h->can_redo();
         },
         {}});
}

void add_fit_command(CommandList& c, const std::function<void()>& fit) {
  c.add({"view.fit",
         "View",
         "Fit frame",
         parse_shortcut("Home"),
         "Zoom so the whole frame fits",
         fit,
         {},
         {}});
}

}  // namespace excap::studio
