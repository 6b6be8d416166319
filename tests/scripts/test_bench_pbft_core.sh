#!/usr/bin/env bash
# BENCH pbft_core's floor is the run's whole cryptography: a quick run
# (VOID_BENCH_QUICK: batch 10, 200 requests, 2 rounds) must report calls of
# every primitive the core uses (Ed25519 sign and verify, MAC tags and
# checks, SHA-256 digests), a peer named for all of them, and a sane ratio.
# (Before, the floor counted Ed25519 alone, and the ratio read 1.57 at
# batch 100 although tags and digests were a good part of the run.)
set -euo pipefail
: "${VOID_BIN:?}"
fail() { echo "FAIL: $*" >&2; exit 1; }
out=$(VOID_BENCH_QUICK=1 "$VOID_BIN/bench_pbft_core")
echo "$out"
line=$(grep '^pbft_core batch=10:' <<<"$out") || fail "no per-primitive line"
for prim in "Ed25519 sign" "Ed25519 verify" "MAC tag" "MAC check" "SHA-256" "X25519 key"; do
  calls=$(sed -n "s/.*$prim \([0-9.]*\) x .*/\1/p" <<<"$line")
  [ -n "$calls" ] || fail "the floor does not list $prim"
  [ "$prim" = "X25519 key" ] && continue # derived once per client and replica
  awk -v c="$calls" 'BEGIN {exit !(c > 0)}' || fail "$prim: $calls calls per request"
done
bench=$(grep '^BENCH pbft_core_b10: ' <<<"$out") || fail "no BENCH line"
grep -q 'peer(every signature, verify, MAC, SHA-256 and key derivation of the run)' <<<"$bench" ||
  fail "the peer is not the run's whole crypto: $bench"
ratio=$(sed -n 's/.* ratio=\([0-9.]*\)$/\1/p' <<<"$bench")
# The floor is part of the run: ours can never be cheaper than its own crypto
# by much (noise), nor, at batch 10, many times dearer.
awk -v r="$ratio" 'BEGIN {exit !(r > 0.8 && r < 4)}' || fail "ratio $ratio out of bounds"
echo "test_bench_pbft_core: ok (ratio $ratio)"
