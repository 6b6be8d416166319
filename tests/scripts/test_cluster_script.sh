#!/usr/bin/env bash
# scripts/cluster as an operator uses it: help, how the directory is chosen,
# clear failures for a cluster or node that does not exist, pidfiles that
# never outlive their node (nor name another process), status exit codes.
# Starts one real 4-node cluster (tests/cluster/lib.sh: own ports, stopped on
# exit).
source "$VOID_SOURCE_DIR/tests/cluster/lib.sh"
cluster_init cluster_script 61
script=$VOID_SOURCE_DIR/scripts/cluster
sleeper=""
trap 'for p in $sleeper; do kill "$p" 2>/dev/null || true; done; cluster_cleanup' EXIT

# run ARGS...: runs the script; sets rc, out, err (never exits the test).
run() {
  rc=0
  "$script" "$@" > "$TEST_DIR/out" 2> "$TEST_DIR/err" || rc=$?
  out=$(cat "$TEST_DIR/out") err=$(cat "$TEST_DIR/err")
}
expect_fail() { # WANT-RC PATTERN-ON-STDERR WHAT
  [ "$rc" = "$1" ] || fail "$3: exit $rc, want $1 (stderr: $err)"
  grep -q -- "$2" <<<"$err" || fail "$3: stderr lacks '$2': $err"
}

# 1. Help: exit 0, usage, options, an example, how DIR is chosen; also
# after a command.
for args in "--help" "-h" "help" "start --help" "kill 1 --help" "status -h"; do
  run $args
  [ "$rc" = 0 ] || fail "'cluster $args': exit $rc"
  grep -q '^Usage: scripts/cluster' <<<"$out" || fail "'cluster $args': no usage line"
  grep -q -- '--dir DIR' <<<"$out" || fail "'cluster $args': no options"
  grep -q 'VOID_CLUSTER_DIR, else$' <<<"$out" || fail "'cluster $args': does not say how DIR is chosen"
  grep -q '^Example' <<<"$out" || fail "'cluster $args': no example"
  ! grep -qE '^#|set -euo' <<<"$out" || fail "'cluster $args': raw script lines: $out"
done
run; expect_fail 2 "usage:" "no command"
run frobnicate; expect_fail 2 "unknown command 'frobnicate'" "unknown command"
run kill; expect_fail 2 "kill needs a node id" "kill without id"
run kill x1; expect_fail 2 "not a node id" "kill x1"
run start --n; expect_fail 2 "needs a value" "--n without value"
run start --n four --dir "$TEST_DIR/never"; expect_fail 2 "needs a number" "--n four"
run start --scrape-interval soon --dir "$TEST_DIR/never"; expect_fail 2 "needs a duration" "--scrape-interval soon"
run start --prometheus-port 70000 --dir "$TEST_DIR/never"; expect_fail 2 "needs a port" "--prometheus-port 70000"
run stop --prometheus --dir "$TEST_DIR/never"; expect_fail 2 "--prometheus goes with start" "stop --prometheus"
[ ! -e "$TEST_DIR/never" ] || fail "a refused start created its directory"

# 2. A cluster that does not exist: every command but start fails, naming
# the directory and where it came from; nothing is created.
none=$TEST_DIR/none
for c in status stop wait "kill 0" "restart 0" "wipe 0"; do
  VOID_CLUSTER_DIR=$none run $c
  expect_fail 1 "no cluster in $none (VOID_CLUSTER_DIR)" "'$c' of no cluster"
  run $c --dir "$none/x"
  expect_fail 1 "no cluster in $none/x (--dir)" "'$c --dir' of no cluster"
done
[ ! -e "$none" ] || fail "a command on no cluster created $none"
# --dir wins over the environment; without either, /tmp/void-cluster (a
# node id no cluster has keeps this harmless if one exists there).
VOID_CLUSTER_DIR=$none run kill 0 --dir "$TEST_DIR/other"
expect_fail 1 "$TEST_DIR/other (--dir)" "--dir over VOID_CLUSTER_DIR"
(unset VOID_CLUSTER_DIR; "$script" kill 999 > /dev/null 2> "$TEST_DIR/err") && fail "kill 999 on the default dir: exit 0"
grep -q "/tmp/void-cluster" "$TEST_DIR/err" || fail "default dir not named: $(cat "$TEST_DIR/err")"

