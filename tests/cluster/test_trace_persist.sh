# The persisted causal event log (docs/causality.md, "Persistence"; issue
# 19) on 4 real nodes: a restarted node keeps its events (same ids, same
# content) and numbers on after the last one without a gap; queries older
# than the in-memory index are answered from DATA_DIR/causal; `voidctl trace
# explain` still finds the chain recorded before the restart; with a short
# retention window the old events are compacted away, a query about one is
# answered 410 / voidctl exit 3 naming the window, and queries inside the
# window still work; `persist = 0` keeps nothing on disk; a peer going
# suspect and dead is a membership event in the node's chain.
source "$(dirname "$0")/lib.sh"
cluster_init trace_persist 17800

cluster start --n 4 > /dev/null
h() { echo "http://127.0.0.1:$((TEST_PORT + 1000 + $1))"; }

# [causal] persistence keys are checked at load.
for bad in "retention_s = 0|retention_s: want" "max_mb = 0|max_mb: want" "persist = 2|persist: want"; do
  cp "$VOID_CLUSTER_DIR/node0.ini" "$VOID_CLUSTER_DIR/bad.ini"
  printf '\n[causal]\n%s\n' "${bad%%|*}" >> "$VOID_CLUSTER_DIR/bad.ini"
  set +e; msg=$(timeout 10 "$VOID_BIN/voidd" --config "$VOID_CLUSTER_DIR/bad.ini" 2>&1); rc=$?; set -e
  [ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "voidd took [causal] ${bad%%|*} (rc $rc)"
  [[ "$msg" == *"${bad#*|}"* ]] || fail "unclear refusal of ${bad%%|*}: $msg"
done

out=$(vctl put motd hello); [[ "$out" == ok* ]] || fail "put said '$out'"
vctl trace explain motd --json > "$TEST_DIR/explain_before" || fail "explain before the restart"

# ---- a restart keeps the events and numbers on --------------------------------
# Node 1 keeps only 1024 events in memory, so older queries go to LMDB.
printf '\n[causal]\ncapacity = 1024\n' >> "$VOID_CLUSTER_DIR/node1.ini"
curl -fsS "$(h 1)/trace/events?limit=800" > "$TEST_DIR/before.json"
[ -f "$VOID_CLUSTER_DIR/data/node1/causal/data.mdb" ] || fail "no DATA_DIR/causal/data.mdb on node 1"
cluster restart 1 > /dev/null
wait_for "curl -fsS -o /dev/null $(h 1)/status" 20
grep -q "causal log: opened .* reloaded; numbering goes on at" "$VOID_CLUSTER_DIR/logs/node1.log" ||
  fail "node 1 did not reload its log"
# Enough traffic that node 1's first events fall out of its 1024 in memory.
base_before=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['base'])" "$TEST_DIR/before.json")
for r in $(seq 1 20); do
  "$VOID_BIN/voidload" void "$VOID_CLUSTER_DIR" --clients 1 --seconds 1 > /dev/null || fail "voidload"
  last=$(curl -fsS "$(h 1)/trace/events?limit=1" | python3 -c "import json,sys; print(json.load(sys.stdin)['last'])")
  [ $((last - base_before)) -gt 1200 ] && break
done
python3 - "$TEST_DIR/before.json" "$(h 1)" <<'PY' || fail "node 1 lost or renumbered events across its restart"
import json, sys, urllib.request
before = json.load(open(sys.argv[1]))
url = sys.argv[2]
events, after = [], 0
while True:
    page = json.load(urllib.request.urlopen(f"{url}/trace/events?after={after}&limit=800"))
    assert page.get("persisted") is True, "answer not from the persisted log"
    events += page["events"]
    if not page["more"]:
        break
    after = page["events"][-1]["seq"]
by_seq = {e["seq"]: e for e in events}
for e in before["events"]:
    assert by_seq.get(e["seq"]) == e, ("changed or lost across the restart", e)
