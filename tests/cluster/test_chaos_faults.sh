# The chaos engine's faults beyond the network (docs/chaos.md): clock skew,
# disk full, file corruption, memory pressure, CPU burn and Byzantine
# messages, one short experiment each on a 4-node cluster of the sanitizer
# build, and every experiment must survive (linearizable history, commits
# again within the bound, nodes up, every acknowledged write read back, equal
# replica states) with a measured recovery time. Besides the verdicts it
# checks what each fault did: the skewed node's messages refused beyond the
# HLC's max offset (and not within it), the disk-full replica naming the full
# disk and resuming in the same process when space returns, the corrupted record log refused by name at start and the replica
# repaired by state transfer, the damaged block named by the node and the
# file read back with its own bytes (from another replica), the memory cgroup and the pinned CPU in place,
# the Byzantine replica's lies dropped by the others. Byzantine behaviour is
# refused by a node whose config does not allow it.
source "$(dirname "$0")/lib.sh"
cluster_init chaos_faults 17720
# A disk experiment cut short leaves its tmpfs mounted in the cluster
# directory: unmount it (lazily: its node may still run) before cleaning up.
unmount_left() {
  local m
  for m in $(awk -v d="$TEST_DIR/" 'index($2, d) == 1 {print $2}' /proc/mounts); do
    umount -l "$m" 2>/dev/null || true
  done
}
trap 'rc=$?; unmount_left; set +e; (exit $rc); cluster_cleanup' EXIT

cluster start --n 4 --fault-control --byzantine > /dev/null
fault() { "$VOID_BIN/voidctl" fault "$@" --cluster "$CLIENT" --admin-key "$VOID_CLUSTER_DIR/keys/admin.secret"; }
chaos() { "$VOID_BIN/voidctl" chaos run --cluster "$VOID_CLUSTER_DIR" "$@"; }
dropped() { # sum of void_messages_dropped_total{reason=$2} over the nodes in $1
  local sum=0 i v port
  for i in $1; do
    port=$(sed -n "/^\[replica.$i\]/,/^\$/s/^http = 127.0.0.1://p" "$CLIENT")
    v=$(curl -s --noproxy '*' "http://127.0.0.1:$port/metrics" |
      sed -n "s/^void_messages_dropped_total{reason=\"$2\"} //p")
    sum=$((sum + ${v:-0}))
  done
  echo $sum
}

# A node whose config does not allow it refuses to turn Byzantine (400):
# node 3 runs without [fault] byzantine = 1 from here on.
sed -i '/^byzantine = 1$/d' "$VOID_CLUSTER_DIR/node3.ini"
cluster restart 3 > /dev/null
rc=0; out=$(fault 3 --byzantine garbage 2>&1) || rc=$?
expect_eq "$rc" 3 "voidctl fault --byzantine on a node without [fault] byzantine"
grep -q "may not turn Byzantine" <<<"$out" || fail "refusal does not say why: $out"
echo "ok: byzantine refused without [fault] byzantine = 1"

# Clock skew within the HLC's max offset (500 ms): nothing is refused.
before=$(dropped "0 2 3" hlc_ahead)
fault 1 --skew-ms 200 > /dev/null
for k in 1 2 3; do "$VOID_BIN/voidctl" put "skew$k" "$k" --cluster "$CLIENT" > /dev/null; done
fault 1 --clear > /dev/null
after=$(dropped "0 2 3" hlc_ahead)
expect_eq "$after" "$before" "messages of a node 200 ms ahead refused as hlc_ahead"
echo "ok: a node 200 ms ahead is not refused"

# Seed 42 (checked below): skew 2000 ms ahead (beyond the max offset) and
# a Byzantine node 1 sending frames 30 s ahead ("future"), not node 3.
ALL=skew,disk,corrupt,memory,cpu,byzantine,corrupt-cas seed=42
if [ "$(id -u)" != 0 ]; then
  ALL=skew,corrupt,cpu,byzantine,corrupt-cas
  echo "note: not root: disk (a tmpfs mount) and memory (a cgroup) left out"
