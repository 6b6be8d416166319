#!/usr/bin/env bash
# Join under load (issue 18; docs/membership.md, "Joining a running
# cluster"): four voidd processes started with room for joins
# (scripts/cluster start --slots 8) under 16 voidload clients and a
# sequential writer that logs every acknowledged put.
# 1. A fifth node joins: `scripts/cluster join --learner` writes its key and
#    file ([membership] genesis = 4), `voidctl member add` (admin-signed)
#    admits it as a learner, it starts, and it catches up by state transfer
#    while the load runs (`voidctl members` shows it as a learner).
# 2. Refusals, each with the state machine's reason and exit 3 (refused, not
#    4): add of an id in use, of a key in use, of an address in use (a
#    joined member's, by the cluster; a founding replica's, whose address
#    the genesis configuration does not hold, by voidctl from the cluster
#    file, under the same code), of an id without a slot; promote of an unknown id, of a voter, and of the
#    learner while it is cut off (isolated by `voidctl fault`) and more than
#    one checkpoint behind (VOID_EMEMBER_BEHIND).
# 3. Healed, the learner catches up and `voidctl member promote` makes it a
#    voter (epoch 3: n = 5, f = 1, q = 4).
# 4. It votes: with one of the original four SIGKILLed, q = 4 needs its
#    vote, and puts go on. Then the joiner itself is SIGKILLed and puts go
#    on. FULL=1 kills each of the five in turn (restarting each).
# 5. The load stops: every acknowledged put reads back, and all five
#    replicas agree on last_executed and the state digest (the joiner's
#    state equals the others').
# A joined member is first-class (docs/membership.md, "Joining a running
# cluster"), each check failing before its fix:
# - its HTTP address is the one its own file states (`cluster join --http`,
#   not port + 1000), at node 0, whose file does not list it (/nodes);
# - the causal log: `voidctl trace explain` of a key written after the
#   promotion, through a client file that lists only the founding four,
#   lists node 4's events (its HTTP address and key from /members), and
#   node 0 records node 4's frames as receives from node 4, none as a
#   client's request;
# - the block store: a file put on nodes 3 and 4 only (--on 3,4), node 3
#   cut off, is read back by a client whose file lists only the founding
#   four: they fetch it from node 4;
# - its own client: node 4, removed by the admin while it was down, reads
#   the configuration record through its own client when it comes back,
#   which the founding nodes must accept, and stops with exit 1.
source "$(dirname "$0")/lib.sh"
cluster_init memjoin 17830

CLIENTS=${CLIENTS:-16}
FULL=${FULL:-0}
K=16 # the checkpoint interval (VOID_PBFT_K_DEF)

cluster start --n 4 --clients "$CLIENTS" --slots 8 --fault-control > /dev/null
admin=$VOID_CLUSTER_DIR/keys/admin.secret
member() { vctl member "$@" --admin-key "$admin" --timeout 10; }
# Node 4's HTTP address is not the default one (port + 1000), so that
# nothing may guess it.
http_of() { [ "$1" = 4 ] && echo "127.0.0.1:$((TEST_PORT + 1009))" || echo "127.0.0.1:$((TEST_PORT + 1000 + $1))"; }
members_at() { # epoch and id:role of each member, as node $1 holds them
  curl -fsS --max-time 2 "http://$(http_of "$1")/members" |
    python3 -c "import json,sys; d=json.load(sys.stdin); print(d['epoch'], ' '.join(f\"{m['id']}:{m['role']}\" for m in d['members']))"
}
executed_at() {
  curl -fsS --max-time 2 "http://$(http_of "$1")/status" |
    python3 -c "import json,sys; print(json.load(sys.stdin)['last_executed'])"
}
# expect_refused REASON ARGS...: `voidctl member ARGS` exits 3 naming REASON.
expect_refused() {
  local want=$1 rc=0 err
  shift
  err=$(member "$@" 2>&1 > /dev/null) || rc=$?
  [ $rc -eq 3 ] && grep -q "$want" <<< "$err" || fail "member $*: exit $rc (want 3, $want): $err"
  echo "ok: member $1 refused: $(grep -o "$want[^\"]*" <<< "$err" | head -n 1)"
}
# The cluster commits: node $3 executes $1 more batches within $2 s.
committing() {
  local a deadline=$((SECONDS + $2))
  a=$(executed_at "$3")
  until [ "$(executed_at "$3" 2> /dev/null || echo 0)" -ge $((a + $1)) ]; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.2
  done
}
# Waits up to $2 s for $1 more acknowledged puts.
progress() {
  local a deadline=$((SECONDS + $2))
  a=$(acked_count)
  until [ "$(acked_count)" -ge $((a + $1)) ]; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.2
  done
}

