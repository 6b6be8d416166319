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
print(f"checks: {c['present']}; {c['states']}")
PY
echo "ok: every fault survived with a measured recovery time"

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
