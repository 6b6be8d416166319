#!/usr/bin/env bash
# Seeds of the 100,000-seed campaign that the issue-16 rejoin work touched,
# at full size, as the campaign drew them. Expected: every checker passes
# (agreement, linearizability, as-of, HLC, the view checker's 3 s and the
# 30 s liveness bound), and no honest replica is out of the cluster's view
# for more than 1 s after the heal.
# - 27052 72719 75090 (n = 7): a replica restarted into an older installed
#   view while the cluster had moved on and idled; nothing told it of the
#   new view (3.6-4.1 s out) before FETCH_STATE carried the fetcher's view.
#   They fail on the core of 2026-12-06 (docs/pbft.md, Rejoining).
# - 27805, 39246, 62964 (n = 4, a Byzantine replica forging commits): the
#   rejoin beacon livelocked them while a replica executed a batch on the
#   forger's tagged commits with a bad signature (no certificate of it
#   existed anywhere); 39246 and 62964 fail with the beacon on before
#   commits_certified (src/core/pbft.c; docs/pbft.md, Commit authentication).
# - 3873, 11267, 17742, 25922, 38093, 39953 (n = 7): a replica changing view
#   alone while the clients idle, 3.5-5.2 s out after the heal without the
#   rejoin beacon (voidsim --no-rejoin-beacon), which is now on by default.
set -euo pipefail
bin="${VOID_BIN:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
seeds="27052 72719 75090 27805 39246 62964 3873 11267 17742 25922 38093 39953"
start=$(date +%s)
fail=0
for s in $seeds; do
  if ! "$bin/voidsim" --seed "$s" >"$tmp/out" 2>&1; then
    echo "FAIL: seed $s:"; grep -E 'violation|^seed=' "$tmp/out" || cat "$tmp/out"
    fail=1
    continue
  fi
  grep -q 'liveness: all passed' "$tmp/out" || { cat "$tmp/out"; echo "FAIL: seed $s"; fail=1; continue; }
  out=$(grep -Eo 'longest out after the heal [0-9]+\.[0-9]+s' "$tmp/out" | grep -Eo '[0-9]+\.[0-9]+')
  [ -n "$out" ] || { cat "$tmp/out"; echo "FAIL: seed $s: no view figure"; fail=1; continue; }
  echo "seed $s: longest out of the view after the heal ${out} s"
  awk -v o="$out" 'BEGIN { exit !(o < 1.0) }' || { echo "FAIL: seed $s: ${out} s out (bound 1 s)"; fail=1; }
done
echo "$(echo $seeds | wc -w) seeds took $(( $(date +%s) - start )) s"
[ "$fail" -eq 0 ] || exit 1
echo "PASS"