fi
plan=$(chaos --faults $ALL --duration 35 --interval 5 --seed $seed --dry-run)
if [ "$(id -u)" = 0 ]; then
  grep -q "skew .*beyond" <<<"$plan" || fail "seed $seed: no skew beyond the max offset: $plan"
  grep -Eq "byzantine  node [012]: .*\(future\)" <<<"$plan" || fail "seed $seed: $plan"
fi

n=$(tr ',' '\n' <<<"$ALL" | wc -l)
rc=0
chaos --faults $ALL --duration $((5 * n)) --interval 5 --fault-s 2 --seed "$seed" --json \
  --report "$TEST_DIR/report.json" > "$TEST_DIR/lines.json" 2> "$TEST_DIR/table.txt" || rc=$?
cat "$TEST_DIR/table.txt"
expect_eq "$rc" 0 "voidctl chaos run exit status"
python3 - "$TEST_DIR/lines.json" "$TEST_DIR/report.json" "$ALL" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
report = json.load(open(sys.argv[2]))
want = sorted(sys.argv[3].split(","))
assert sorted(e["fault"] for e in lines) == want, [e["fault"] for e in lines]
for e in lines:
    assert e["survived"] is True and all(e["verdicts"].values()), e
    assert e["recovery_s"] is not None and 0 <= e["recovery_s"] < 10, e
    assert e["writes_ok"] > 0 and e["lin_completed"] > 0, e
    print(f"recovery after {e['fault']:9s} of node {e['node']}{' (primary)' if e['node_was_primary'] else ''}: "
          f"{e['recovery_s']:.3f} s; writes {e['writes_ok']} ok / {e['writes_failed']} failed ({e['plan']})")
c = report["checks"]
assert report["survived"] and c["read_back"] == c["acknowledged"] > 0, c
print(f"checks: {c['present']}; {c['states']}")
PY
t=$TEST_DIR/table.txt
# What each fault did, from the engine's lines.
[ "$(id -u)" = 0 ] || { echo "ok: every fault survived (not root: fewer checks)"; exit 0; }
grep -Eq "chaos: skew: .*by (the other replicas|node [0-9]): [^;]*hlc_ahead \+[1-9]" "$t" ||
  fail "the skewed node's messages (or the others', to it) were not refused beyond the max offset"
grep -Eq "chaos: byzantine: dropped during the fault: by the other replicas: [a-z_]+ \+[1-9]" "$t" ||
  fail "the other replicas dropped nothing of the Byzantine replica's"
grep -q "chaos: corrupt: node [0-9] refused to start: .*record log damaged" "$t" ||
  fail "the corrupted record log was not refused by name"
grep -q "chaos: corrupt: node [0-9] restarted empty" "$t" || fail "no repair after the corruption"
grep -Eq "chaos: corrupt-cas: get --file chaos-cas-[0-9-]+: the file's own bytes; node [0-9] said: .*cas: block [0-9a-f]{64} is corrupt" "$t" ||
  fail "the flipped block of a stored file was not named, or the file did not come back intact"
grep -q "chaos: cpu: node [0-9] pinned to CPU" "$t" || fail "no CPU burn"
grep -q "chaos: disk: node [0-9] said: .*disk full: the state store cannot write" "$t" ||
  fail "the replica on a full disk did not say so"
# ... and resumed by itself when space returned: the same pid, restarted
# from its record log and executing again (the engine restarts nothing).
grep -Eq "chaos: disk: node [0-9] resumed in place \(pid [0-9]+, the same process\): restarted itself" "$t" ||
  fail "the replica on a full disk did not resume in place when space returned"
grep -q "chaos: memory: node [0-9] .*limit" "$t" || fail "no memory cgroup"
echo "ok: every fault survived with a measured recovery time, and did what it says"