seqs = sorted(by_seq)
assert seqs == list(range(seqs[0], seqs[-1] + 1)), "a gap in node 1's numbering"
assert seqs[-1] > seqs[0] + 1200, "not enough events after the restart"
hlcs = [by_seq[s]["hlc_wall_ns"] * 2**32 + by_seq[s]["hlc_logical"] for s in seqs]
assert all(a < b for a, b in zip(hlcs, hlcs[1:])), "HLC not growing across the restart"
print(before["events"][1]["id"])
PY
old=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['events'][1]['id'])" "$TEST_DIR/before.json")
# The old event is beyond node 1's index in memory: answered from LMDB.
walk=$(curl -fsS "$(h 1)/trace/ancestors?id=$old&depth=1&limit=10") || fail "ancestors of $old on node 1"
python3 -c "
import json, sys
j = json.loads(sys.argv[1])
assert j.get('persisted') is True, j
assert [e['id'] for e in j['events']][0] == sys.argv[2] and len(j['events']) == 2, j
" "$walk" "$old" || fail "persisted walk: $walk"
desc=$(curl -fsS "$(h 1)/trace/descendants?id=$old&depth=5&limit=800")
python3 -c "
import json, sys
j = json.loads(sys.argv[1]); ids = [e['seq'] for e in j['events']]
assert len(ids) == 6 and ids == list(range(ids[0], ids[0] + 6)) and j['depth_limited'], j
" "$desc" || fail "persisted descendants: $desc"
vctl trace ancestors "$old" > /dev/null || fail "voidctl trace ancestors $old after the restart"
# The chain recorded before the restart is still found, with node 1 in it.
vctl trace explain motd --json > "$TEST_DIR/explain_after" || fail "explain after the restart"
python3 - "$TEST_DIR/explain_before" "$TEST_DIR/explain_after" <<'PY' || fail "explain changed across the restart"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
ids = lambda j: [e["id"] for e in j["chain"]]
# After the restart node 1 replays its record log, which may add its own
# new execute of that batch; every event of the chain before is still there.
assert set(ids(a)) <= set(ids(b)), (ids(a), ids(b))
assert any(e["node"] == 1 and e["kind"] == "execute" for e in b["chain"])
PY
echo "ok: node 1 kept its events across a restart, numbered on without a gap, LMDB answers old queries"

# ---- retention: compaction and queries outside the window ----------------------
printf '\n[causal]\nretention_s = 2\n' >> "$VOID_CLUSTER_DIR/node2.ini"
cluster restart 2 > /dev/null
wait_for "curl -fsS -o /dev/null $(h 2)/status" 20
vctl put r0 v > /dev/null
base0=$(curl -fsS "$(h 2)/trace/events?limit=1" | python3 -c "import json,sys; print(json.load(sys.stdin)['base'])")
sleep 3
for k in $(seq 1 4); do vctl put "r$k" v > /dev/null; sleep 0.3; done
page=$(curl -fsS "$(h 2)/trace/events?limit=5")
base1=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['base'])" "$page")
[ "$base1" -gt "$base0" ] || fail "node 2 compacted nothing (base $base0 -> $base1)"
code=$(curl -s -o "$TEST_DIR/gone.json" -w '%{http_code}' "$(h 2)/trace/ancestors?id=2.$base0&depth=3")
expect_eq "$code" "410" "a query about a compacted event"
grep -q "outside this node's retention window (oldest retained event: 2.$base1)" "$TEST_DIR/gone.json" ||
  fail "410 without the window: $(cat "$TEST_DIR/gone.json")"
set +e; msg=$(vctl trace ancestors "2.$base0" 2>&1); rc=$?; set -e
expect_eq "$rc" "3" "voidctl trace ancestors of a compacted event"
[[ "$msg" == *"outside node 2's retention window"* ]] || fail "voidctl message: $msg"
# Inside the window nothing broke: the oldest retained event and a walk up
# to it, which says the history goes on past the window.
first=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['events'][0]['id'])" "$page")
expect_eq "$first" "2.$base1" "the first event of /trace/events is the window's oldest"
walk=$(curl -fsS "$(h 2)/trace/ancestors?id=2.$((base1 + 2))&depth=10")
python3 -c "
import json, sys
j = json.loads(sys.argv[1])
assert [e['seq'] for e in j['events']] == [int(sys.argv[2]) + 2 - k for k in range(3)], j
assert j['past_horizon'] is True, j
" "$walk" "$base1" || fail "walk to the window's edge: $walk"
m=$(curl -fsS "$(h 2)/metrics")
c=$(awk '/^void_causal_compacted_total/ {print $2}' <<< "$m")
[ "${c:-0}" -gt 0 ] || fail "void_causal_compacted_total: $m"
echo "ok: node 2 compacted events older than 2 s; 410 / exit 3 outside the window, queries inside work"