: > "$TEST_DIR/acked"
"$VOID_BIN/voidload" void "$VOID_CLUSTER_DIR" --clients "$CLIENTS" --seconds 3600 --value 50 \
  --retry-ms 300 > "$TEST_DIR/load.out" 2>&1 &
echo $! > "$VOID_CLUSTER_DIR/run/voidload.pid"
acked_loop 5 & # the sequential writer (lib.sh): each acknowledged put is checked at the end
echo $! > "$VOID_CLUSTER_DIR/run/acked.pid"
progress 1 60 || fail "no put acknowledged under load within 60 s"

# 1. The join, under load.
t0=$SECONDS
VOID_WAIT_S=60 cluster join --learner --http "$(http_of 4)" > "$TEST_DIR/join.out" 2>&1 || fail "join: $(cat "$TEST_DIR/join.out")"
grep -q "member 4 added as a learner: epoch 2" "$TEST_DIR/join.out" || fail "join: $(cat "$TEST_DIR/join.out")"
wait_for '[ "$(members_at 0)" = "2 0:voter 1:voter 2:voter 3:voter 4:learner" ]' 30
vctl members | grep -Eq '^4 +127\.0\.0\.1:[0-9]+ +dc1/r0/h4 +learner' || fail "voidctl members: $(vctl members)"
echo "node 4 joined as a learner ($((SECONDS - t0)) s)"

# 2. Refusals.
pub() { echo "$VOID_CLUSTER_DIR/keys/node$1.public"; }
addr() { echo "127.0.0.1:$((TEST_PORT + $1))"; }
"$VOID_BIN/voidctl" keygen "$VOID_CLUSTER_DIR/keys" spare > /dev/null
spare=$VOID_CLUSTER_DIR/keys/spare.public
expect_refused VOID_EMEMBER_EXISTS add --id 4 --key "$spare" --addr "$(addr 6)"
expect_refused VOID_EMEMBER_DUP_KEY add --id 5 --key "$(pub 1)" --addr "$(addr 5)"
expect_refused VOID_EMEMBER_DUP_ADDR add --id 5 --key "$spare" --addr "$(addr 4)"
expect_refused VOID_EMEMBER_DUP_ADDR add --id 5 --key "$spare" --addr "$(addr 2)" # voidctl: the file
expect_refused VOID_ERANGE add --id 8 --key "$spare" --addr "$(addr 8)"
expect_refused VOID_EMEMBER_UNKNOWN promote --id 7
expect_refused VOID_EMEMBER_ROLE promote --id 0
out=$(member promote --id 7 --json 2>/dev/null || true)
python3 -c "import json,sys; d=json.loads(sys.argv[1]); assert d['status']=='refused' and d['reason'].startswith('VOID_EMEMBER_UNKNOWN'), d" "$out" ||
  fail "promote --json: $out"
vctl fault 4 --isolate --admin-key "$admin" > /dev/null || fail "cannot isolate node 4"
behind=$(executed_at 4)
wait_for "[ \$(executed_at 0) -gt $((behind + 3 * K)) ]" 60
expect_refused VOID_EMEMBER_BEHIND promote --id 4
vctl fault 4 --clear --admin-key "$admin" > /dev/null || fail "cannot heal node 4"

# 3. Caught up, promoted. The PROMOTE is refused unless the learner's
#    signed progress is within K of the sequence number that orders it:
#    when batches run faster than the learner's progress travels through
#    voidctl and the primary's queue (the sanitizer build on a loaded
#    machine), the load is paused (SIGSTOP) for the promote and says so.
load_pid=$(cat "$VOID_CLUSTER_DIR/run/voidload.pid")
deadline=$((SECONDS + 30)) paused=0
until out=$(member promote --id 4 2>&1); do
  grep -qE 'VOID_EMEMBER_(BEHIND|PENDING)' <<< "$out" || fail "promote: $out"
  if [ $SECONDS -ge $deadline ]; then
    [ $paused = 0 ] || fail "promote with the load paused: $out"
    kill -STOP "$load_pid"
    paused=1 deadline=$((SECONDS + 60))
  fi
  sleep 0.5
