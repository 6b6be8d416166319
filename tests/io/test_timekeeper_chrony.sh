#!/usr/bin/env bash
# Real-peer test of the timekeeper: three chronyd servers on loopback, one of
# them serving time shifted by +2 s through libfaketime.
#
#   - `voidctl time sources` marks the shifted server a falseticker, the two
#     others truechimers, and the combined offset is within BOUND_US of the
#     true time (the unshifted servers read this machine's clock, so the true
#     offset is 0).
#   - `voidctl time watch` runs the client continuously; after 4 s one good
#     server is killed. The client must keep the disciplined clock within
#     BOUND_US of true time the whole run, mark the dead server unreachable,
#     keep the shifted one a falseticker and go on with the survivor.
#
# Every process started here is stopped on exit, also when a check fails.
set -euo pipefail

BOUND_US=500 # stated bound on loopback; measured: a few us (Release) to tens of us (ASan)
VOIDCTL=${VOID_BIN:-build/test/bin}/voidctl
FAKETIME_LIB=$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -n1 || true)

tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    for p in "${pids[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT

if ! command -v chronyd >/dev/null || [ -z "$FAKETIME_LIB" ]; then
    echo "SKIP: chronyd or libfaketime not installed (scripts/deps installs them)"
    exit 77
fi

base=$((20000 + (RANDOM % 2000) * 10))
user=$(id -un)
servers=()
start_chronyd() { # index, stratum, shift ("" for none)
    local i=$1 conf="$tmp/chrony$1.conf"
    cat >"$conf" <<EOF
port $((base + i))
bindaddress 127.0.0.1$i
allow 127.0.0.0/8
local stratum $2
cmdport 0
pidfile $tmp/chronyd$i.pid
driftfile $tmp/chronyd$i.drift
EOF
    if [ -n "$3" ]; then
        FAKETIME_DONT_FAKE_MONOTONIC=1 LD_PRELOAD="$FAKETIME_LIB" FAKETIME="$3" \
            chronyd -x -d -u "$user" -f "$conf" >"$tmp/chronyd$i.log" 2>&1 &
    else
        chronyd -x -d -u "$user" -f "$conf" >"$tmp/chronyd$i.log" 2>&1 &
    fi
    pids+=($!)
    servers+=(--server "127.0.0.1$i:$((base + i))")
}
start_chronyd 1 1 ""
start_chronyd 2 2 ""
start_chronyd 3 3 "+2s"

# Wait until all three answer (chronyd needs a moment to bind).
for _ in $(seq 1 50); do
    if "$VOIDCTL" time sources "${servers[@]}" --samples 1 --timeout-ms 100 --json \
        >"$tmp/probe.json" 2>/dev/null &&
        [ "$(grep -c '"replies": 1' "$tmp/probe.json")" = 3 ]; then
        break
    fi
    sleep 0.1
done

echo "--- voidctl time sources"
"$VOIDCTL" time sources "${servers[@]}" --samples 4 --interval-ms 100
"$VOIDCTL" time sources "${servers[@]}" --samples 4 --interval-ms 100 --json >"$tmp/sources.json"
python3 - "$tmp/sources.json" "$BOUND_US" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1])); bound = int(sys.argv[2]) * 1000
states = [s["state"] for s in r["servers"]]
assert states == ["truechimer", "truechimer", "falseticker"], states
assert abs(r["combined_offset_ns"]) < bound, r["combined_offset_ns"]
shifted = r["servers"][2]["offset_ns"]
assert abs(shifted - 2_000_000_000) < 50_000_000, shifted
print("sources ok: combined offset %d ns, shifted server %+d ns" % (r["combined_offset_ns"], shifted))
EOF

echo "--- voidctl time watch, killing server 1 after 4 s"
"$VOIDCTL" time watch "${servers[@]}" --interval-ms 100 --timeout-ms 80 --report-ms 250 \
    --duration-ms 8000 >"$tmp/watch.jsonl" &
watch_pid=$!
pids+=("$watch_pid")
sleep 4
kill "${pids[0]}"
wait "${pids[0]}" 2>/dev/null || true
wait "$watch_pid"
python3 - "$tmp/watch.jsonl" "$BOUND_US" <<'EOF'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
bound = int(sys.argv[2]) * 1000
assert len(lines) >= 25, len(lines)
worst = 0
for l in lines:
    if l["elapsed_ms"] < 1000:
        continue  # first second: filters filling
    # the disciplined clock's error against true time is its correction
    worst = max(worst, abs(l["correction_ns"]))
    assert l["servers"][2]["state"] == "falseticker", l
    assert l["truechimers"] >= 1, l
assert worst < bound, worst
before = [l for l in lines if 2000 <= l["elapsed_ms"] < 3900]
assert before and all(l["truechimers"] == 2 for l in before), before[-1:]
last = lines[-1]
assert [s["state"] for s in last["servers"]] == ["unreachable", "truechimer", "falseticker"], last
print("watch ok: %d reports, worst |virtual - true| %d ns after the first second" % (len(lines), worst))
EOF
echo PASS
