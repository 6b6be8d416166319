# A state larger than one message (4 MiB) reaches a wiped replica by
# incremental state transfer (docs/pbft.md, State transfer): 64 clients put
# distinct keys of 256-byte values until the export of the state passes
# 4.7 MB, node 3's data directory is deleted, and node 3 restarts. It must
# fetch the state partition by partition and end with the others' key
# count and digest; the test prints how long that took, the rate, and the
# catching-up replica's peak memory (RssAnon, VmRSS, sampled every 0.2 s).
# Before incremental transfer the whole export had to fit in one STATE, and
# node 3 stayed behind for good.
# Loading the state takes minutes on a loaded machine, so the test runs only
# with VOID_SLOW_TESTS=1 and is skipped (exit 77) otherwise.
# As a measurement (docs/kvs.md, "Memory during state transfer"):
#   VOID_XFER_KEYS=N      keys to load (default 16000)
#   VOID_XFER_VALUE=B     value bytes (default 256)
#   VOID_XFER_BEFORE_BIN=DIR  first transfer the state to node 3 running DIR's
#                         voidd (an older build), then again with $VOID_BIN's,
#                         and print both memory figures
if [ "${VOID_SLOW_TESTS:-0}" != 1 ]; then
  echo "SKIP: set VOID_SLOW_TESTS=1 to load a 4.7 MB state and transfer it"
  exit 77
fi
source "$(dirname "$0")/lib.sh"
cluster_init statexferlarge 17800

cluster start --n 4 --clients 64 > /dev/null
# An export entry costs about key + value + 40 bytes: 256-byte values and
# 18-byte keys make 4.7 MB at 16,000 keys (4 MiB is 4.19 MB).
want_keys=${VOID_XFER_KEYS:-16000}
value=${VOID_XFER_VALUE:-256}
keys=0
for round in $(seq 1 400); do
  "$VOID_BIN/voidload" void "$VOID_CLUSTER_DIR" --clients 64 --seconds 5 --distinct --value "$value" \
    > "$TEST_DIR/load.$round" || fail "voidload round $round failed: $(cat "$TEST_DIR/load.$round")"
  keys=$(status_field 0 state_keys)
  echo "round $round: $keys keys at ${SECONDS}s"
  [ "${keys:-0}" -ge "$want_keys" ] && break
done
[ "${keys:-0}" -ge "$want_keys" ] || fail "only $keys keys after 400 rounds of voidload"
bytes=$(status_field 0 state_bytes)
echo "loaded $keys keys, state_bytes $bytes"

# Samples node 3's RssAnon and VmRSS (kB) every 0.2 s into $1 as the peaks
# seen, until $1.stop exists. The pid is read again each time: node 3
# restarts under the sampler.
sample_memory() {
  local out=$1 anon=0 rss=0 p a r
  while [ ! -e "$out.stop" ]; do
    p=$(cat "$VOID_CLUSTER_DIR/run/node3.pid" 2>/dev/null || true)
    if [ -n "$p" ] && [ -r "/proc/$p/status" ]; then
      a=$(awk '/^RssAnon:/ {print $2}' "/proc/$p/status" 2>/dev/null || true)
      r=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || true)
      [ -n "$a" ] && [ "$a" -gt "$anon" ] && anon=$a
      [ -n "$r" ] && [ "$r" -gt "$rss" ] && rss=$r
      echo "$anon $rss" > "$out"
    fi
    sleep 0.2
  done
}
anon_of() {
  local p
  p=$(cat "$VOID_CLUSTER_DIR/run/node$1.pid" 2>/dev/null || true)
  awk '/^RssAnon:/ {printf "%.0f", $2 / 1024}' "/proc/$p/status" 2>/dev/null || echo "?"
}

# Wipes node 3, restarts it with the voidd in $2 and waits for it to catch
# up; $1 names the run in what it prints.
transfer_once() {
  local label=$1 bin=$2 mem="$TEST_DIR/mem.$1" sampler
  cluster wipe 3
  vctl put "after-wipe-$label" yes --timeout 10 > /dev/null || fail "no commit with node 3 down"
  log="$VOID_CLUSTER_DIR/logs/node3.log"
  before=$(wc -l < "$log")
  rm -f "$mem" "$mem.stop"
  sample_memory "$mem" &
  sampler=$!
  start=$(date +%s%N)
  VOID_BIN=$bin cluster restart 3
  agree() {
    local d0 k0 i
    d0=$(status_field 0 state_digest)
    k0=$(status_field 0 state_keys)
    [ -n "$d0" ] || return 1
    for i in 1 2 3; do
      [ "$(status_field "$i" state_digest)" = "$d0" ] || return 1
      [ "$(status_field "$i" state_keys)" = "$k0" ] || return 1
    done
  }
  wait_for agree $((40 + bytes / 200000))
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  touch "$mem.stop"
  wait "$sampler" || true
  # What node 3 logged since its restart: when it started, and the transfer.
  tail -n +"$((before + 1))" "$log" | grep -E 'state transfer:|recovered|listening' | cut -c1-200
  done_line=$(tail -n +"$((before + 1))" "$log" | grep 'state transfer: done' | grep -v ' 0 snapshot(s)' | tail -n1 || true)
  [ -n "$done_line" ] || fail "node 3 logged no finished state transfer"
  xfer_ms=$(echo "$done_line" | sed -n 's/.*done in \([0-9]*\) ms.*/\1/p')
  rate=$(python3 -c "print(f'{$bytes / 1e6 / max($xfer_ms, 1) * 1000:.1f}')")
  # From the log's timestamps: node 3 listening to its transfer done.
  back_ms=$(tail -n +"$((before + 1))" "$log" | python3 -c '
import sys, datetime
t = {}
for line in sys.stdin:
    k = "up" if "listening on" in line else "done" if "state transfer: done" in line and " 0 snapshot(s)" not in line else None
    if k and (k == "done" or k not in t):
        t[k] = datetime.datetime.fromisoformat(line.split()[0].rstrip("Z"))
print(int((t["done"] - t["up"]).total_seconds() * 1000))')
  echo "node 3 ($label) caught up: $(status_field 3 state_keys) keys, digest $(status_field 3 state_digest | cut -c1-16)"
  echo "state transfer ($label): ${xfer_ms} ms in node 3's log ($rate MB/s of state_bytes); node 3 back ${back_ms} ms after it listened; ${ms} ms from restart to agreement seen by the test's polling"
  read -r peak_anon peak_rss < "$mem" || true
  echo "memory ($label): node 3 catching up $bytes state bytes: peak RssAnon $(( ${peak_anon:-0} / 1024 )) MiB, peak VmRSS $(( ${peak_rss:-0} / 1024 )) MiB; RssAnon after: node 3 $(anon_of 3) MiB, serving nodes 0-2 $(anon_of 0)/$(anon_of 1)/$(anon_of 2) MiB"
}

if [ -n "${VOID_XFER_BEFORE_BIN:-}" ]; then
  transfer_once before "$VOID_XFER_BEFORE_BIN"
fi
transfer_once after "$VOID_BIN"
# Node 3 must count in quorums again: with another node down, it is needed.
primary=$(status_field 0 primary)
victim=1; [ "$primary" = 1 ] && victim=2
cluster kill "$victim"
vctl put after-transfer yes --timeout 15 > /dev/null || fail "no commit with node 3 in the quorum"
expect_eq "$(vctl get after-wipe-after --timeout 10)" "yes" "a write made while node 3 was wiped"
echo "ok"