done
[ $paused = 1 ] && kill -CONT "$load_pid"
echo "$out ($([ $paused = 1 ] && echo "load paused for it" || echo "under the full load"))"
wait_for '[ "$(members_at 0)" = "3 0:voter 1:voter 2:voter 3:voter 4:voter" ]' 30
wait_for '[ "$(members_at 4)" = "3 0:voter 1:voter 2:voter 3:voter 4:voter" ]' 30
echo "node 4 is a voter (epoch 3) $((SECONDS - t0)) s after the join began"
m=$(curl -fsS --max-time 2 "http://$(http_of 0)/metrics")
grep -qx 'void_member_joins_total 1' <<< "$m" || fail "node 0: void_member_joins_total is not 1"
grep -qx 'void_member_promotions_total 1' <<< "$m" || fail "node 0: void_member_promotions_total is not 1"

# Its HTTP address, as its file states it, at node 0 (from its heartbeats).
node4_http_at_0() {
  curl -fsS --max-time 2 "http://$(http_of 0)/nodes" |
    python3 -c "import json,sys; print(next(n['http'] for n in json.load(sys.stdin)['nodes'] if n['id']==4))"
}
wait_for '[ "$(node4_http_at_0)" = "$(http_of 4)" ]' 10
echo "ok: node 0 has node 4's HTTP address $(http_of 4)"
# The causal log: a key written now, explained through a client file that
# lists only the founding four (voidctl trace asks the members f + 1 of them
# state at /members), lists node 4's events; node 0 recorded node 4's frames
# as receives from it.
# (in the cluster directory: its key paths are relative to it)
awk '/^\[/ { skip = ($1 == "[replica.4]") } !skip' "$CLIENT" > "$VOID_CLUSTER_DIR/founders.ini"
! grep -q '^\[replica\.4\]' "$VOID_CLUSTER_DIR/founders.ini" || fail "founders.ini lists node 4"
t=$(vctl put after-join yes --timeout 20) || fail "put after-join"
explain_ok=0
for _ in 1 2 3 4 5; do
  if "$VOID_BIN/voidctl" trace explain after-join --json --cluster "$VOID_CLUSTER_DIR/founders.ini" \
    > "$TEST_DIR/explain.json" 2> "$TEST_DIR/explain.err" &&
    python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
nodes = {e["node"] for e in d["chain"]}
assert 4 in nodes, f"no event of node 4 in the chain: {sorted(nodes)}"
bad = [e for e in d["chain"] if e["kind"] == "client_request" and e.get("client_id", 100) < 8]
assert not bad, f"a replica as a client: {bad[0]}"
print("ok: trace explain after-join: %d events of nodes %s" % (len(d["chain"]), sorted(nodes)))
' "$TEST_DIR/explain.json"; then
    explain_ok=1
    break
  fi
  sleep 1
done
[ $explain_ok = 1 ] || fail "trace explain after-join: $(cat "$TEST_DIR/explain.err") $(head -c 600 "$TEST_DIR/explain.json")"
curl -fsS --max-time 5 "http://$(http_of 0)/trace/events?limit=1" > "$TEST_DIR/ev0.json" || fail "node 0 /trace/events"
last0=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['last'])" "$TEST_DIR/ev0.json")
curl -fsS --max-time 5 "http://$(http_of 0)/trace/events?after=$((last0 > 800 ? last0 - 800 : 0))&limit=800" > "$TEST_DIR/ev0.json" ||
  fail "node 0 /trace/events"
python3 -c '
import json, sys
evs = json.load(open(sys.argv[1]))["events"]
rx = [e for e in evs if e["kind"] == "receive" and str(e.get("from", "")).startswith("4.")]
cl = [e for e in evs if e["kind"] == "client_request" and e["client_id"] == 4]
assert rx and not cl, f"node 0, last {len(evs)} events: {len(rx)} receives from node 4, {len(cl)} client requests of client 4"
print("ok: node 0 recorded %d receives from node 4 in its last %d events, no client request of client 4" % (len(rx), len(evs)))
' "$TEST_DIR/ev0.json" || fail "node 0's causal log does not take node 4 for a node"

# 4. Any one of the five may die. With one of the original four dead, q = 4
#    counts node 4's vote.
victims="$((RANDOM % 4)) 4"
[ "$FULL" = 1 ] && victims="0 1 2 3 4"
for v in $victims; do
  w=$(((v + 1) % 5)) # a survivor that tells how far the cluster executed
  cluster kill "$v" > /dev/null
  t=$SECONDS
  committing $((2 * K)) 60 "$w" || fail "fewer than $((2 * K)) batches executed in 60 s with node $v dead"
  progress 1 60 || fail "no put acknowledged within 60 s with node $v dead"
  echo "node $v SIGKILLed: the cluster commits ($((2 * K)) batches and a put in $((SECONDS - t)) s)"
  cluster restart "$v" > /dev/null || fail "restart $v"
