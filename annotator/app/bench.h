// excap-studio --bench: in the Label workspace, the frame time (idle and
// right after a stroke), the mask update per pointer move and per stroke
// (incremental glTexSubImage2D against a full re-upload), and the autosave
// time, printed as text. Targets: DESIGN.md "Performance targets" (a frame
// under 8 ms, a stroke updates the mask texture incrementally).
#pragma once
#include "annotator/app/window.h"
#include "annotator/ui/studio.h"

namespace excap::studio {

// Times `frames` idle frames, then strokes and autosaves on the open frame;
// autosave writes to a throwaway copy of `project`'s metadata, never to the
// project. Prints the results; returns the exit status (1: no frame open).
int run_bench(StudioWindow& win, Studio& studio, int frames, const fs::path& project);

}  // namespace excap::studio
