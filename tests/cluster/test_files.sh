# Files and directories through the cluster: the client chunks a tree with
# the CAS, uploads the blocks to the replicas directly and commits
# "name -> root" through PBFT; the tree comes back byte for byte. Then a
# replica's data is wiped: asked for blocks it no longer has, it fetches them
# from its peers, checks their hashes and serves them (and the tree still
# comes back identical).
source "$(dirname "$0")/lib.sh"
cluster_init files 17660

cluster start --n 4 > /dev/null
src=$TEST_DIR/src
mkdir -p "$src/sub/deeper"
head -c 2000000 /dev/urandom > "$src/big.bin"
echo "hello" > "$src/sub/a.txt"
printf 'x%.0s' $(seq 1 5000) > "$src/sub/deeper/x.txt"
: > "$src/empty"

out=$(vctl put --file "$src" tree); [[ "$out" == ok* ]] || fail "put --file: $out"
echo "$out"
json=$(vctl get --file tree "$TEST_DIR/out1" --json)
python3 -c "import json,sys; j=json.loads(sys.argv[1]); assert j['status']=='ok' and j['name']=='tree', j" "$json" ||
  fail "get --file --json: $json"
diff -r "$src" "$TEST_DIR/out1" || fail "tree differs after the round trip"
if vctl get --file no-such-tree "$TEST_DIR/out0" 2> /dev/null; then fail "got a tree that was never put"; fi

# Replica 1 loses its disk; once back (state transfer), the blocks it is
# asked for come from its peers.
cluster wipe 1
cluster restart 1
cluster wait > /dev/null
vctl get --file tree "$TEST_DIR/out2" --timeout 20 > /dev/null
diff -r "$src" "$TEST_DIR/out2" || fail "tree differs after the wipe"
# A fetched block is counted once the writer thread made it durable, which
# may be just after the client got it: give the counter a moment.
fetched=0
for _ in $(seq 1 50); do
  fetched=$(curl -fsS "http://127.0.0.1:$((TEST_PORT + 1001))/metrics" |
    awk '/void_cas_blocks_total\{op="fetched_from_peer"\}/ {print $2}')
  [ "${fetched:-0}" -gt 0 ] && break
  sleep 0.1
done
[ "${fetched:-0}" -gt 0 ] || fail "replica 1 fetched no block from its peers"
echo "ok: replica 1 fetched $fetched blocks from peers"

# A running voidd owns its block store (store.lock): voidctl cas writers
# fail at once, naming its pid, and change nothing.
store=$VOID_CLUSTER_DIR/data/node2/cas
pid2=$(cat "$VOID_CLUSTER_DIR/run/node2.pid")
for verb in "put $src" "gc --force"; do
  # shellcheck disable=SC2086 # the verb and its arguments, split on purpose
  if "$VOID_BIN/voidctl" cas --store "$store" $verb > /dev/null 2> "$TEST_DIR/lock.err"; then
    fail "voidctl cas $verb ran beside the running voidd"
  fi
  grep -q "owned by process $pid2" "$TEST_DIR/lock.err" ||
    fail "lock refusal unclear: $(cat "$TEST_DIR/lock.err")"
done
cat "$TEST_DIR/lock.err"
echo "ok: voidctl cas put and gc refused beside the running voidd (pid $pid2)"
# A replica's block store holds committed files without pins (their names
# are in the replicated state): even when the replica is down, voidctl cas
# gc refuses it and deletes nothing.
cluster kill 2
if "$VOID_BIN/voidctl" cas --store "$store" gc 2> "$TEST_DIR/gc.err"; then
  fail "gc ran on a replica's store"
fi
grep -q "refusing gc" "$TEST_DIR/gc.err" || fail "gc refusal unclear: $(cat "$TEST_DIR/gc.err")"
cat "$TEST_DIR/gc.err"
echo "ok: gc refused on a replica's store"
# Forced on the stopped replica, gc deletes the blocks of the committed
# tree (what the refusal protects); back up, the replica fetches them from
# its peers again and the tree comes back whole.
out=$("$VOID_BIN/voidctl" cas --store "$store" --json gc --force) || fail "gc --force failed"
freed=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['blocks_freed'])" "$out")
[ "$freed" -gt 0 ] || fail "gc --force freed nothing: $out"
echo "ok: gc --force freed $freed blocks of committed files"
cluster restart 2
cluster wait > /dev/null
vctl get --file tree "$TEST_DIR/out3" --timeout 20 > /dev/null
diff -r "$src" "$TEST_DIR/out3" || fail "tree differs after the forced gc"
echo "ok: the tree came back after the forced gc"
