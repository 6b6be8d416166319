#!/usr/bin/env bash
# bench/cas_upload.sh: BENCH cas_upload, does a large file upload stall
# consensus? A 4-replica cluster (scripts/cluster, Release build, logs at
# warn) on loopback; first 1-client closed-loop 100-byte puts alone (voidload,
# SECS seconds), then the same load while `voidctl put --file` uploads a
# SIZE_MB file of random bytes (blocks go straight to the replicas' block
# stores, outside PBFT). Prints the upload's wall time and the puts'
# throughput and p50/p99 in both phases, with the mean time of the replicas'
# record-log group commits (from their /metrics), which tells the disk's share
# of a slowdown from the loop's. The BENCH line: p99 of a put during the
# upload / p99 alone (lower is better; 1.0 means the upload does not disturb
# consensus at all). Every node must be up and answering before and after
# each phase, or the bench fails naming it.
#
# Usage: [SIZE_MB=64] [SECS=5] bash bench/cas_upload.sh
#
# Options (environment):
#   SIZE_MB      size of the uploaded file (default 64)
#   SECS         seconds of load per phase (default 5)
#   VOID_BIN     directory with voidd, voidctl, voidload (default build/bin)
#   -h, --help   this help
#
# Example: SIZE_MB=256 VOID_BIN=build/bin bash bench/cas_upload.sh
set -euo pipefail
source "$(dirname "$0")/lib/args.sh"
bench_args cas_upload "$@" # -h/--help, no other argument; root and bin
size_mb=${SIZE_MB:-64}
secs=${SECS:-5}

work=$(mktemp -d "${TMPDIR:-/tmp}/void-bench-casup-XXXXXX")
source "$root/bench/lib/ports.sh"
BENCH_NAME=cas_upload
upload_pid=""
cleanup() {
  if [ -n "$upload_pid" ]; then kill "$upload_pid" 2>/dev/null || true; fi
  VOID_BIN=$bin VOID_CLUSTER_DIR=$work/void "$root/scripts/cluster" stop > /dev/null 2>&1 || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
# A signal (timeout, Ctrl-C) exits through the cleanup too: the nodes run in
# sessions of their own and would outlive the script.
trap 'exit 143' TERM
trap 'exit 130' INT
P=$(free_port_base 0 1 2 3 1000 1001 1002 1003)

# Client 100 drives the puts, client 101 uploads.
VOID_LOG_LEVEL=warn VOID_BIN=$bin VOID_CLUSTER_DIR=$work/void \
  "$root/scripts/cluster" start --n 4 --port "$P" --clients 2 > /dev/null
head -c $((size_mb << 20)) /dev/urandom > "$work/big"

load() { "$bin/voidload" void "$work/void" --clients 1 --seconds "$secs" --value 100; }
# Record-log group commits of the 4 replicas so far: "commits microseconds".
persist() {
  python3 - "$P" <<'PY'
import sys, urllib.request
p = int(sys.argv[1]); n = us = 0
for i in range(4):
    for line in urllib.request.urlopen(f"http://127.0.0.1:{p + 1000 + i}/metrics", timeout=5).read().decode().splitlines():
        if line.startswith("void_persist_duration_seconds_count "): n += int(line.split()[1])
        if line.startswith("void_persist_duration_seconds_sum "): us += round(float(line.split()[1]) * 1e6)
print(n, us)
PY
}
sync_ms() { python3 -c "a=[int(x) for x in '$1'.split()]; b=[int(x) for x in '$2'.split()]; print(f'{(b[1]-a[1])/max(1,b[0]-a[0])/1000:.2f}')"; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }

# Every node running and answering before and after each phase, else the
# bench fails naming the node (a phase on 3 of 4 replicas compares nothing).
void_healthy "$work/void"
p0=$(persist)
alone=$(load)
void_healthy "$work/void"
p1=$(persist)
start=$(date +%s.%N)
( "$bin/voidctl" put --file "$work/big" big --cluster "$work/void/client-101.ini" --timeout 300 \
    > "$work/upload.out" 2>&1; echo $? > "$work/upload.rc"; date +%s.%N > "$work/upload.end" ) &
upload_pid=$!
sleep 0.3 # let the client chunk the file and start sending
during=$(load)
void_healthy "$work/void"
p2=$(persist)
wait "$upload_pid" || true
upload_pid=""
if [ "$(cat "$work/upload.rc" 2>/dev/null)" != 0 ]; then
  echo "cas_upload: the upload failed: $(cat "$work/upload.out")" >&2
  exit 1
fi
up_s=$(python3 -c "print(f'{$(cat "$work/upload.end") - $start:.2f}')")

sync_alone=$(sync_ms "$p0" "$p1") sync_during=$(sync_ms "$p1" "$p2")
printf '%-14s %10s %10s %10s %16s\n' phase "puts/s" "p50 us" "p99 us" "record sync ms"
for phase in alone during; do
  line=${!phase} sync=sync_$phase
  printf '%-14s %10s %10s %10s %16s\n' "$phase" "$(field ops_per_s "$line")" \
    "$(field p50_us "$line")" "$(field p99_us "$line")" "${!sync}"
done
echo "upload of ${size_mb} MiB: ${up_s} s ($(cat "$work/upload.out"))"
python3 - "$(field p99_us "$during")" "$(field p99_us "$alone")" <<'PY'
import sys
d, a = float(sys.argv[1]), float(sys.argv[2])
print(f"BENCH cas_upload: ours={d:.1f}us peer(same cluster, no upload)={a:.1f}us ratio={d / a:.2f}")
PY
