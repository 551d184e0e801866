// Widgets the Label workspace's tools panel and the Adjudicate workspace's
// decision panel draw alike: the tool buttons, a class row with its colour,
// the clearness-degree buttons. Buttons run the shared commands
// (labeling_commands.h), so a button and its key do the same thing.
#pragma once
#include "annotator/ui/commands.h"
#include "store/schema.h"

namespace excap::studio {

// The tool.* buttons, two to a row, each labelled "<name>  <key>".
void tool_buttons(CommandList& cmd, float width);

// A colour swatch `swatch_em` font sizes wide, then a selectable
// "<key>  <name>"; true when it was clicked.
bool class_row(const TissueClass& t, bool selected, float swatch_em);

// The cd.* buttons in one row, a third of the width each, "<name> <key>".
void cd_buttons(CommandList& cmd, const LabelSchema& schema);

}  // namespace excap::studio
