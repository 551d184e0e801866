// The command groups the Label and Adjudicate workspaces share
// (annotator/ui/labeling_commands.h), built without a window: ids, keys from
// the schema, and that each command calls back what its workspace gave it.
#include <doctest/doctest.h>

#include <set>

#include "annotator/ui/labeling_commands.h"

using namespace excap;
using namespace excap::studio;

TEST_CASE("labeling commands: one per tool, with its key, calling the workspace's select") {
  CommandList c;
  Tool selected = Tool::Count;
  add_tool_commands(
      c, "Tools", [&](Tool t) { selected = t; }, {}, [&](Tool t) { return t == Tool::Polygon; });
  REQUIRE(c.all().size() == static_cast<std::size_t>(Tool::Count));
  const Command* flood = c.find("tool.Flood fill");
  REQUIRE(flood != nullptr);
  CHECK(flood->menu == "Tools");
  CHECK(flood->shortcut.text() == "F");
  CHECK(flood->tooltip == tool_help(Tool::Flood));
  CHECK(c.run("tool.Flood fill"));
  CHECK(selected == Tool::Flood);
  CHECK(c.find("tool.Polygon")->checked());
  CHECK_FALSE(c.find("tool.Brush")->checked());
  CHECK(c.find("tool.Eraser")->shortcut.text() == "X");
}

TEST_CASE("labeling commands: classes and clearness degrees come from the schema") {
  const LabelSchema schema = cecd_schema();
  CommandList c;
  int cls = -1, cd = -1;
  bool open = false;
  add_class_commands(
      c, schema, "Repaint", [&](int id) { cls = id; }, [&](int id) { return id == cls; });
  add_cd_commands(
      c, schema, "Final clearness degree", [&](int id) { cd = id; }, [&] { return open; },
      [&](int id) { return id == cd; });
  REQUIRE(c.all().size() == schema.tissue.size() + schema.cd.size());
  const Command* lesion = c.find("class.3");
  REQUIRE(lesion != nullptr);
  CHECK(lesion->tooltip == "Repaint with " + schema.tissue[3].name);
  CHECK(lesion->shortcut.text() == parse_shortcut(schema.tissue[3].hotkey).text());
  CHECK(c.run("class.3"));
  CHECK(cls == 3);
  CHECK(lesion->checked());
  // CD commands wait for an open document.
  CHECK_FALSE(c.run("cd.1"));
  open = true;
  CHECK(c.run("cd.1"));
  CHECK(cd == 1);
  CHECK(c.find("cd.1")->tooltip == "Final clearness degree: " + schema.cd[1].name);
}

TEST_CASE("labeling commands: tools, classes, CD and undo never share a key") {
  CommandList c;
  add_tool_commands(
      c, "Tools", [](Tool) {}, {}, [](Tool) { return false; });
  add_class_commands(
      c, cecd_schema(), "Paint", [](int) {}, [](int) { return false; });
  add_cd_commands(
      c, cecd_schema(), "CD", [](int) {}, {}, [](int) { return false; });
  add_undo_commands(
      c, "Undo", [] {}, [] {}, [] { return nullptr; });
  add_fit_command(c, [] {});
  std::set<std::string> keys;
  for (const auto& cmd : c.all()) {
    INFO(cmd.id);
    REQUIRE(cmd.shortcut.valid());
    CHECK(keys.insert(cmd.shortcut.text()).second);
  }
}

TEST_CASE("labeling commands: undo and redo follow the open document's history") {
  CommandList c;
  annotator::UndoHistory history;
  const annotator::UndoHistory* open = nullptr;
  int undone = 0, redone = 0;
  add_undo_commands(
      c, "Undo the last edit", [&] { ++undone; }, [&] { ++redone; }, [&] { return open; });
  CHECK_FALSE(c.run("edit.undo"));  // nothing open
  open = &history;
  CHECK_FALSE(c.run("edit.undo"));  // nothing to undo
  annotator::Edit e;
  e.name = "cd";
  e.cd_changed = true;
  history.push(e);
  CHECK(c.run("edit.undo"));
  CHECK(undone == 1);
  CHECK_FALSE(c.run("edit.redo"));
  history.take_undo();
  CHECK(c.run("edit.redo"));
  CHECK(redone == 1);
  CHECK(c.find("edit.undo")->shortcut.text() == "Ctrl+Z");
  CHECK(c.find("edit.redo")->shortcut.text() == "Ctrl+Shift+Z");
}
