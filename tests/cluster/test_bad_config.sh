# Bad configurations: voidd exits non-zero at once with a message that names
# the problem: missing key file, duplicate id, malformed address, unknown
# key, unresolvable peer, port in use, two or three replicas (f = 0).
source "$(dirname "$0")/lib.sh"
cluster_init badconfig 17580

# Generate keys and configs (one node's worth is enough) without starting.
mkdir -p "$TEST_DIR/k"
"$VOID_BIN/voidctl" keygen "$TEST_DIR/k" n0 > /dev/null
for i in 1 2 3; do "$VOID_BIN/voidctl" keygen "$TEST_DIR/k" "n$i" > /dev/null; done
good="[node]
id = 0
key = k/n0.secret
data_dir = data0
[replica.0]
address = 127.0.0.1:$TEST_PORT
public_key_file = k/n0.public
[replica.1]
address = 127.0.0.1:$((TEST_PORT + 1))
public_key_file = k/n1.public
[replica.2]
address = 127.0.0.1:$((TEST_PORT + 2))
public_key_file = k/n2.public
[replica.3]
address = 127.0.0.1:$((TEST_PORT + 3))
public_key_file = k/n3.public
"

expect_refusal() {
  local name=$1 text=$2 want=$3 out rc
  printf '%s' "$text" > "$TEST_DIR/$name.ini"
  set +e
  out=$(timeout 10 "$VOID_BIN/voidd" --config "$TEST_DIR/$name.ini" 2>&1)
  rc=$?
  set -e
  [ $rc -ne 0 ] || fail "$name: voidd exited 0"
  [ $rc -ne 124 ] || fail "$name: voidd did not exit (hang)"
  [[ "$out" == *"$want"* ]] || fail "$name: message '$out' does not mention '$want'"
  echo "ok $name: $out"
}

expect_refusal missing_key "${good/k\/n0.secret/k\/nope.secret}" "nope.secret"
expect_refusal duplicate_id "$good
[replica.1]
address = 127.0.0.1:$((TEST_PORT + 4))
" "duplicate"
three="${good%\[replica.3\]*}"
expect_refusal three_replicas "$three" "at least 4"
expect_refusal malformed_address "${good/127.0.0.1:$((TEST_PORT + 1))/127.0.0.1-$((TEST_PORT + 1))}" "malformed"
expect_refusal unknown_key "$good
[fault]
dleay_ms = 5
" "unknown key 'dleay_ms'"
expect_refusal unreachable_peer "${good/127.0.0.1:$((TEST_PORT + 1))/no-such-host.invalid:$((TEST_PORT + 1))}" "no-such-host.invalid"
expect_refusal not_a_number "${good/id = 0/id = zero}" "not a number"
chmod 644 "$TEST_DIR/k/n0.secret"
expect_refusal world_readable_key "$good" "chmod"
chmod 600 "$TEST_DIR/k/n0.secret"

# Port in use: something already listens on node 0's port.
python3 -c "
import socket,time,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1',$TEST_PORT)); s.listen(1); sys.stdout.write('ready\n'); sys.stdout.flush(); time.sleep(30)" > "$TEST_DIR/holder.out" &
holder=$!
trap 'kill $holder 2>/dev/null || true; cluster_cleanup' EXIT
wait_for "grep -q ready $TEST_DIR/holder.out" 5
expect_refusal port_in_use "$good" "in use"
kill $holder
