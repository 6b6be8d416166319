# Large requests through a real 4-node cluster (docs/pbft.md, "Large
# requests"): a 1 MiB random value under a 4 KiB random binary key (given as
# hex, --key-hex) goes in from stdin and comes back byte-identical; each
# replica's own reply is checked by reading through a client that reaches
# only two replicas at a time (f + 1 = 2 matching replies, so both must hold
# the bytes), for the pairs {0,1} and {2,3}; and input over the limits is
# refused before anything is sent, naming the limit.
source "$(dirname "$0")/lib.sh"
cluster_init kv_large 17980

cluster start --n 4 > /dev/null
# expect_rc STATUS STDERR-PATTERN cmd... (stdin from $STDIN_FILE when set)
expect_rc() {
  local want=$1 pat=$2 rc=0
  shift 2
  "$@" < "${STDIN_FILE:-/dev/null}" > "$TEST_DIR/out" 2> "$TEST_DIR/err" || rc=$?
  [ "$rc" -eq "$want" ] || fail "'${*:0:3}' exited $rc, want $want: $(head -c 300 "$TEST_DIR/err")"
  [ -z "$pat" ] || grep -q -- "$pat" "$TEST_DIR/err" || fail "stderr lacks '$pat': $(head -c 300 "$TEST_DIR/err")"
}

KEY_MAX=4096
VALUE_MAX=1048576
head -c $KEY_MAX /dev/urandom > "$TEST_DIR/key"
head -c $VALUE_MAX /dev/urandom > "$TEST_DIR/value"
key=$(od -An -v -tx1 "$TEST_DIR/key" | tr -d ' \n')
[ ${#key} -eq $((2 * KEY_MAX)) ] || fail "hex key"

out=$(vctl put --key-hex "$key" - --timeout 20 < "$TEST_DIR/value") || fail "put of 1 MiB: $out"
[[ "$out" == ok* ]] || fail "put said '$out'"
vctl get --key-hex "$key" --timeout 20 > "$TEST_DIR/got" || fail "get of 1 MiB"
printf '\n' | cat "$TEST_DIR/value" - | cmp - "$TEST_DIR/got" || fail "get is not the 1 MiB written"
echo "ok: a 1 MiB value under a 4 KiB binary key round-trips"

# A client file whose other two replicas are unreachable (ports 1-4): the
# answer it accepts is the two reachable replicas' matching replies.
pair_client() {
  local f="$(dirname "$CLIENT")/client-pair-$1$2.ini"
  python3 - "$CLIENT" "$f" "$1" "$2" <<'PY'
import re, sys
src, dst, a, b = sys.argv[1:]
out, cur = [], None
for line in open(src):
    m = re.match(r"\[replica\.(\d+)\]", line)
    if m:
        cur = m.group(1)
    elif line.startswith("["):
        cur = None
    if cur is not None and cur not in (a, b) and line.startswith("address"):
        line = "address = 127.0.0.1:%d\n" % (1 + int(cur))
    out.append(line)
open(dst, "w").write("".join(out))
PY
  echo "$f"
}
for pair in "0 1" "2 3"; do
  set -- $pair
  pc=$(pair_client "$1" "$2")
  "$VOID_BIN/voidctl" get --key-hex "$key" --cluster "$pc" --timeout 20 > "$TEST_DIR/got$1$2" ||
    fail "get through replicas $1 and $2 only"
  printf '\n' | cat "$TEST_DIR/value" - | cmp - "$TEST_DIR/got$1$2" || fail "replicas $1, $2 do not hold the bytes"
done
echo "ok: replicas 0, 1, 2 and 3 each answered the 1 MiB value byte-identical"

# Over the limits: refused by name and limit, exit 2, nothing sent.
head -c $((KEY_MAX + 1)) /dev/urandom | od -An -v -tx1 | tr -d ' \n' > "$TEST_DIR/longkey"
expect_rc 2 "the key is $((KEY_MAX + 1)) bytes, over the limit of $KEY_MAX bytes" \
  vctl put --key-hex "$(cat "$TEST_DIR/longkey")" v
expect_rc 2 "over the limit of $KEY_MAX bytes" vctl put "$(head -c $((KEY_MAX + 1)) /dev/zero | tr '\0' k)" v
head -c $((VALUE_MAX + 1)) /dev/zero > "$TEST_DIR/over"
STDIN_FILE=$TEST_DIR/over expect_rc 2 "the value on stdin is over the limit of $VALUE_MAX bytes" \
  vctl put --key-hex "$key" -
vctl put --help | grep -q "a key is 1 to $KEY_MAX bytes (4 KiB), a value (and cas EXPECTED) 0 to $VALUE_MAX bytes" ||
  fail "put --help does not state the limits"
vctl get --key-hex "$key" --timeout 20 > "$TEST_DIR/got"
printf '\n' | cat "$TEST_DIR/value" - | cmp - "$TEST_DIR/got" || fail "a refused put changed the value"
echo "ok: over-limit keys and values refused, naming the limit"
