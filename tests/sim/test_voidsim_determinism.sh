#!/usr/bin/env bash
# Determinism of voidsim: the same seed yields a byte-identical trace (run
# twice and hashed), a campaign prints the same lines (which carry each run's
# trace hash) under --jobs 1 and --jobs 3, with and without the signature
# memo, and the hash a campaign reports for
# a seed is the hash of that seed's single-run trace. Also checks the CLI's
# usage errors and --help. Whether the runs pass the checkers is not the
# point here (exit status 1 is accepted); test_voidsim_campaign.sh asks that.
set -euo pipefail
bin="${VOID_BIN:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Runs voidsim; exit status 0 (all checkers passed) or 1 (a checker fired)
# are both fine here, anything else (a crash, a usage error) is not.
sim() {
  local rc=0
  "$bin/voidsim" "$@" || rc=$?
  [ $rc -le 1 ] || { echo "FAIL: voidsim $* exited $rc"; exit 1; }
}

seed=12
sim --seed "$seed" --faults all --byzantine 1 --n 4 --trace "$tmp/a.trace" >"$tmp/a.out"
sim --seed "$seed" --faults all --byzantine 1 --n 4 --trace "$tmp/b.trace" >"$tmp/b.out"
ha=$(sha256sum <"$tmp/a.trace" | cut -d' ' -f1)
hb=$(sha256sum <"$tmp/b.trace" | cut -d' ' -f1)
echo "trace sha256: $ha / $hb ($(wc -l <"$tmp/a.trace") lines)"
[ "$ha" = "$hb" ] || { echo "FAIL: same seed, different traces"; diff "$tmp/a.trace" "$tmp/b.trace" | head; exit 1; }
[ "$(wc -l <"$tmp/a.trace")" -gt 100 ] || { echo "FAIL: trace suspiciously short"; exit 1; }
cmp -s "$tmp/a.out" "$tmp/b.out" || { echo "FAIL: same seed, different summaries"; exit 1; }
# The trace is readable and free of pointers and wall-clock dates.
if grep -Eq '0x[0-9a-f]{8,}' "$tmp/a.trace"; then echo "FAIL: pointer-like text in trace"; exit 1; fi
grep -q ' commit view=' "$tmp/a.trace" || { echo "FAIL: no commits in trace"; exit 1; }

# The signature memo changes nothing: the same trace, byte for byte, when
# every signature is verified by libsodium anew.
sim --seed "$seed" --faults all --byzantine 1 --n 4 --no-sig-memo --trace "$tmp/m.trace" >"$tmp/m.out"
cmp "$tmp/a.trace" "$tmp/m.trace" || { echo "FAIL: --no-sig-memo changed the trace"; exit 1; }
cmp -s "$tmp/a.out" "$tmp/m.out" || { echo "FAIL: --no-sig-memo changed the summary"; exit 1; }

# A different seed gives a different trace.
sim --seed $((seed + 1)) --faults all --byzantine 1 --n 4 --trace "$tmp/c.trace" >/dev/null
hc=$(sha256sum <"$tmp/c.trace" | cut -d' ' -f1)
[ "$hc" != "$ha" ] || { echo "FAIL: different seeds, same trace"; exit 1; }

# Campaign output is the same whatever the number of workers.
sim --seeds 1..6 --requests 20 --jobs 1 >"$tmp/j1.out" 2>/dev/null
sim --seeds 1..6 --requests 20 --jobs 3 >"$tmp/j3.out" 2>/dev/null
cmp "$tmp/j1.out" "$tmp/j3.out" || { echo "FAIL: --jobs changed the campaign output"; diff "$tmp/j1.out" "$tmp/j3.out"; exit 1; }
tail -n1 "$tmp/j1.out" | grep -Eq '^SIM runs=6 faults=[0-9]+ byzantine=[0-9]+ violations=[0-9]+$' ||
  { echo "FAIL: bad summary line"; tail -n1 "$tmp/j1.out"; exit 1; }

# The campaign's hash of seed 2 is the hash of seed 2's own trace (FNV-1a 64
# over the trace text, computed here independently in Python).
sim --seed 2 --requests 20 --trace "$tmp/s2.trace" >/dev/null
want=$(python3 - "$tmp/s2.trace" <<'PY'
import sys
h = 0xcbf29ce484222325
for b in open(sys.argv[1], 'rb').read():
    h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
print('%016x' % h)
PY
)
grep -q "^seed=2 .* trace=$want " "$tmp/j3.out" || { echo "FAIL: campaign hash of seed 2 != its trace ($want)"; grep '^seed=2 ' "$tmp/j3.out"; exit 1; }

# Usage errors exit 2; --help exits 0.
"$bin/voidsim" --help | grep -q 'usage: voidsim'
set +e
"$bin/voidsim" >/dev/null 2>&1; [ $? -eq 2 ] || { echo "FAIL: no args should exit 2"; exit 1; }
"$bin/voidsim" --seed x >/dev/null 2>&1; [ $? -eq 2 ] || { echo "FAIL: bad seed should exit 2"; exit 1; }
"$bin/voidsim" --seed 1 --faults bogus >/dev/null 2>&1; [ $? -eq 2 ] || { echo "FAIL: bad fault should exit 2"; exit 1; }
"$bin/voidsim" --seed 1 --n 4 --byzantine 2 >/dev/null 2>&1; [ $? -eq 2 ] || { echo "FAIL: byzantine > f should exit 2"; exit 1; }
set -e
echo "PASS"