done

# 5. Every acknowledged put is there; the five agree.
touch "$TEST_DIR/stop"
kill -KILL "$(cat "$VOID_CLUSTER_DIR/run/voidload.pid")" # its clients only wrote
wait "$(cat "$VOID_CLUSTER_DIR/run/voidload.pid")" 2> /dev/null || true
wait "$(cat "$VOID_CLUSTER_DIR/run/acked.pid")" || true
rm -f "$VOID_CLUSTER_DIR/run/voidload.pid" "$VOID_CLUSTER_DIR/run/acked.pid"
n=$(acked_count)
[ "$n" -gt 0 ] || fail "no acknowledged put"
# One signed read of the whole ack- range as of a put made after the load
# stopped (f + 1 replicas sign its digest), instead of a get per key.
t=$(vctl put settle x) || fail "put settle"
t=${t#ok }
# (A replica that has not executed t yet is not asked twice: wait_for.)
wait_for 'vctl trace state --at "$t" --prefix ack- --json > "$TEST_DIR/acks.json" 2> /dev/null' 20
missing=$(python3 -c '
import json, sys
lines = [json.loads(l) for l in sys.stdin if l.strip()]
assert lines and lines[-1].get("end"), lines[-1:]
have = {l.get("key"): l.get("value") for l in lines[:-1]}
bad = 0
for k in (l.strip() for l in open(sys.argv[1]) if l.strip()):
    if have.get(k) != "v" + k[4:]:
        bad += 1
        print(f"missing: {k} ({have.get(k)!r})", file=sys.stderr)
print(bad)
' "$TEST_DIR/acked" < "$TEST_DIR/acks.json") || fail "trace state --prefix ack-: $(head -c 300 "$TEST_DIR/acks.json")"
echo "acknowledged puts checked: $n, missing: $missing"
[ "$missing" = 0 ] || fail "$missing acknowledged puts are missing"
wait_for 'replicas_agree 1 5' 60
echo "the five agree: last_executed $(status_field 4 last_executed), digest $(status_field 4 state_digest | cut -c 1-16)"

# 6. The block store: a file on nodes 3 and 4 only; node 3 cut off; a
#    client that knows only the founding four reads it: they must ask node 4.
head -c 300000 /dev/urandom > "$TEST_DIR/blob"
out=$(vctl put --file "$TEST_DIR/blob" blob34 --on 3,4 --timeout 20) || fail "put --file --on 3,4: $out"
vctl fault 3 --isolate --admin-key "$admin" > /dev/null || fail "cannot isolate node 3"
rc=0
"$VOID_BIN/voidctl" get --file blob34 "$TEST_DIR/blob.back" --cluster "$VOID_CLUSTER_DIR/founders.ini" --timeout 20 \
  > "$TEST_DIR/get.out" 2>&1 || rc=$?
vctl fault 3 --clear --admin-key "$admin" > /dev/null || fail "cannot heal node 3"
[ $rc = 0 ] && cmp -s "$TEST_DIR/blob" "$TEST_DIR/blob.back" ||
  fail "get --file of a file on nodes 3 and 4, node 3 cut off, through the founding four: exit $rc: $(tail -n 3 "$TEST_DIR/get.out")"
echo "ok: a file stored on nodes 3 and 4 read back through the founding four with node 3 cut off"

# 7. Node 4's own client: removed while it was down, it learns it from the
#    configuration record it reads through its client, and stops.
cluster kill 4 > /dev/null
out=$(member remove 4) || fail "remove 4: $out"
echo "$out"
"$VOID_BIN/voidload" void "$VOID_CLUSTER_DIR" --clients 2 --seconds 600 --value 50 > /dev/null 2>&1 &
pump=$!
wait_for '[ "$(members_at 0)" = "4 0:voter 1:voter 2:voter 3:voter" ]' 60 ||
  { kill "$pump"; fail "node 4's removal did not take effect: $(members_at 0)"; }
kill "$pump"; wait "$pump" 2> /dev/null || true
rc=0
timeout 60 "$VOID_BIN/voidd" --config "$VOID_CLUSTER_DIR/node4.ini" > "$TEST_DIR/node4.out" 2>&1 || rc=$?
grep -E "removed|record" "$TEST_DIR/node4.out" | tail -n 2
expect_eq "$rc" 1 "node 4 removed while down: exit status"
grep -q "node 4 was removed from the cluster in epoch 4 while it was down" "$TEST_DIR/node4.out" ||
  fail "node 4: no clear message"
echo "OK"
