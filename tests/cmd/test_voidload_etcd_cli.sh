#!/usr/bin/env bash
# voidload's etcd mode judges a put by etcd's answer, not by the first bytes
# of the reply: against a stand-in for etcd's v3 JSON gateway (Python, on
# loopback) it must
#   - pass against a correct gateway, also one that sends its answers chunked
#     (no Content-Length), and send valid JSON with base64 key and value;
#   - fail (exit 1, with the HTTP status and etcd's message) on an error status;
#   - fail on "200 OK" with a body that is not etcd's JSON answer;
#   - fail when the puts were acknowledged but the key does not read back;
#   - stop at exactly --count puts, print --progress lines;
#   - refuse more than 8 endpoints and a bad HOST:PORT (exit 2).
set -uo pipefail
VOIDLOAD=${VOID_BIN:-build/test/bin}/voidload
work=$(mktemp -d)
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; fi
    rm -rf "$work"
}
trap cleanup EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

cat > "$work/etcd.py" <<'PY'
# Stand-ins for etcd's v3 JSON gateway (/v3/kv/put and /v3/kv/range), one
# listener per behaviour (MODES), all in this one process because Python
# starts slowly on a loaded machine. Writes "MODE PORT" lines to argv[1].
import base64, http.server, json, os, random, sys, threading
MODES = ("ok", "chunked", "notjson", "error", "lost")

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as two writes
    def log_message(self, *a): pass
    def answer(self, status, obj=None, raw=None):
        mode = self.server.mode
        body = raw if raw is not None else json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if mode == "chunked":
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            half = len(body) // 2
            for part in (body[:half], body[half:]):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
    def do_POST(self):
        mode, store, rev = self.server.mode, self.server.store, self.server.rev
        n = int(self.headers.get("Content-Length", "0"))
        try:
            req = json.loads(self.rfile.read(n))
            key = base64.b64decode(req["key"], validate=True)
            value = base64.b64decode(req.get("value", ""), validate=True)
        except Exception as e:
            return self.answer(400, {"error": "bad request: %s" % e, "code": 3, "message": "bad request"})
        header = {"cluster_id": "1", "member_id": "2", "revision": str(rev[0]), "raft_term": "2"}
        if self.path == "/v3/kv/put":
            if mode == "error":
                return self.answer(503, {"error": "etcdserver: too many requests", "code": 14,
                                         "message": "etcdserver: too many requests"})
            if mode == "notjson":
                return self.answer(200, raw=b"HTTP/1.1 200 OK but not etcd")
            if mode != "lost":
                store[key] = value
            rev[0] += 1
            return self.answer(200, {"header": header})
        if self.path == "/v3/kv/range":
            if key not in store:
                return self.answer(200, {"header": header})
            kv = {"key": req["key"], "create_revision": "2", "mod_revision": str(rev[0]), "version": "1"}
            if store[key]:
                kv["value"] = base64.b64encode(store[key]).decode()
            return self.answer(200, {"header": header, "kvs": [kv], "count": "1"})
        self.answer(404, raw=b"404 page not found\n")

# Free ports below the kernel's ephemeral range (never 32768-60999).
def listen(mode):
    for _ in range(200):
        port = random.randrange(20000, 30000)
        try:
            srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
        except OSError:
            continue
        srv.mode, srv.store, srv.rev = mode, {}, [1]
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        return port
    sys.exit("no free port")

lines = "".join("%s %d\n" % (m, listen(m)) for m in MODES)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(lines)
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
threading.Event().wait()
PY

python3 "$work/etcd.py" "$work/ports" &
server_pid=$!
for _ in $(seq 1 300); do [ -s "$work/ports" ] && break; sleep 0.1; done
[ -s "$work/ports" ] || { echo "FAIL: the stand-ins did not start"; exit 1; }

# run MODE WANT-STATUS STDERR-REGEX [VOIDLOAD-ARGS...]: one voidload run
# against the stand-in of MODE.
run() {
    local mode=$1 want=$2 pattern=$3 port
    shift 3
    port=$(awk -v m="$mode" '$1 == m {print $2}' "$work/ports")
    local rc=0
    timeout 60 "$VOIDLOAD" etcd "127.0.0.1:$port,127.0.0.1:$port" --seconds 0.5 "$@" \
        >"$work/out" 2>"$work/err" || rc=$?
    if [ "$rc" != "$want" ] || ! grep -Eq -- "$pattern" "$work/err" "$work/out"; then
        fail "$mode: voidload $* -> exit $rc (want $want, /$pattern/): $(head -c 400 "$work/err" "$work/out")"
    else
        echo "ok: $mode -> exit $rc: $(head -n1 "$work/out" "$work/err" | grep -v '^==>' | head -n2 | tr '\n' ' ')"
    fi
}

run ok 0 '^mode=etcd clients=2 ops=[1-9][0-9]* ' --clients 2
run ok 0 '^mode=etcd clients=3 ops=[1-9]' --clients 3 --value 256
run lost 1 'does not read back'
run ok 0 '^mode=etcd clients=1 ops=[1-9]' --value 0
run chunked 0 '^mode=etcd clients=2 ops=[1-9]' --clients 2
run error 1 'HTTP 503: etcdserver: too many requests'
run notjson 1 'no JSON object'
# --count ends the run at exactly that many acknowledged puts (a preload,
# bench/kv_million.sh), well before --seconds; --progress prints a line on
# stderr per interval.
run ok 0 '^mode=etcd clients=3 ops=50 ' --clients 3 --distinct --count 50 --seconds 60
# A preload (--count) sends a put that a busy member answered with 503 to
# the next member (counted as a retry) instead of ending the run.
port_err=$(awk '$1 == "error" {print $2}' "$work/ports"); port_ok=$(awk '$1 == "ok" {print $2}' "$work/ports")
rc=0; out=$(timeout 60 "$VOIDLOAD" etcd "127.0.0.1:$port_err,127.0.0.1:$port_ok" --clients 2 --distinct \
    --count 20 --seconds 30 2>&1) || rc=$?
[ "$rc" = 0 ] && grep -Eq '^mode=etcd clients=2 ops=20 .* retries=[1-9]' <<<"$out" ||
    fail "--count past a member answering 503 -> exit $rc: $out"
run ok 0 '^progress: ops=[0-9]+ secs=1 ops_per_s=[0-9]+ interval_per_s=[0-9]+ retries=0$' \
    --clients 2 --seconds 1.6 --progress 1

# Endpoint lists: at most 8, each HOST:PORT.
eps=$(printf '127.0.0.1:%d,' 2001 2002 2003 2004 2005 2006 2007 2008 2009)
rc=0; err=$("$VOIDLOAD" etcd "${eps%,}" 2>&1) || rc=$?
[ "$rc" = 2 ] && grep -q 'at most 8 etcd endpoints' <<<"$err" || fail "9 endpoints -> exit $rc: $err"
rc=0; err=$("$VOIDLOAD" etcd "127.0.0.1" 2>&1) || rc=$?
[ "$rc" = 2 ] && grep -q "bad endpoint '127.0.0.1'" <<<"$err" || fail "endpoint without a port -> exit $rc: $err"

[ "$fails" = 0 ] && echo PASS
exit "$fails"
