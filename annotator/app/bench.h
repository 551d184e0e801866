// excap-studio --bench: in the Label workspace, the frame time (idle and
// right after a stroke), the mask update per pointer move and per stroke
// (incremental glTexSubImage2D against a full re-upload), and the autosave
// time, printed as text. Targets: DESIGN.md "Performance targets" (a frame
// under 8 ms, a stroke updates the mask texture incrementally). In another
// workspace (--workspace adjudicate, clips), its idle frame time only.
#pragma once
#include "annotator/app/window.h"
#include "annotator/ui/studio.h"

namespace excap::studio {

// Times `frames` idle frames, then (Label only) strokes and autosaves on the open frame;
// autosave writes to a throwaway copy of `project`'s metadata, never to the
// project. Prints the results; returns the exit status (1: no frame open).
int run_bench(StudioWindow& win, Studio& studio, int frames, const fs::path& project);

// Creates a project at `dir` (absent or empty) for the bench: `frames` frames
// of one video assigned to annotators a and b (expert: "expert"); every 10th
// labeled done by both (the expert's queue), every 10th + 1 in progress for
// a. Frames and masks are hard links to a few shared files, so 60,000 frames
// take seconds. Throws Error when the folder cannot be made.
void make_bench_project(const fs::path& dir, int frames);

}  // namespace excap::studio
