# The live chaos engine (docs/chaos.md): `voidctl chaos run` throws each fault
# of this slice (kill, pause, delay, loss, partition) at a 4-node cluster in a
# short experiment while voidload lin and the engine's writer run, and every
# experiment must survive (linearizable history, commits again within the
# bound, nodes up, every acknowledged write read back, equal replica states)
# with a measured recovery time. The same seed gives the same schedule. The
# one default-suite test allowed up to 60 s (COMMON.md): five faults of a few
# seconds each, on the sanitizer build.
source "$(dirname "$0")/lib.sh"
cluster_init chaos 17640

cluster start --n 4 --fault-control > /dev/null
chaos() { "$VOID_BIN/voidctl" chaos run --cluster "$VOID_CLUSTER_DIR" "$@"; }
ALL=kill,pause,delay,loss,partition

# Usage errors exit 2 and run nothing.
rc=0; chaos --faults $ALL --duration 10 --interval 5 > /dev/null 2>&1 || rc=$?
expect_eq "$rc" 2 "chaos run without --seed"
rc=0; chaos --faults kill,flood --duration 10 --interval 5 --seed 1 > /dev/null 2>&1 || rc=$?
expect_eq "$rc" 2 "chaos run with an unknown fault"
rc=0; "$VOID_BIN/voidctl" chaos run --cluster "$TEST_DIR/nothing" --faults kill --duration 5 \
  --interval 5 --seed 1 > /dev/null 2>&1 || rc=$?
expect_eq "$rc" 2 "chaos run on a directory without a cluster"

# The seed fixes the schedule: same seed, same schedule; another seed, another.
plan() { chaos --faults $ALL --duration 30 --interval 6 --seed "$1" --dry-run | sed -n '/^schedule:/,$p'; }
a=$(plan 11); b=$(plan 11); c=$(plan 12)
expect_eq "$a" "$b" "schedule of seed 11, twice"
[ "$a" != "$c" ] || fail "seeds 11 and 12 gave the same schedule"
for f in kill pause delay loss partition; do
  grep -q " $f " <<<"$a" || fail "schedule of 5 experiments lacks $f: $a"
done
echo "ok: the seed fixes the schedule"

rc=0
chaos --faults $ALL --duration 30 --interval 6 --fault-s 2.5 --seed 11 --json \
  --report "$TEST_DIR/report.json" > "$TEST_DIR/lines.json" 2> "$TEST_DIR/table.txt" || rc=$?
cat "$TEST_DIR/table.txt"
expect_eq "$rc" 0 "voidctl chaos run exit status"
python3 - "$TEST_DIR/lines.json" "$TEST_DIR/report.json" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
report = json.load(open(sys.argv[2]))
assert len(lines) == 5, f"want 5 experiments, got {len(lines)}"
assert report["experiments"] == lines, "--report and --json disagree"
assert sorted(e["fault"] for e in lines) == ["delay", "kill", "loss", "partition", "pause"]
for e in lines:
    assert e["survived"] is True, e
    assert all(e["verdicts"].values()), e
    assert e["recovery_s"] is not None and 0 <= e["recovery_s"] < 10, e
    assert e["writes_ok"] > 0 and e["lin_completed"] > 0, e
    print(f"recovery after {e['fault']:9s} of node {e['node']}{' (primary)' if e['node_was_primary'] else ''}: "
          f"{e['recovery_s']:.3f} s; writes {e['writes_ok']} ok / {e['writes_failed']} failed")
c = report["checks"]
assert report["survived"] and c["acknowledged_writes_present"] and c["replica_states_equal"], c
assert c["read_back"] == c["acknowledged"] > 0, c
assert c["causal_nodes"] == 4 and c["causal_alerts"] == 0, c  # every node's /trace/alerts read: no alert
print(f"checks: {c['present']}; {c['states']}; causal alerts {c['causal_alerts']}")
for e in lines:  # the writer's figures under the fault and after it
    assert e["throughput_during"] > 0 and e["throughput_after"] > 0, e
    assert 0 < e["p50_during_ms"] <= e["p99_during_ms"] and 0 < e["p50_after_ms"] <= e["p99_after_ms"], e
PY
echo "ok: every fault survived with a measured recovery time"

# Continuous mode: experiments until SIGINT with a live line after each; the
# interrupt comes inside the third experiment's fault, which must be healed
# (no node left stopped, no partition left), that experiment not counted, and
# the run must end with its final checks and an HTML report.
"$VOID_BIN/voidctl" chaos continuous --cluster "$VOID_CLUSTER_DIR" --faults pause,partition \
  --interval 4 --fault-s 2 --seed 5 --report "$TEST_DIR/cont.html" > "$TEST_DIR/cont.txt" 2>&1 &
