#include "gui_harness.h"

#include <fstream>
#include <iostream>
#include <sstream>

#include "common/process.h"

namespace excap::test::gui {

namespace {

// The player: starts the studio (the arguments after the first two) in the
// background and plays the steps file, one step a line, fields separated by
// \x1f: kind, target, args, expect. Every wait is a bounded poll of the trace
// (at most a minute); a step whose line never comes stops the scenario with
// the trace printed. Ends with Ctrl+Q, held until the studio exits.
const char* kPlayer = R"SH(
set -u
trace="$1"; steps="$2"; shift 2
cd "$(dirname "$trace")"
"$@" &
pid=$!
fail() { echo "$1"; echo "--- trace:"; cat "$trace" 2>/dev/null; kill $pid 2>/dev/null; exit 3; }
count() { if [ -f "$trace" ]; then wc -l < "$trace"; else echo 0; fi; }
# seen FROM PREFIX: a line after the first FROM lines starts with PREFIX.
seen() { tail -n +$(( $1 + 1 )) "$trace" 2>/dev/null | awk -v p="$2" 'index($0, p) == 1 { f = 1 } END { exit !f }'; }
wait_from() {
  for _ in $(seq 1 1200); do
    seen "$1" "$2" && return 0
    kill -0 $pid 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}
# point TARGET FX FY: the screen point at those fractions of the target's last rectangle.
point() {
  awk -v p="target $1 " -v fx="$2" -v fy="$3" 'index($0, p) == 1 { x = $(NF-3); y = $(NF-2); w = $(NF-1); h = $NF }
    END { printf "%d %d", x + fx * w, y + fy * h }' "$trace"
}
focus() {
  local wid
  wid=$(xdotool search --name "ExCap Studio" | head -1)
  [ -n "$wid" ] && xdotool windowfocus --sync "$wid"
}
target_ready() {
  wait_from 0 "target $1 " || fail "no target $1"
  sleep 0.3  # a newly drawn panel may settle its layout on the next frame
}
do_click() {  # target args expect
  target_ready "$1"
  set -- "$1" $2 "$3"
  local xy n; xy=$(point "$1" "$2" "$3")
  n=$(count)
  xdotool mousemove --sync $xy
  sleep 0.1; xdotool mousedown "$4"; sleep 0.2; xdotool mouseup "$4"
  wait_from "$n" "$5" || fail "click $1: no line '$5'"
}
do_key() {  # keys expect
  focus
  local n; n=$(count)
  IFS='+' read -ra keys <<< "$1"
  for k in "${keys[@]}"; do xdotool keydown "$k"; done
  local ok=0; wait_from "$n" "$2" || ok=1
  for (( i=${#keys[@]}-1; i>=0; i-- )); do xdotool keyup "${keys[$i]}"; done
  [ $ok = 0 ] || fail "key $1: no line '$2'"
}
do_drag() {  # target args expect
  target_ready "$1"
  local name="$1" expect="$3"
  set -- $2
  local prev="" n xy
  for (( i=0; i<=$5; i++ )); do
    xy=$(point "$name" "$(awk -v a="$1" -v b="$3" -v i=$i -v s="$5" 'BEGIN { print a + (b - a) * i / s }')" \
                       "$(awk -v a="$2" -v b="$4" -v i=$i -v s="$5" 'BEGIN { print a + (b - a) * i / s }')")
    [ "$xy" = "$prev" ] && continue
    n=$(count)
    xdotool mousemove --sync $xy
    [ $i = 0 ] && { sleep 0.1; xdotool mousedown 1; }
    wait_from "$n" "pointer down $xy" || { xdotool mouseup 1; fail "drag $name: point $xy not seen"; }
    prev="$xy"
  done
  n=$(count)
  xdotool mouseup 1
  wait_from "$n" "$expect" || fail "drag $name: no line '$expect'"
}
while IFS=$'\x1f' read -r -u 3 kind target args expect; do
  case "$kind" in
    click) do_click "$target" "$args" "$expect" ;;
    key) do_key "$target" "$expect" ;;
    drag) do_drag "$target" "$args" "$expect" ;;
    shell) n=$(count); eval "$target"; [ -z "$expect" ] || wait_from "$n" "$expect" || fail "shell: no line '$expect'" ;;
    wait) wait_from 0 "$expect" || fail "no line '$expect'" ;;
    *) fail "unknown step $kind" ;;
  esac
done 3< "$steps"
focus
xdotool keydown ctrl; xdotool keydown q
for _ in $(seq 1 200); do kill -0 $pid 2>/dev/null || break; sleep 0.05; done
xdotool keyup q; xdotool keyup ctrl
kill -0 $pid 2>/dev/null && { echo "studio did not quit on Ctrl+Q"; kill $pid; }
wait $pid
)SH";

std::string number(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

}  // namespace

bool have_gui_tools(const std::string& suite) {
  for (const char* tool : {"xvfb-run", "xdotool"})
    if (!excap::program_available(tool)) {
      std::cout << "[skip] " << tool << " is missing: " << suite << " needs xvfb and xdotool\n";
      return false;
    }
  return true;
}

Step click(const std::string& target, const std::string& expect, double fx, double fy, int button) {
  return {"click", target, number(fx) + " " + number(fy) + " " + std::to_string(button), expect};
}

Step key(const std::string& keys, const std::string& expect) { return {"key", keys, "", expect}; }

Step drag(const std::string& target, double fx0, double fy0, double fx1, double fy1,
          const std::string& expect, int steps) {
  return {"drag", target,
          number(fx0) + " " + number(fy0) + " " + number(fx1) + " " + number(fy1) + " " +
              std::to_string(steps),
          expect};
}

Step shell(const std::string& command, const std::string& expect) {
  return {"shell", command, "", expect};
}

Step wait(const std::string& expect) { return {"wait", "", "", expect}; }

std::vector<std::string> studio_args(const ScratchDir& dir, const std::string& user,
                                     const std::string& workspace) {
  return {(dir / "p").string(),
          "--user",
          user,
          "--workspace",
          workspace,
          "--settings",
          (dir / "s.json").string(),
          "--trace",
          (dir / "trace.txt").string()};
}

int run_scenario(const ScratchDir& dir, const std::vector<std::string>& args,
                 const std::vector<Step>& steps, std::string* out) {
  const fs::path player = dir / "scenario.sh", list = dir / "steps.txt";
  std::ofstream(player) << kPlayer;
  {
    std::ofstream s(list);
    for (const auto& st : steps)
      s << st.kind << '\x1f' << st.target << '\x1f' << st.args << '\x1f' << st.expect << '\n';
  }
  std::vector<std::string> argv = {"xvfb-run",
                                   "-a",
                                   "-s",
                                   "-screen 0 1280x800x24",
                                   "bash",
                                   player.string(),
                                   (dir / "trace.txt").string(),
                                   list.string(),
                                   test::built_binary("excap-studio")};
  argv.insert(argv.end(), args.begin(), args.end());
  const int rc = test::run_command(argv, out);
  if (rc != 0) std::cout << *out << "\n";
  return rc;
}

std::vector<std::string> trace_lines(const fs::path& file) {
  std::ifstream in(file);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool has_line(const std::vector<std::string>& lines, const std::string& prefix) {
  for (const auto& l : lines)
    if (l.rfind(prefix, 0) == 0) return true;
  return false;
}

}  // namespace excap::test::gui
