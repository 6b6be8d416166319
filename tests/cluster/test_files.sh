# Files and directories through the cluster: the client chunks a tree with
# the CAS, uploads the blocks to the replicas directly and commits
# "name -> root" through PBFT; the tree comes back byte for byte. Then a
# replica's data is wiped: asked for blocks it no longer has, it fetches them
# from its peers, checks their hashes and serves them (and the tree still
# comes back identical). Also: a single file to stdout (`get --file NAME -`)
# and a clear refusal for a directory; --timeout as "no progress for T
# seconds" (a transfer longer than T succeeds, a stalled one fails after
# about T with exit 4); the status line on a terminal, the summary, and
# --quiet.
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

# A single file to stdout; a directory cannot go there (and no file named
# '-' appears).
vctl put --file "$src/big.bin" one --quiet > /dev/null
vctl get --file one - --quiet | cmp - "$src/big.bin" || fail "get --file NAME - (stdout)"
rc=0
bin=$(cd "$VOID_BIN" && pwd)
(cd "$TEST_DIR" && "$bin/voidctl" get --file tree - --cluster "$CLIENT" > "$TEST_DIR/dir.out" 2> "$TEST_DIR/dir.err") || rc=$?
[ "$rc" -eq 1 ] || fail "directory to stdout exited $rc"
grep -q "is a directory; only a single file can go to stdout" "$TEST_DIR/dir.err" ||
  fail "directory to stdout: $(cat "$TEST_DIR/dir.err")"
[ ! -e "$TEST_DIR/-" ] || fail "get --file tree - created a file named '-'"
echo "ok: get --file NAME - writes a file to stdout, refuses a directory"

# --timeout is the time without progress: 24 MB takes several seconds here
# (chunking, then 4 x 24 MB to the replicas), far more than --timeout 5,
# and succeeds because blocks keep being acknowledged.
head -c 24000000 /dev/urandom > "$TEST_DIR/big40"
start=$(date +%s%N)
vctl put --file "$TEST_DIR/big40" big40 --timeout 5 > /dev/null 2> "$TEST_DIR/put.err" ||
  fail "a 24 MB put with --timeout 5 failed: $(cat "$TEST_DIR/put.err")"
took=$(( ($(date +%s%N) - start) / 1000000 ))
grep -q "^put: stored 1 files, 22\.[89] MiB ([0-9]* blocks) in [0-9.]* s, [0-9.]* MiB/s$" "$TEST_DIR/put.err" ||
  fail "put summary: $(cat "$TEST_DIR/put.err")"
vctl get --file big40 "$TEST_DIR/big40.out" --timeout 5 --quiet > /dev/null
cmp "$TEST_DIR/big40" "$TEST_DIR/big40.out" || fail "24 MB round trip"
echo "ok: 24 MB put in $took ms with --timeout 5 (progress resets the timeout)"
[ "$took" -gt 5000 ] || echo "note: the put took under 5 s, so it did not exercise the reset"
# On a terminal: a restic-like status line (files, bytes, rate, ETA,
# current file); --quiet silences it and the summary.
script -qec "$VOID_BIN/voidctl put --file $src tree-tty --cluster $CLIENT" /dev/null |
  tr '\r' '\n' > "$TEST_DIR/tty.out"
grep -aq "uploaded [0-9]* / 4 files .* MiB .* MiB/s  ETA" "$TEST_DIR/tty.out" ||
  fail "no status line on a terminal: $(head -c 600 "$TEST_DIR/tty.out")"
grep -aq "put: stored 4 files" "$TEST_DIR/tty.out" || fail "no summary on a terminal"
script -qec "$VOID_BIN/voidctl put --file $src tree-q --quiet --cluster $CLIENT" /dev/null |
  tr '\r' '\n' > "$TEST_DIR/tty.out"
! grep -aq "files" "$TEST_DIR/tty.out" || fail "--quiet still showed progress: $(cat "$TEST_DIR/tty.out")"
echo "ok: status line on a terminal, silenced by --quiet"

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

# A running voidd owns its block store (store.lock): voidctl store writers
# fail at once, naming its pid, and change nothing.
store=$VOID_CLUSTER_DIR/data/node2/cas
pid2=$(cat "$VOID_CLUSTER_DIR/run/node2.pid")
for verb in "put $src" "gc --force"; do
  # shellcheck disable=SC2086 # the verb and its arguments, split on purpose
  if "$VOID_BIN/voidctl" store --store "$store" $verb > /dev/null 2> "$TEST_DIR/lock.err"; then
    fail "voidctl store $verb ran beside the running voidd"
  fi
  grep -q "owned by process $pid2" "$TEST_DIR/lock.err" ||
    fail "lock refusal unclear: $(cat "$TEST_DIR/lock.err")"
done
cat "$TEST_DIR/lock.err"
echo "ok: voidctl store put and gc refused beside the running voidd (pid $pid2)"
# A replica's block store holds committed files without pins (their names
# are in the replicated state): even when the replica is down, voidctl store
# gc refuses it and deletes nothing.
cluster kill 2
if "$VOID_BIN/voidctl" store --store "$store" gc 2> "$TEST_DIR/gc.err"; then
  fail "gc ran on a replica's store"
fi
grep -q "refusing gc" "$TEST_DIR/gc.err" || fail "gc refusal unclear: $(cat "$TEST_DIR/gc.err")"
cat "$TEST_DIR/gc.err"
echo "ok: gc refused on a replica's store"
# Forced on the stopped replica, gc deletes the blocks of the committed
# tree (what the refusal protects); back up, the replica fetches them from
# its peers again and the tree comes back whole.
out=$("$VOID_BIN/voidctl" store --store "$store" --json gc --force) || fail "gc --force failed"
freed=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['blocks_freed'])" "$out")
[ "$freed" -gt 0 ] || fail "gc --force freed nothing: $out"
echo "ok: gc --force freed $freed blocks of committed files"
cluster restart 2
cluster wait > /dev/null
vctl get --file tree "$TEST_DIR/out3" --timeout 20 > /dev/null
diff -r "$src" "$TEST_DIR/out3" || fail "tree differs after the forced gc"
echo "ok: the tree came back after the forced gc"

# A stalled upload fails after about --timeout, with exit 4: with three of
# four replicas down no block reaches f + 1 = 2 replicas.
cluster kill 1
cluster kill 2
cluster kill 3
start=$SECONDS
rc=0
vctl put --file "$src" stalled --timeout 2 --quiet > /dev/null 2> "$TEST_DIR/stall.err" || rc=$?
[ "$rc" -eq 4 ] || fail "stalled put exited $rc: $(cat "$TEST_DIR/stall.err")"
[ $((SECONDS - start)) -le 8 ] || fail "stalled put took $((SECONDS - start)) s with --timeout 2"
grep -q "upload stalled: no replica stored a block for 2.0 s" "$TEST_DIR/stall.err" ||
  fail "stall message: $(cat "$TEST_DIR/stall.err")"
echo "ok: $(cat "$TEST_DIR/stall.err")"
