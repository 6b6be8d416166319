# Strangers on a replica's port (issue 16): a 4-node cluster runs under
# `ulimit -n 1024`; a script floods the primary from another loopback address
# (127.0.0.2, a host of its own) with 2,000 idle connections and 64 half-open
# ones whose header announces a 4 MiB body and which then send almost all of
# it. Meanwhile clients keep putting. Expected:
#   - the primary keeps committing (its last_executed advances, puts succeed);
#   - its peak RSS (VmHWM) stays under 2x its idle peak;
#   - its log grows by less than 1 MB;
#   - the node closes every stranger connection within the handshake deadline
#     (2 s) plus 2 s of slack for a loaded machine: the script sees EOF.
# Before the fix the idle connections were never closed, the 64 half-open
# ones cost 4 MiB each, and libmicrohttpd logged "Too many open files" at
# hundreds of thousands of lines a second once the descriptors ran out.
source "$(dirname "$0")/lib.sh"
cluster_init hostile 17760

IDLE=${HOSTILE_IDLE:-2000}
HALF=${HOSTILE_HALF:-64}
DEADLINE_S=2       # the transport's default handshake deadline
SLACK_S=2
LOG_GROWTH_MAX=1000000
RSS_FACTOR=2

# Under the sanitizer build, AddressSanitizer keeps freed memory in a
# quarantine of up to 256 MB that grows with every put: RSS would measure the
# load, not the flood. A 1 MB quarantine lets memory be reused.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1"
(ulimit -Sn 1024 && cluster start --n 4 --clients 3 > /dev/null)
target=$(status_field 0 primary)
[ -n "$target" ] || fail "no primary in node 0's status"
pid=$(cat "$VOID_CLUSTER_DIR/run/node$target.pid")
nofile=$(awk '/^Max open files/ {print $4}' "/proc/$pid/limits")
expect_eq "$nofile" 1024 "the target's descriptor limit"
log=$VOID_CLUSTER_DIR/logs/node$target.log
http=http://127.0.0.1:$((TEST_PORT + 1000 + target))

