#!/usr/bin/env bash
# bench/web_frames.sh: frame times of the web view (docs/web.md, "Frame
# times") in headless Debian chromium, WebGL on SwiftShader (the software
# renderer), on the page's synthetic data (shaped like PBFT's traffic: a
# send, its receives within milliseconds): 10 nodes with 10,000 events and
# about as many message edges (goal: p95 frame <= 16.7 ms) and with 50,000
# events and 100,000 edges asked for (about 95,000 made)
# (goal: p95 <= 33 ms), the camera orbiting so that every frame is drawn;
# and the time from a slider move to the end of the next frame (goal:
# < 100 ms). Also 10,000 events as instanced meshes, for comparison.
#
# Usage: bench/web_frames.sh
#
# Options:
#   -h, --help   this help
#
# Prints one JSON line per scene (frame-to-frame interval p50/p95, and
# cpu_ms_per_frame: the CPU time all of chromium's processes spent per frame,
# which a loaded machine does not inflate the way it does intervals; with
# "_sync" in the name each frame also waits for its pixels, so render_* is
# the frame's whole cost) and BENCH lines whose "peer" is the goal. The
# machine's load average is printed first: it is shared, and SwiftShader
# runs on its CPUs. Environment: MEASURE_MS (default 8000) per scene,
# SCENES (small,large,instanced).
#
# Example: bench/web_frames.sh
set -euo pipefail
case "${1:-}" in
  -h|--help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;;
  "") ;;
  *) echo "web_frames: no arguments (see --help)" >&2; exit 2 ;;
esac
src=${VOID_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
[ -x "${VOID_CHROMIUM:-/usr/bin/chromium}" ] || { echo "web_frames: no chromium; run ./scripts/deps" >&2; exit 1; }
dist=$(mktemp -d /tmp/void-web-frames-XXXXXX)
trap 'rm -rf "$dist"' EXIT
"$src/scripts/web" --out "$dist" > /dev/null
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
VOID_SOURCE_DIR=$src node "$src/bench/web_frames.mjs" "$dist"
