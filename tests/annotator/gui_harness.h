// The studio used as people use it: excap-studio under Xvfb, real pointer and
// keyboard input through xdotool (XTEST), and the studio's --trace file to
// find what to click and to see where the input led. Shared by the GUI suites.
//
// A scenario is a list of steps; each acts, then waits (a bounded poll) for a
// new trace line starting with its `expect`. Afterwards the studio is quit
// with Ctrl+Q and the test reads the files it saved.
#pragma once
#include <string>
#include <vector>

#include "test_support.h"

namespace excap::test::gui {

// True when xvfb-run and xdotool are installed; else prints why `suite` is skipped.
bool have_gui_tools(const std::string& suite);

struct Step {
  std::string kind;    // click, key, drag, shell, wait
  std::string target;  // click/drag: trace target name; key: xdotool keys; shell: command
  std::string args;    // click: "FX FY BUTTON"; drag: "FX0 FY0 FX1 FY1 STEPS"
  std::string expect;  // prefix of a new trace line that shows the step took effect
};

// Clicks the point at fractions (fx, fy) of the target's rectangle: press,
// a pause, release (ImGui's backend keeps a press seen by no frame).
Step click(const std::string& target, const std::string& expect, double fx = 0.5, double fy = 0.5,
           int button = 1);
// Holds the keys ("ctrl+z", "Right", "4") down until `expect` appears (a frame
// saw them), then lets go; the studio window is focused first.
Step key(const std::string& keys, const std::string& expect);
// Left-button drag across the target from (fx0, fy0) to (fx1, fy1), fractions
// of its rectangle, in `steps` moves; waits for the studio's "pointer down X Y"
// line at every point so no point is skipped, then releases.
Step drag(const std::string& target, double fx0, double fy0, double fx1, double fy1,
          const std::string& expect, int steps = 6);
// Runs a shell command (in the scenario's folder), then waits for `expect`
// (skipped when empty).
Step shell(const std::string& command, const std::string& expect = "");
// Waits for a line starting with `expect` anywhere in the trace, old or new.
Step wait(const std::string& expect);

// The studio's arguments for project dir/p: user, workspace, settings and trace in `dir`.
std::vector<std::string> studio_args(const ScratchDir& dir, const std::string& user,
                                     const std::string& workspace);

// Runs the studio with `args` under xvfb-run and plays `steps`; the trace is
// dir/trace.txt. Returns the exit status (0: every step saw its line and the
// studio quit cleanly); the output is printed when it is not 0.
int run_scenario(const ScratchDir& dir, const std::vector<std::string>& args,
                 const std::vector<Step>& steps, std::string* out);

std::vector<std::string> trace_lines(const fs::path& file);
bool has_line(const std::vector<std::string>& lines, const std::string& prefix);

}  // namespace excap::test::gui
