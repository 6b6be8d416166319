# 4 real nodes on loopback, end to end for keys: put/get/del/cas, a read as
# of an earlier time, --json, status, voidload's 64 clients connecting at
# once, and a clear timeout error (not a hang) when too few replicas are up.
source "$(dirname "$0")/lib.sh"
cluster_init kv 17500

cluster start --n 4 --clients 64 > /dev/null

# put / get
out=$(vctl put color blue); [[ "$out" == ok* ]] || fail "put said '$out'"
v1=${out#ok }
expect_eq "$(vctl get color)" "blue" "get after put"
sleep 0.05
vctl put color green > /dev/null
expect_eq "$(vctl get color)" "green" "get after second put"
# time travel: as of the first version, the old value
expect_eq "$(vctl get color --as-of "$v1")" "blue" "get --as-of first version"
# cas: wrong expectation fails with exit 1, right one succeeds
if vctl cas color blue red 2> /dev/null; then fail "cas with a stale expectation succeeded"; fi
vctl cas color green red > /dev/null
expect_eq "$(vctl get color)" "red" "get after cas"
vctl cas newkey - first --absent > /dev/null
expect_eq "$(vctl get newkey)" "first" "cas --absent creates"
# del, then get is not found (exit 1)
vctl del color > /dev/null
if err=$(vctl get color 2>&1); then fail "get after del found a value"; fi
[[ "$err" == "not_found: no live value for this key" ]] || fail "unclear not-found message: $err"
# json
json=$(vctl get newkey --json)
python3 -c "import json,sys; j=json.loads(sys.argv[1]); assert j['status']=='ok' and j['value']=='first', j" "$json" ||
  fail "json output: $json"
# status: all four report the same last executed sequence eventually
wait_for "[ \$(vctl status --json | python3 -c 'import json,sys; print(len({s[\"last_executed\"] for s in json.load(sys.stdin)}))') = 1 ]" 10
# each one's /status shows its clock as a readable HLC
st=$(vctl status --json)
python3 -c "
import json, re, sys
for s in json.loads(sys.argv[1]):
    assert re.fullmatch(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z/\d+', s['hlc']), s
" "$st" || fail "status hlc: $st"
vctl members > /dev/null

# Replicas took each other's COMMITs by their tags (docs/pbft.md, Commit
# authentication): none fell back to a signature check.
for i in 0 1 2 3; do
  m=$(curl -fsS "http://127.0.0.1:$((TEST_PORT + 1000 + i))/metrics")
  ok=$(awk '/^void_commit_macs_total\{result="ok"\}/ {print $2}' <<< "$m")
  bad=$(awk '/^void_commit_macs_total\{result="bad"\}/ {print $2}' <<< "$m")
  [ "${ok:-0}" -gt 0 ] && [ "${bad:-1}" -eq 0 ] || fail "node $i commit tags: ok=$ok bad=$bad"
done
echo "ok: commits authenticated by their tags"

# voidload's 64 clients connecting at once (bench/kv_put.sh at 64 clients):
# a replica admits at most 16 unauthenticated connections from one address
# and closes the oldest beyond that, so about half of the clients lost their
# first put and waited for the 2 s retry inside the measured run (p99 over
# 2 s, retries=32 in every run on 2026-12-07). voidload makes one warm-up
# put per client before the clock starts, as it always did for etcd: the
# measured run has no retransmission and its p99 stays below the retry
# timeout.
out=$(timeout 60 "$VOID_BIN/voidload" void "$VOID_CLUSTER_DIR" --clients 64 --seconds 1)
retries=$(sed -n 's/.*retries=\([0-9]*\).*/\1/p' <<<"$out")
p99=$(sed -n 's/.*p99_us=\([0-9]*\).*/\1/p' <<<"$out")
ops=$(sed -n 's/.* ops=\([0-9]*\).*/\1/p' <<<"$out")
warmup=$(sed -n 's/.* warmup=\([0-9]*\).*/\1/p' <<<"$out")
[ "${ops:-0}" -ge 64 ] || fail "64 clients acknowledged only ${ops:-0} puts in 1 s: $out"
expect_eq "$warmup" 64 "warm-up puts"
expect_eq "$retries" 0 "retransmissions in the measured run"
[ "$p99" -lt 2000000 ] || fail "p99 ${p99} us: a put waited for the 2 s retry"
echo "ok: 64 clients at once: $ops puts, no retry, p99 ${p99} us"

# A steady load on a healthy cluster needs no state transfer: a replica
# whose committed batch waits for its own record to be durable is not
# behind. Before the fix, every replica fetched state at almost every
# checkpoint or retransmit tick (Release, 4 replicas, one client: 149 and
# 120 transfers in 16 s of load; after: 1 and 0).
transfers() { cat "$VOID_CLUSTER_DIR"/logs/node*.log | grep -c "state transfer: started" || true; }
before=$(transfers)
out=$(timeout 60 "$VOID_BIN/voidload" void "$VOID_CLUSTER_DIR" --clients 1 --seconds 3)
ops=$(sed -n 's/.* ops=\([0-9]*\).*/\1/p' <<<"$out")
took=$(($(transfers) - before))
[ "${ops:-0}" -ge 32 ] || fail "one client acknowledged only ${ops:-0} puts in 3 s: $out"
[ "$took" -le 4 ] || fail "$took state transfers under a steady load of $ops puts (a healthy cluster needs none)"
echo "ok: one client, $ops puts in 3 s, $took state transfers"

# Two of four down: f = 1, so no quorum; the client must give up with a
# clear error within its timeout, not hang.
cluster kill 2
cluster kill 3
start=$SECONDS
if err=$(vctl put k v --timeout 2 2>&1); then fail "put succeeded without a quorum"; fi
[ $((SECONDS - start)) -le 5 ] || fail "timeout took $((SECONDS - start))s"
[[ "$err" == *"timed out"* ]] || fail "unclear error: $err"
echo "ok: $err"