kb() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$pid/status"; }
executed() { curl -fsS --max-time 2 "$http/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["last_executed"])'; }

# Warm up with the load the flood will meet, so that the idle figure is the
# node's own working set under that load.
for k in $(seq 1 5); do vctl put "warm$k" v > /dev/null || fail "warm-up put $k"; done
timeout 30 "$VOID_BIN/voidload" void "$VOID_CLUSTER_DIR" --clients 2 --seconds 3 --value 100 \
  > /dev/null || fail "warm-up voidload failed"
idle_hwm=$(kb VmHWM)
idle_rss=$(kb VmRSS)
log_before=$(stat -c %s "$log")
exec_before=$(executed)
echo "idle: VmHWM ${idle_hwm} kB, VmRSS ${idle_rss} kB, log ${log_before} B, last_executed $exec_before (target node $target, pid $pid)"

flood_out=$TEST_DIR/flood.json
python3 - "$((TEST_PORT + target))" "$IDLE" "$HALF" 20 > "$flood_out" <<'PY' &
# Opens IDLE silent connections and HALF connections that send a frame header
# announcing a 4 MiB body, then all of that body but 100 bytes; watches every
# connection for EOF (or a reset) from the node. Prints a JSON summary.
import json, resource, selectors, socket, struct, sys, time

port, n_idle, n_half, limit_s = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n_idle + n_half + 512), hard))
BODY = 4 << 20
# docs/wire.md: magic, version 1, type 4 (PREPARE), flags 0, sender 0, HLC, body length.
HDR = b"VOID" + bytes([1, 4, 0, 0]) + struct.pack(">I", 0) + bytes(12) + struct.pack(">I", BODY)
HALF_TOTAL = len(HDR) + BODY - 100
CHUNK = bytes(256 * 1024)
sel = selectors.DefaultSelector()
step = max(1, (n_idle + n_half) // max(1, n_half))  # the half-open ones spread among the idle
kinds = ["half" if i % step == 0 and i // step < n_half else "idle" for i in range(n_idle + n_half)]
conns, t0, nxt = [], time.monotonic(), 0
live = 0

class C:
    pass

def closed(c, now):
    global live
    c.t_closed = now
    sel.unregister(c.s)
    c.s.close()
    live -= 1

while time.monotonic() - t0 < limit_s:
    now = time.monotonic()
    # About 250 new connections a second, so that the flood lasts ~10 s.
    while nxt < len(kinds) and nxt < (now - t0) * 250 + 50:
        c = C()
        c.kind, c.sent, c.t_conn, c.t_closed, c.err = kinds[nxt], 0, None, None, 0
        c.s = socket.socket()
        c.s.setblocking(False)
        c.s.bind(("127.0.0.2", 0))
        c.s.connect_ex(("127.0.0.1", port))
        sel.register(c.s, selectors.EVENT_WRITE, c)
        conns.append(c)
        live += 1
        nxt += 1
    if nxt == len(kinds) and live == 0:
        break
    for key, ev in sel.select(timeout=0.01):
        c, now = key.data, time.monotonic()
        if c.t_conn is None:
            c.err = c.s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if c.err:
                closed(c, now)
                continue
            c.t_conn = now
            sel.modify(c.s, selectors.EVENT_READ | (selectors.EVENT_WRITE if c.kind == "half" else 0), c)
            continue
        if ev & selectors.EVENT_READ:
            try:
                if c.s.recv(65536) == b"":
                    closed(c, now)
                    continue
            except BlockingIOError:
                pass
            except OSError:
                closed(c, now)
                continue
        if ev & selectors.EVENT_WRITE:
            data = (HDR + CHUNK) if c.sent == 0 else CHUNK
            data = data[: HALF_TOTAL - c.sent]
            try:
                c.sent += c.s.send(data)
            except BlockingIOError:
                pass
            except OSError:
                closed(c, now)
                continue
            if c.sent >= HALF_TOTAL:
                sel.modify(c.s, selectors.EVENT_READ, c)

connected = [c for c in conns if c.t_conn is not None]
lat = [c.t_closed - c.t_conn for c in connected if c.t_closed is not None]
print(json.dumps({
    "opened": len(conns),
    "connected": len(connected),
    "connect_failed": sum(1 for c in conns if c.t_conn is None),
    "closed_by_node": len(lat),
    "still_open": sum(1 for c in connected if c.t_closed is None),
    "max_close_s": round(max(lat), 3) if lat else None,
    "half_bytes_sent": sum(c.sent for c in conns if c.kind == "half"),
    "seconds": round(time.monotonic() - t0, 2),
}))
PY
flood_pid=$!
# A closed-loop load on long-lived connections for the flood's ~10 s.
timeout 40 "$VOID_BIN/voidload" void "$VOID_CLUSTER_DIR" --clients 2 --seconds 10 --value 100 \
  > "$TEST_DIR/load.out" 2>&1 &
load_pid=$!

# Puts while the flood runs; each put is a new client process (new
# connections), as client 102 (voidload is clients 100 and 101: two processes
# must not share a client id). The target's /status is read too: the HTTP
# server shares the descriptor table, and it is where "Too many open files"
# used to be logged.
ok=0 bad=0 k=0 http_ok=0
while kill -0 "$flood_pid" 2>/dev/null; do
  k=$((k + 1))
  if "$VOID_BIN/voidctl" put "flood$k" v --timeout 3 --cluster "$VOID_CLUSTER_DIR/client-102.ini" \
    > /dev/null 2>&1; then ok=$((ok + 1)); else bad=$((bad + 1)); fi
  if executed > /dev/null 2>&1; then http_ok=$((http_ok + 1)); fi
  sleep 0.05
done
wait "$flood_pid" || fail "the flood script failed"
wait "$load_pid" || fail "voidload failed: $(cat "$TEST_DIR/load.out")"
flood=$(cat "$flood_out")
load_ops=$(sed -n 's/.*ops=\([0-9]*\) .*/\1/p' "$TEST_DIR/load.out")
kill -0 "$pid" 2>/dev/null || fail "the target node died under the flood"
exec_after=$(executed 2> /dev/null || echo "-1") # -1: /status does not answer
hwm=$(kb VmHWM)
rss=$(kb VmRSS)
log_growth=$(( $(stat -c %s "$log") - log_before ))
echo "flood: $flood"
echo "during flood: voidload $load_ops puts on 2 long-lived clients; $ok voidctl puts ok, $bad failed, $http_ok/$k status reads answered; target last_executed $exec_before -> $exec_after"
echo "after: VmHWM ${hwm} kB (bound $((RSS_FACTOR * idle_hwm))), VmRSS ${rss} kB, log +${log_growth} B (bound $LOG_GROWTH_MAX)"

echo "the target's log during the flood (first lines):"
{ tail -c +$((log_before + 1)) "$log" | head -n 12 | cut -c 1-200; } || true # SIGPIPE

field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])['$1'])" "$flood"; }
[ "$(field connected)" -eq $((IDLE + HALF)) ] || fail "not every stranger connection was established: $flood"
[ "$(field still_open)" -eq 0 ] || fail "$(field still_open) stranger connections were never closed by the node"
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) <= $DEADLINE_S + $SLACK_S else 1)" "$(field max_close_s)" ||
  fail "a stranger connection stayed open $(field max_close_s) s (bound $DEADLINE_S s + $SLACK_S s slack)"
[ "$ok" -ge 3 ] || fail "only $ok puts committed during the flood ($bad failed)"
[ "${load_ops:-0}" -gt 0 ] || fail "voidload committed nothing during the flood"
[ "$exec_after" -gt "$exec_before" ] ||
  fail "the target stopped executing or its /status does not answer ($exec_before -> $exec_after)"
[ "$hwm" -lt $((RSS_FACTOR * idle_hwm)) ] || fail "peak RSS ${hwm} kB is over ${RSS_FACTOR}x the idle ${idle_hwm} kB"
[ "$log_growth" -lt "$LOG_GROWTH_MAX" ] || fail "the log grew by $log_growth bytes"
vctl put after flood > /dev/null || fail "no commit after the flood"
echo "ok"
