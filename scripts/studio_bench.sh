#!/usr/bin/env bash
# The studio's cost against the project's size: for each frame count,
# generates a project (excap-studio --make-bench-project), then runs
# excap-studio --bench under Xvfb in the Label workspace (annotator a) and
# the Adjudicate workspace (the expert, whose queue holds a tenth of the
# frames), and prints one table of the UI's time per frame.
#
#   scripts/studio_bench.sh [--studio PATH] [--frames N] [SIZE...]
#
# SIZE defaults to 10 1000 10000 60000; --frames is the number of frames
# timed per run (default 200); --studio defaults to build/bin/excap-studio.
# Columns: the UI's CPU time on its own thread (steady on a shared machine),
# the same part in wall time, and the whole frame (llvmpipe's render included).
set -euo pipefail

studio=build/bin/excap-studio
frames=200
sizes=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --studio) studio=$2; shift 2 ;;
    --frames) frames=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) sizes+=("$1"); shift ;;
  esac
done
[[ ${#sizes[@]} -gt 0 ]] || sizes=(10 1000 10000 60000)
[[ -x $studio ]] || { echo "studio_bench: no excap-studio at $studio (build it, or --studio PATH)" >&2; exit 2; }
command -v xvfb-run >/dev/null || { echo "studio_bench: xvfb-run is missing (apt-get install xvfb)" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/studio-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

# One bench run; prints "ui_cpu ui_wall frame" (ms, means) from its output.
bench() {
  local dir=$1 user=$2 workspace=$3 out
  out=$(xvfb-run -a -s "-screen 0 1280x800x24" "$studio" "$dir" --user "$user" \
          --workspace "$workspace" --bench --bench-frames "$frames" 2>&1) || {
    echo "studio_bench: the bench failed on $dir ($workspace):" >&2
    echo "$out" >&2
    return 1
  }
  local ui_wall ui_cpu frame
  frame=$(sed -n 's/^frame time, idle.*: mean \([0-9.]*\) ms.*/\1/p' <<<"$out")
  ui_wall=$(sed -n 's/.*of which UI (ImGui draw lists): mean \([0-9.]*\) ms.*/\1/p' <<<"$out")
  ui_cpu=$(sed -n 's/.*UI-thread CPU: mean \([0-9.]*\) ms.*/\1/p' <<<"$out")
  echo "$ui_cpu $ui_wall $frame"
}

printf '%-8s %-10s %-10s | %-22s %-12s %-10s\n' frames generate workspace "UI CPU ms/frame" \
  "UI wall ms" "frame ms"
for n in "${sizes[@]}"; do
  dir=$work/p$n
  t0=$(date +%s.%N)
  "$studio" "$dir" --make-bench-project "$n" >/dev/null
  gen=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f s", b - a }')
  for run in "a label" "expert adjudicate"; do
    read -r user workspace <<<"$run"
    read -r ui_cpu ui_wall frame < <(bench "$dir" "$user" "$workspace")
    printf '%-8s %-10s %-10s | %-22s %-12s %-10s\n' "$n" "$gen" "$workspace" "$ui_cpu" \
      "$ui_wall" "$frame"
  done
  rm -rf "$dir"
done