# 3. A real cluster: start says which directory it uses.
run start --n 4 --port "$TEST_PORT"
[ "$rc" = 0 ] || fail "start: exit $rc: $err"
grep -q "^cluster: directory $VOID_CLUSTER_DIR (VOID_CLUSTER_DIR)" <<<"$err" || fail "start does not name its directory: $err"
pidfiles() { (cd "$VOID_CLUSTER_DIR/run" && ls) | tr '\n' ' '; }
expect_eq "$(pidfiles)" "node0.pid node1.pid node2.pid node3.pid " "pidfiles after start"
run status
[ "$rc" = 0 ] || fail "status of a healthy cluster: exit $rc: $err"
expect_eq "$(grep -c ': running (pid' <<<"$out")" 4 "running nodes"

# Nodes it does not have: refused, nothing touched.
for c in "kill 9" "restart 9" "wipe 9" "kill 4"; do
  run $c --port "$TEST_PORT"
  expect_fail 1 "no node ${c#* }: the cluster in $VOID_CLUSTER_DIR has nodes 0..3" "'$c' on 4 nodes"
done
expect_eq "$(pidfiles)" "node0.pid node1.pid node2.pid node3.pid " "pidfiles after refused commands"
run start --n 7 --port "$TEST_PORT"
[ "$rc" = 0 ] || fail "start of a running cluster: exit $rc: $err"
grep -q "n=4; --n 7 ignored" <<<"$err" || fail "start --n 7 on a 4-node cluster: no warning: $err"

# 4. kill removes the pidfile; status then says down and exits 3.
run kill 2
[ "$rc" = 0 ] || fail "kill 2: exit $rc: $err"
[ ! -e "$VOID_CLUSTER_DIR/run/node2.pid" ] || fail "kill 2 left its pidfile"
run status
[ "$rc" = 3 ] || fail "status with node 2 down: exit $rc, want 3"
grep -q '^node 2: down' <<<"$out" || fail "status does not show node 2 down: $out"
run kill 2
[ "$rc" = 0 ] || fail "kill of a stopped node: exit $rc"
grep -q 'node 2 was not running' <<<"$err" || fail "kill of a stopped node: no note: $err"

# 5. restart that fails (its key file is readable by others, which voidd
# refuses): exit 1, the log's last lines, and no stale pidfile; after the
# fix it works.
chmod 644 "$VOID_CLUSTER_DIR/keys/node2.secret"
run restart 2
expect_fail 1 "node 2 exited" "restart with a bad key file"
[ ! -e "$VOID_CLUSTER_DIR/run/node2.pid" ] || fail "a failed restart left a stale pidfile"
chmod 600 "$VOID_CLUSTER_DIR/keys/node2.secret"
run restart 2
[ "$rc" = 0 ] || fail "restart 2: exit $rc: $err"
p=$(cat "$VOID_CLUSTER_DIR/run/node2.pid")
tr '\0' ' ' < "/proc/$p/cmdline" | grep -q "voidd --config $VOID_CLUSTER_DIR/node2.ini" ||
  fail "node2.pid ($p) is not node 2's voidd"

# 6. restart of a running node restarts it.
run restart 2
[ "$rc" = 0 ] || fail "restart of a running node: exit $rc: $err"
p2=$(cat "$VOID_CLUSTER_DIR/run/node2.pid")
[ "$p2" != "$p" ] || fail "restart of a running node kept pid $p"
st=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null || true)
[ -z "$st" ] || [ "${st%% *}" = Z ] || fail "restart left the old node 2 ($p) running"

# 7. A pidfile naming another process (a node died, its pid was reused) is
# not a running node: status says down, stop and kill leave that process.
run kill 1
sleep 300 &
sleeper=$!
echo "$sleeper" > "$VOID_CLUSTER_DIR/run/node1.pid"
run status
grep -q '^node 1: down' <<<"$out" || fail "a foreign pid counted as node 1: $out"
echo "$sleeper" > "$VOID_CLUSTER_DIR/run/node1.pid"
run kill 1
kill -0 "$sleeper" 2>/dev/null || fail "kill 1 killed a process that is not node 1"
run wipe 3
[ "$rc" = 0 ] || fail "wipe 3: exit $rc: $err"
[ ! -e "$VOID_CLUSTER_DIR/data/node3" ] || fail "wipe 3 kept its data"
[ ! -e "$VOID_CLUSTER_DIR/run/node3.pid" ] || fail "wipe 3 left its pidfile"
echo "$sleeper" > "$VOID_CLUSTER_DIR/run/node1.pid"
run stop
[ "$rc" = 0 ] || fail "stop: exit $rc: $err"
kill -0 "$sleeper" 2>/dev/null || fail "stop killed a process that is not a node"
expect_eq "$(pidfiles)" "" "pidfiles after stop"
pgrep -f "voidd --config $VOID_CLUSTER_DIR/" > /dev/null && fail "voidd still running after stop"
echo "test_cluster_script: ok"