cpid=$!
for _ in $(seq 1 300); do
  [ "$(grep -c '^chaos: .* experiments \[' "$TEST_DIR/cont.txt")" -ge 2 ] && break
  sleep 0.1
done
sleep 1.2 # the third experiment: lead-in 0.5 s, then its fault for 2 s
kill -INT "$cpid"
rc=0; wait "$cpid" || rc=$?
cat "$TEST_DIR/cont.txt"
expect_eq "$rc" 0 "voidctl chaos continuous, interrupted, exit status"
grep -q "stopped after 2 experiment(s); faults healed" "$TEST_DIR/cont.txt" || fail "no stop line"
grep -q "^chaos: .* 2 experiments \[pause 1 partition 1\], survived 2/2, recovery p50 " \
  "$TEST_DIR/cont.txt" || fail "no live line for two experiments"
for i in 0 1 2 3; do
  state=$(awk '{ print $3 }' "/proc/$(cat "$VOID_CLUSTER_DIR/run/node$i.pid")/stat")
  [ "$state" != T ] || fail "node $i left stopped after the interrupt"
done
"$VOID_BIN/voidctl" put chaos-after-interrupt 1 --cluster "$VOID_CLUSTER_DIR/client.ini" --timeout 5 \
  > /dev/null || fail "no commit after the interrupted experiment"
python3 - "$TEST_DIR/cont.html" <<'PY'
import sys, xml.etree.ElementTree as ET
text = open(sys.argv[1]).read()
h, s = "{http://www.w3.org/1999/xhtml}", "{http://www.w3.org/2000/svg}"
root = ET.fromstring(text)  # well-formed (XHTML)
ids = {e.get("id"): e for e in root.iter() if e.get("id")}
for want in ["verdict", "run-table", "workload", "checker-table", "latency-plot", "throughput-plot",
             "fault-table", "experiment-table", "findings"]:
    assert want in ids, f"no #{want} in the report"
assert "ok" in ids["verdict"].get("class"), ids["verdict"].get("class")
faults = [r for r in ids["latency-plot"].iter(s + "rect") if r.get("class") == "fault"]
assert len(faults) == 2, f"want 2 shaded fault windows, got {len(faults)}"
rows = list(ids["experiment-table"].iter(h + "tr"))
assert len(rows) == 3, f"want a header and 2 experiments, got {len(rows)} rows"
dots = [p for p in ids["latency-plot"].iter(s + "path") if p.get("class") == "acked"]
assert dots and dots[0].get("d").count("M") > 20, "no latency dots"
assert "<script" not in text and "src=" not in text and "href=" not in text, "not self-contained"
print(f"html: {len(text)} bytes, {dots[0].get('d').count('M')} latency dots, 2 fault windows")
PY
if command -v xmllint > /dev/null; then xmllint --noout "$TEST_DIR/cont.html" || fail "xmllint"; fi
echo "ok: continuous mode stops on SIGINT with its fault healed, checks and an HTML report"

# The checkers can fail: node 3 cannot start again (its key file is gone), so
# the kill the seed aims at it leaves it down; the run must say so (exit 1,
# nodes_up false, replica states not equal) rather than survive.
seed=""
for s in $(seq 1 200); do
  if chaos --faults kill --duration 4 --interval 4 --seed "$s" --dry-run | grep -q "kill       node 3:"; then
    seed=$s; break
  fi
done
[ -n "$seed" ] || fail "no seed in 1..200 aims a kill at node 3"
mv "$VOID_CLUSTER_DIR/keys/node3.secret" "$TEST_DIR/node3.secret"
rc=0
chaos --faults kill --duration 4 --interval 4 --fault-s 1 --seed "$seed" --settle-s 2 \
  --report "$TEST_DIR/broken.json" > "$TEST_DIR/broken.txt" 2>&1 || rc=$?
expect_eq "$rc" 1 "chaos run with a node that cannot restart"
python3 - "$TEST_DIR/broken.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
e = r["experiments"][0]
assert r["survived"] is False and e["survived"] is False, r
assert e["verdicts"]["nodes_up"] is False and r["checks"]["replica_states_equal"] is False, r
PY
mv "$TEST_DIR/node3.secret" "$VOID_CLUSTER_DIR/keys/node3.secret"
echo "ok: a node left down fails the run (exit 1)"