# ---- persist = 0 ---------------------------------------------------------------
printf '\n[causal]\npersist = 0\n' >> "$VOID_CLUSTER_DIR/node3.ini"
rm -rf "$VOID_CLUSTER_DIR/data/node3/causal"
cluster restart 3 > /dev/null
wait_for "curl -fsS -o /dev/null $(h 3)/status" 20
vctl put q v > /dev/null
[ ! -e "$VOID_CLUSTER_DIR/data/node3/causal" ] || fail "persist = 0 wrote DATA_DIR/causal"
curl -fsS "$(h 3)/trace/events?limit=1" | grep -vq '"persisted"' || fail "persist = 0 answered from disk"
echo "ok: persist = 0 keeps nothing on disk"

# ---- signed answers: a page changed on the way is refused ----------------------
# Node 3's /trace/events pages are signed with its key; voidctl checks them
# against the cluster file. A proxy that moves one event's HLC by a tick
# makes voidctl leave node 3's events out and say why.
proxy_port=$((TEST_PORT + 9))
python3 - "$proxy_port" "$(h 3)" > "$TEST_DIR/proxy.log" 2>&1 <<'PY' &
import http.server, json, sys, urllib.request
port, up = int(sys.argv[1]), sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = urllib.request.urlopen(up + self.path).read()
        if self.path.startswith("/trace/events") and "limit=" in self.path:
            j = json.loads(body)
            if j["events"]:
                j["events"][0]["hlc_logical"] += 1
            body = json.dumps(j).encode()
        elif self.path.startswith("/trace/events"):
            # The streamed answer (NDJSON): the first event line.
            lines = body.split(b"\n")
            for i, line in enumerate(lines):
                if b'"hlc_logical"' in line:
                    j = json.loads(line)
                    j["hlc_logical"] += 1
                    lines[i] = json.dumps(j).encode()
                    break
            body = b"\n".join(lines)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
PY
proxy_pid=$!
trap 'kill $proxy_pid 2>/dev/null || true; cluster_cleanup' EXIT
sed "s/^http = 127.0.0.1:$((TEST_PORT + 1003))$/http = 127.0.0.1:$proxy_port/" "$CLIENT" > "$VOID_CLUSTER_DIR/proxied.ini"
grep -q "127.0.0.1:$proxy_port" "$VOID_CLUSTER_DIR/proxied.ini" || fail "no replica 3 http line to proxy"
wait_for "curl -fsS -o /dev/null http://127.0.0.1:$proxy_port/status" 10
last3=$(curl -fsS "$(h 3)/trace/events?limit=1" | python3 -c "import json,sys; print(json.load(sys.stdin)['events'][0]['id'])")
"$VOID_BIN/voidctl" trace ancestors "$last3" --cluster "$CLIENT" > /dev/null || fail "trace through the real node 3"
set +e; msg=$("$VOID_BIN/voidctl" trace ancestors "$last3" --cluster "$VOID_CLUSTER_DIR/proxied.ini" 2>&1); rc=$?; set -e
[[ "$msg" == *"replica 3: its /trace/events answer is not signed by its key"* ]] || fail "tampered page taken: $msg"
expect_eq "$rc" "1" "an event only the tampered node had"
kill "$proxy_pid"; wait "$proxy_pid" 2>/dev/null || true
echo "ok: voidctl verifies each node's signed /trace/events pages and leaves a tampered one out"

# ---- membership changes are events of the log ---------------------------------
cluster kill 3 > /dev/null
python3 - "$(h 0)" <<'PY' || fail "no membership event for node 3 on node 0"
import json, sys, time, urllib.request
url = sys.argv[1]
deadline = time.time() + 15
while time.time() < deadline:
    events, after = [], 0
    while True:
        page = json.load(urllib.request.urlopen(f"{url}/trace/events?after={after}&limit=800"))
        events += page["events"]
        if not page["more"]:
            break
        after = page["events"][-1]["seq"]
    # view = the new state (0 alive, 1 suspect, 2 dead), op_seq = the member.
    states = [e["view"] for e in events if e["kind"] == "membership" and e["op_seq"] == 3]
    if 1 in states and 2 in states:
        seqs = [e["seq"] for e in events]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "a gap around the membership events"
        print("membership events of node 3:", states)
        sys.exit(0)
    time.sleep(0.5)
sys.exit(1)
PY
echo "ok: node 0 recorded node 3 going suspect and dead as events of its chain"
