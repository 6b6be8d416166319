# voidctl against 4 real nodes, for values that are not text: `put KEY -`
# takes the value from stdin byte for byte (NUL, 0xff, no trailing newline),
# a value over VOID_SM_VALUE_MAX on stdin is refused naming the limit (the
# limit is read from `voidctl put --help`, so the test follows it when it
# widens), plain `get` prints the bytes then a newline, and --json shows a
# key or value that is not UTF-8 as key_b64 / value_b64 (base64) instead of
# dropping it, while UTF-8 stays in key / value.
source "$(dirname "$0")/lib.sh"
cluster_init kv_binary 17780

cluster start --n 4 > /dev/null
# expect_rc STATUS STDERR-PATTERN cmd... (stdin from $STDIN_FILE when set)
expect_rc() {
  local want=$1 pat=$2 rc=0
  shift 2
  "$@" < "${STDIN_FILE:-/dev/null}" > "$TEST_DIR/out" 2> "$TEST_DIR/err" || rc=$?
  [ "$rc" -eq "$want" ] || fail "'$*' exited $rc, want $want: $(head -c 300 "$TEST_DIR/err")"
  [ -z "$pat" ] || grep -q -- "$pat" "$TEST_DIR/err" || fail "'$*' stderr lacks '$pat': $(head -c 300 "$TEST_DIR/err")"
}
# json_field JSON FIELD: the field, or <absent> (the JSON goes through stdin:
# a megabyte value is over the kernel's limit for one argument)
json_field() {
  printf '%s' "$1" | python3 -c "import json,sys; print(json.load(sys.stdin).get(sys.argv[1], '<absent>'))" "$2"
}
# b64_value JSON: the bytes of its value_b64, to stdout
b64_value() {
  printf '%s' "$1" | python3 -c "import base64,json,sys; sys.stdout.buffer.write(base64.b64decode(json.load(sys.stdin)['value_b64']))"
}
# The value limit as voidctl states it.
max=$("$VOID_BIN/voidctl" put --help | sed -n 's/.*a value (and cas EXPECTED) 0 to \([0-9]*\) bytes.*/\1/p')
[[ "$max" =~ ^[0-9]+$ ]] || fail "no value limit in put --help"

# Binary bytes, all 256 of them once (NUL, 0xff, a newline), then random ones
# up to the limit, ending without a newline.
python3 - "$TEST_DIR/bin" "$max" <<'PY'
import os, sys
data = bytes(range(256)) + os.urandom(max(0, int(sys.argv[2]) - 256))
data = data[: int(sys.argv[2])]
open(sys.argv[1], "wb").write(data[:-1] + b"z")
PY
[ "$(stat -c %s "$TEST_DIR/bin")" -eq "$max" ] || fail "test file size"
out=$(vctl put blob - < "$TEST_DIR/bin") || fail "put from stdin: $out"
[[ "$out" == ok* ]] || fail "put from stdin said '$out'"
# Plain get: the bytes, then one newline.
vctl get blob > "$TEST_DIR/got"
printf '\n' | cat "$TEST_DIR/bin" - | cmp - "$TEST_DIR/got" || fail "plain get is not the bytes plus a newline"
# --json: not UTF-8, so value_b64 and no value.
json=$(vctl get blob --json)
[ "$(json_field "$json" value)" = "<absent>" ] || fail "non-UTF-8 value in 'value': $json"
b64_value "$json" > "$TEST_DIR/b64"
cmp "$TEST_DIR/bin" "$TEST_DIR/b64" || fail "value_b64 does not decode to the bytes put"
expect_eq "$(json_field "$json" key)" blob "UTF-8 key stays in 'key'"
echo "ok: a $max-byte binary value round-trips through stdin, plain get and --json value_b64"

# UTF-8 from stdin stays a string in --json; an empty stdin is an empty value.
printf 'h\xc3\xa9llo\n' | vctl put text - > /dev/null
json=$(vctl get text --json)
expect_eq "$(json_field "$json" value)" "$(printf 'h\xc3\xa9llo\n')" "UTF-8 value in 'value'"
expect_eq "$(json_field "$json" value_b64)" "<absent>" "no value_b64 for UTF-8"
vctl put empty - < /dev/null > /dev/null
expect_eq "$(vctl get empty --json | python3 -c 'import json,sys; print(repr(json.load(sys.stdin)["value"]))')" "''" "empty stdin"
# A value that is the single character - goes through stdin.
printf -- - | vctl put dash - > /dev/null
expect_eq "$(vctl get dash)" "-" "a value of '-' through stdin"
echo "ok: UTF-8 and empty values from stdin"

# Over the limit on stdin: refused before anything is sent, naming the limit;
# also an endless stdin (read only to the limit + 1).
head -c $((max + 1)) /dev/zero > "$TEST_DIR/over"
STDIN_FILE=$TEST_DIR/over expect_rc 2 "the value on stdin is over the limit of $max bytes" vctl put blob -
STDIN_FILE=/dev/zero expect_rc 2 "over the limit of $max bytes" vctl put blob -
vctl get blob > "$TEST_DIR/got"
printf '\n' | cat "$TEST_DIR/bin" - | cmp - "$TEST_DIR/got" || fail "a refused put changed the value"
echo "ok: over-limit stdin refused with the limit named"

# A key that is not UTF-8: key_b64 in --json, for put's and get's answers.
bkey=$(printf 'k\xff\xfe')
vctl put "$bkey" v > /dev/null
json=$(vctl get "$bkey" --json)
expect_eq "$(json_field "$json" key)" "<absent>" "non-UTF-8 key in 'key'"
expect_eq "$(json_field "$json" key_b64)" "$(printf 'k\xff\xfe' | base64)" "key_b64"
expect_eq "$(json_field "$json" value)" v "value beside key_b64"
json=$(vctl del "$bkey" --json)
expect_eq "$(json_field "$json" key_b64)" "$(printf 'k\xff\xfe' | base64)" "key_b64 of del"
# cas failed: the current (binary) value, base64 in JSON, raw on stderr.
json=$(vctl cas blob wrong new --json || true)
expect_eq "$(json_field "$json" status)" cas_failed "cas status"
b64_value "$json" | cmp - "$TEST_DIR/bin" || fail "cas_failed value_b64"
echo "ok: non-UTF-8 keys and cas values base64-encoded in --json"
