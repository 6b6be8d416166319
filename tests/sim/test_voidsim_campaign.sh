#!/usr/bin/env bash
# The default-suite campaign: 1,000 seeds, each drawing n in {4, 7}, a random
# mix of the nine fault types and 0..f Byzantine replicas with a random mix of
# the eight strategies, 10 client operations per run (scripts/campaign runs
# the full-size workload). Every run signs and verifies with real Ed25519,
# through the simulator's signature memo (a frame is verified once, not by
# every receiver; docs/simulator.md), which made verification in the honest
# runs free enough to keep: they used to skip it. The safety checkers must pass on every seed (see
# below for liveness), and the mix must actually cover every fault type,
# every strategy and both cluster sizes. A failing seed prints its replay
# command (voidsim prints it; this script shows the lines). Each line of the
# campaign is printed (not --quiet) so the coverage can be checked.
#
# The seeds run on the unsanitized tree (VOID_UNSAN_BIN, built by the
# sim_unsanitized fixture: a tenth of the CPU), and the first
# VOID_SIM_SANITIZED_SEEDS of them again on the sanitizer build, so that
# memory errors on the simulator's paths still show.
set -euo pipefail
bin="${VOID_BIN:?}"
sim="${VOID_UNSAN_BIN:-$bin}/voidsim"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
seeds=${VOID_SIM_SEEDS:-1..1000}
sanitized=${VOID_SIM_SANITIZED_SEEDS:-1..40}
jobs=$(nproc 2>/dev/null || echo 2)
start=$(date +%s)
"$bin/voidsim" --seeds "$sanitized" --requests 10 --jobs "$jobs" --quiet >"$tmp/san" ||
  { cat "$tmp/san"; echo "FAIL: seeds $sanitized on the sanitizer build"; exit 1; }
echo "sanitizer build: $(tail -n1 "$tmp/san") ($(( $(date +%s) - start )) s)"
start=$(date +%s)
set +e
"$sim" --seeds "$seeds" --requests 10 --jobs "$jobs" >"$tmp/out"
rc=$?
set -e
echo "campaign $seeds took $(( $(date +%s) - start )) s with $jobs jobs ($sim)"
grep -A2 -E 'VIOLATION|CRASHED' "$tmp/out" | head -60 || true
tail -n1 "$tmp/out"
[ $rc -le 1 ] || { echo "FAIL: voidsim exited $rc"; exit 1; }
tail -n1 "$tmp/out" | grep -Eq '^SIM runs=[0-9]+ faults=[0-9]+ byzantine=[0-9]+ violations=[0-9]+$'
# Safety (agreement, linearizability, as-of reads, HLC order), liveness and
# crashes of the simulated process fail the test. VOID_SIM_STRICT=0 reports
# liveness violations without failing on them (scripts/campaign is always
# strict). Seed 366 (a restarted primary that could not re-send its NEW-VIEW
# left the honest replicas in three views) is the regression for liveness.
safety=$(grep -E 'violation:|CRASHED' "$tmp/out" | grep -vc 'violation: liveness' || true)
liveness=$(grep -c 'violation: liveness' "$tmp/out" || true)
echo "safety violations: $safety, liveness violations: $liveness"
[ "$safety" -eq 0 ] || { echo "FAIL: safety violated"; exit 1; }
if [ "${VOID_SIM_STRICT:-1}" = 1 ] && [ "$liveness" -ne 0 ]; then echo "FAIL: liveness violated"; exit 1; fi
[ $rc -eq 0 ] || [ "$liveness" -gt 0 ] || { echo "FAIL: exit 1 without a listed violation"; exit 1; }
for f in delay loss dup reorder partition isolate flap crash clock; do
  grep -Eq "faults=([a-z]+,)*$f(,|\s)" "$tmp/out" || { echo "FAIL: fault $f never drawn"; exit 1; }
done
for b in equivocate forge replay digest future silent garbage split; do
  grep -Eq "byz=[1-9]\[([a-z]+,)*$b(,|\])" "$tmp/out" || { echo "FAIL: strategy $b never drawn"; exit 1; }
done
grep -q ' n=4 ' "$tmp/out" && grep -q ' n=7 ' "$tmp/out" || { echo "FAIL: n=4 and n=7 not both run"; exit 1; }
# Seeds of the full-size campaign that once failed, run at full size here:
# 9251 (n = 4, a Byzantine replica that forges its commits while a backup is
# cut off) stalled for good when replicas counted a COMMIT on its MAC tag
# before a lagging replica could take up a checkpoint on f+1 signatures
# (docs/pbft.md, Commit authentication and State transfer).
for s in 9251; do
  "$sim" --seed "$s" > "$tmp/regress" || { cat "$tmp/regress"; echo "FAIL: seed $s"; exit 1; }
  grep -q 'liveness: all passed' "$tmp/regress" || { cat "$tmp/regress"; echo "FAIL: seed $s"; exit 1; }
done
# 54, 70, 373 (n = 4) and 399 (n = 7, two Byzantine replicas) of
# `--faults crash --requests 300`: Byzantine replicas ignore votes, fall
# behind and change view alone, to a view whose primary is one of them; a
# client took its believed view from the one reply that completed its
# quorum, a Byzantine one, and then sent every request to it first, paying
# a 300 ms retry on each; 1 of 300 requests was still pending 30 s after the
# heal. The client now takes a view only when f + 1 voters named it
# (src/core/pbft_client.c; docs/pbft.md, Clients track the view).
for s in 54 70 373 399; do
  "$sim" --seed "$s" --faults crash --requests 300 > "$tmp/regress" ||
    { cat "$tmp/regress"; echo "FAIL: seed $s --faults crash --requests 300"; exit 1; }
  grep -q 'liveness: all passed' "$tmp/regress" || { cat "$tmp/regress"; echo "FAIL: seed $s"; exit 1; }
done
echo "PASS"
