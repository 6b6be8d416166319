#!/usr/bin/env bash
# Task placement is deterministic under faults (docs/scheduler.md,
# "Determinism checker"): clients also submit and cancel tasks, and after
# every batch an honest replica executes, its table of active tasks (which
# member runs each) is compared with every other honest replica's at the
# same executed sequence number. No run may report a violation, and the
# runs must have placed tasks and compared placements.
set -euo pipefail
bin="${VOID_BIN:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
seeds=${VOID_SIM_TASK_SEEDS:-1..8}
jobs=$(nproc 2>/dev/null || echo 2)
start=$(date +%s)
set +e
"$bin/voidsim" --seeds "$seeds" --tasks --requests 40 --jobs "$jobs" >"$tmp/out"
rc=$?
set -e
echo "campaign $seeds with --tasks took $(( $(date +%s) - start )) s with $jobs jobs"
grep -A2 -E 'VIOLATION|CRASHED' "$tmp/out" | head -60 || true
tail -n1 "$tmp/out"
[ $rc -eq 0 ] || { echo "FAIL: voidsim exited $rc"; exit 1; }
runs=$(grep -c '^seed=' "$tmp/out")
placed=$(grep -oE ' tasks_placed=[0-9]+' "$tmp/out" | awk -F= '{s += $2} END {print s + 0}')
checks=$(grep -oE ' task_checks=[0-9]+' "$tmp/out" | awk -F= '{s += $2} END {print s + 0}')
echo "runs: $runs, tasks placed: $placed, placements compared: $checks"
[ "$runs" -gt 0 ] || { echo "FAIL: no runs"; exit 1; }
[ "$placed" -ge "$runs" ] || { echo "FAIL: fewer tasks placed than runs"; exit 1; }
[ "$checks" -gt $((runs * 20)) ] || { echo "FAIL: too few placements compared"; exit 1; }
