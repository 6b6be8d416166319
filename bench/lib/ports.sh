# Sourced by the bench scripts (not a bench itself): free ports, and checks
# that the processes a bench measures are alive and healthy.
#
# free_port_base OFFSET...: prints a base port B (a multiple of 10) such that
# B + OFFSET is free for every OFFSET given (another worktree may be running
# a bench or the test suite on this machine). Every B + OFFSET lies in
# 20000..32000 and below the kernel's ephemeral range
# (/proc/sys/net/ipv4/ip_local_port_range, 32768.. on Linux by default): a
# port inside that range can be handed to any outgoing connection between
# the check and the server's bind, which once killed an etcd member mid-run.
# PORT_CHECK lists what must be free, "proto:address" words (default
# "tcp:127.0.0.1"), e.g. PORT_CHECK="udp:127.0.0.21 udp:127.0.0.22".
free_port_base() {
  python3 - "$@" <<'PY'
import os, random, socket, sys
offsets = [int(a) for a in sys.argv[1:]] or [0]
checks = [w.split(":", 1) for w in os.environ.get("PORT_CHECK", "tcp:127.0.0.1").split()]
top = 32000
try:
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        top = min(top, int(f.read().split()[0]) - 1)
except (OSError, ValueError, IndexError):
    pass
hi = top - max(offsets)
if hi < 20000:
    sys.exit("free_port_base: no room for offsets up to %d below port %d" % (max(offsets), top + 1))
for _ in range(300):
    base = random.randrange(20000, hi + 1, 10)
    socks = []
    try:
        for off in offsets:
            for proto, addr in checks:
                s = socket.socket(socket.AF_INET,
                                  socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM)
                socks.append(s)
                s.bind((addr, base + off))
    except OSError:
        continue
    finally:
        for s in socks: s.close()
    print(base); break
else:
    sys.exit("free_port_base: no free ports in 20000..%d after 300 tries" % top)
PY
}

# bench_fail MESSAGE [LOG]: says what is wrong (with the last lines of LOG)
# on stderr and exits 1: a bench never measures a cluster missing a member.
bench_fail() {
  echo "${BENCH_NAME:-bench}: $1" >&2
  if [ -n "${2:-}" ] && [ -f "$2" ]; then
    echo "--- last lines of $2:" >&2
    tail -n 10 "$2" >&2
  fi
  exit 1
}

# require_alive NAME PID [LOG]: fails the bench when process PID (NAME) has
# exited (or is a zombie).
require_alive() {
  local st
  st=$(sed 's/.*) //' "/proc/$2/stat" 2>/dev/null || true)
  if [ -z "$st" ] || [ "${st%% *}" = Z ]; then
    bench_fail "$1 (pid $2) is not running" "${3:-}"
  fi
}

# wait_healthy NAME SECONDS PID LOG CMD...: runs CMD until it succeeds, at
# most SECONDS seconds (never minutes of retries), failing the bench at once
# when PID exits meanwhile, or when the time is up.
wait_healthy() {
  local name=$1 secs=$2 pid=$3 log=$4 deadline
  shift 4
  deadline=$((SECONDS + secs))
  while true; do
    require_alive "$name" "$pid" "$log"
    if "$@" > /dev/null 2>&1; then return 0; fi
    [ $SECONDS -lt $deadline ] || bench_fail "$name (pid $pid) not healthy after ${secs} s: $*" "$log"
    sleep 0.2
  done
}

# void_healthy DIR: every node of the scripts/cluster cluster in DIR runs and
# answers on its HTTP /status address within 2 s; fails the bench otherwise.
void_healthy() {
  local d=$1 f i pid addr
  for f in "$d"/node*.ini; do
    i=${f##*/node}
    i=${i%.ini}
    pid=$(cat "$d/run/node$i.pid" 2>/dev/null || true)
    [ -n "$pid" ] || bench_fail "Void node $i has no pidfile in $d/run" "$d/logs/node$i.log"
    require_alive "Void node $i" "$pid" "$d/logs/node$i.log"
    # node i's own address: the http line of its [replica.i] section
    addr=$(awk -v sec="[replica.$i]" '/^\[/ { in_sec = ($1 == sec) }
      in_sec && /^http *=/ { sub(/^http *= */, ""); print; exit }' "$f")
    curl -fsS --max-time 2 -o /dev/null "http://$addr/status" ||
      bench_fail "Void node $i (pid $pid) does not answer on http://$addr/status" "$d/logs/node$i.log"
  done
}
