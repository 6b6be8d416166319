# Helpers for the multi-process cluster tests (sourced, not run).
#
# Each test calls `cluster_init NAME HINT`; it gets free ports of its own
# (free_port_base), so tests run in parallel, also beside another worktree's
# run of the same suite; every node it starts is stopped by the EXIT trap,
# also when an assertion fails. Logs stay in the test directory on failure.
set -euo pipefail

: "${VOID_BIN:?VOID_BIN must name the directory with voidd and voidctl}"
: "${VOID_SOURCE_DIR:?VOID_SOURCE_DIR must name the source tree}"
export VOID_BIN

# A base port P such that P..P+9 and P+1000..P+1009 are free on loopback.
# Several worktrees may run this suite at once on one machine, so fixed
# ports would collide; the hint only spreads the tests of one run apart.
free_port_base() {
  python3 - "$1" <<'PY'
import random, socket, sys
random.seed(int(sys.argv[1]) * 7919 + __import__("os").getpid())
for _ in range(200):
    base = random.randrange(20000, 29000, 10)
    socks = []
    try:
        for p in list(range(base, base + 10)) + list(range(base + 1000, base + 1010)):
            s = socket.socket()
            s.bind(("127.0.0.1", p))
            socks.append(s)
    except OSError:
        continue
    finally:
        for s in socks:
            s.close()
    print(base)
    break
else:
    sys.exit("no free port range")
PY
}

cluster_init() {
  TEST_NAME=$1
  TEST_PORT=$(free_port_base "$2")
  TEST_DIR=$(mktemp -d "/tmp/void-$TEST_NAME-XXXXXX")
  export VOID_CLUSTER_DIR=$TEST_DIR/cluster
  CLIENT=$VOID_CLUSTER_DIR/client.ini
  trap cluster_cleanup EXIT
  trap 'exit 130' INT TERM
}

cluster_cleanup() {
  local rc=$?
  if [ -f "$VOID_CLUSTER_DIR/cluster.env" ]; then
    "$VOID_SOURCE_DIR/scripts/cluster" stop > /dev/null 2>&1 || true
  fi
  # Anything still running from this test directory (a node started by hand).
  for p in "$VOID_CLUSTER_DIR"/run/*.pid; do
    [ -f "$p" ] && kill -KILL "$(cat "$p")" 2>/dev/null || true
  done
  if [ $rc -ne 0 ]; then
    echo "FAILED ($TEST_NAME, rc=$rc); last log lines:" >&2
    for l in "$VOID_CLUSTER_DIR"/logs/*.log; do
      [ -f "$l" ] && { echo "== $l" >&2; tail -n 15 "$l" >&2; }
    done
  else
    rm -rf "$TEST_DIR"
  fi
  exit $rc
}

cluster() { "$VOID_SOURCE_DIR/scripts/cluster" "$@" --port "$TEST_PORT"; }
vctl() { "$VOID_BIN/voidctl" "$@" --cluster "$CLIENT"; }

fail() { echo "FAIL: $*" >&2; exit 1; }

# The membership scenarios' sequential writer (test_member_join_load,
# scripts/member_kill3.sh): puts ack-0, ack-1, ... through voidctl, each
# within $1 seconds, until $TEST_DIR/stop exists, and appends each key it saw
# acknowledged to $TEST_DIR/acked, with the time of the acknowledgement in
# milliseconds since the epoch after it when $2 is "stamp". Run it in the
# background; acked_count reads how many so far.
acked_loop() {
  local timeout=$1 stamp=${2:-} i=0
  while [ ! -f "$TEST_DIR/stop" ]; do
    if "$VOID_BIN/voidctl" put "ack-$i" "v$i" --cluster "$CLIENT" --timeout "$timeout" > /dev/null 2>&1; then
      if [ "$stamp" = stamp ]; then
        echo "ack-$i $(($(date +%s%N) / 1000000))" >> "$TEST_DIR/acked"
      else
        echo "ack-$i" >> "$TEST_DIR/acked"
      fi
      i=$((i + 1))
    fi
  done
}
acked_count() { wc -l < "$TEST_DIR/acked" 2> /dev/null || echo 0; }
expect_eq() { [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"; }

# Field of node i's /status JSON (jq-free: voidctl status --json + python).
status_field() {
  local i=$1 field=$2
  # status exits 4 while a replica is down; the others' fields still count.
  { vctl status --json --timeout 1 2>/dev/null || true; } |
    python3 -c "import json,sys; a=json.load(sys.stdin); print(next((s.get('$field','') for s in a if s.get('id')==$i), ''))"
}

# True when replicas 0..N-1 (N = $2, default 4) have executed the same
# sequence number and hold the same state digest and key count, with at
# least $1 keys: an idle cluster once every replica has caught up.
replicas_agree() {
  # One `voidctl status` a poll (it asks every replica): wait_for polls
  # this every 0.2 s, and a status and a python3 per field and replica
  # (15 of each at n = 5) took more CPU than the replicas it waited for.
  { vctl status --json --timeout 1 2>/dev/null || true; } | python3 -c '
import json, sys
want, n = int(sys.argv[1]), int(sys.argv[2])
try:
    by = {s.get("id"): s for s in json.load(sys.stdin)}
except ValueError:
    sys.exit(1)
s0 = by.get(0) or {}
if not s0.get("state_digest") or int(s0.get("state_keys") or 0) < want:
    sys.exit(1)
for i in range(1, n):
    s = by.get(i) or {}
    if any(str(s.get(f, "")) != str(s0.get(f, "")) for f in ("last_executed", "state_digest", "state_keys")):
        sys.exit(1)
' "$1" "${2:-4}"
}

# Waits up to $2 seconds for `$1` (a command string) to succeed.
wait_for() {
  local what=$1 secs=$2 deadline=$((SECONDS + $2))
  while [ $SECONDS -lt $deadline ]; do
    if eval "$what" > /dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  fail "timed out after ${secs}s waiting for: $what"
}
