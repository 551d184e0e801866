// The commands the Label and Adjudicate workspaces share: one per tool, per
// tissue class and per clearness degree (names and keys from the schema),
// undo/redo and fit. Same ids and keys in both workspaces, so an expert's
// habits from labeling carry over; each workspace says what they act on.
#pragma once
#include <functional>
#include <string>

#include "annotator/core/undo.h"
#include "annotator/ui/commands.h"
#include "annotator/ui/mask_editor.h"
#include "store/schema.h"

namespace excap::studio {

const char* tool_key(Tool t);  // "B" brush, "X" eraser, ...

// tool.<name> for every tool, in Tool order, under `menu`.
void add_tool_commands(CommandList& c, const std::string& menu,
                       const std::function<void(Tool)>& select,
                       const std::function<bool()>& enabled,
                       const std::function<bool(Tool)>& checked);

// class.<id> for every tissue class; tooltip "<verb> with <name>".
void add_class_commands(CommandList& c, const LabelSchema& schema, const std::string& verb,
                        const std::function<void(int)>& select,
                        const std::function<bool(int)>& checked);

// cd.<id> for every clearness degree; tooltip "<what>: <name>".
void add_cd_commands(CommandList& c, const LabelSchema& schema, const std::string& what,
                     const std::function<void(int)>& set, const std::function<bool()>& enabled,
                     const std::function<bool(int)>& checked);

// edit.undo and edit.redo; `history` gives the open document's (null: none open).
void add_undo_commands(CommandList& c, const std::string& undo_tooltip,
                       const std::function<void()>& undo, const std::function<void()>& redo,
                       const std::function<const annotator::UndoHistory*()>& history);

// view.fit: zoom so the whole frame fits.
void add_fit_command(CommandList& c, const std::function<void()>& fit);

}  // namespace excap::studio
