# voidctl against 4 real nodes: global options before the command, every
# key/value/name limit at the limit, one over and at 65,536 + 1 (which a
# 16-bit length would wrap to 1; the megabyte value through stdin), a read as of a future time refused, the
# `cas` verb always compare-and-set (a key named `put`), and the distinct
# exit statuses: 0 ok, 1 not found, 2 usage, 3 refused, 4 unreachable.
source "$(dirname "$0")/lib.sh"
cluster_init cli_limits 17720

cluster start --n 4 > /dev/null
V=$VOID_BIN/voidctl
rep() { head -c "$2" /dev/zero | tr '\0' "$1"; }
# expect_rc STATUS STDERR-PATTERN cmd...
expect_rc() {
  local want=$1 pat=$2 rc=0
  shift 2
  "$@" > "$TEST_DIR/out" 2> "$TEST_DIR/err" || rc=$?
  [ "$rc" -eq "$want" ] || fail "'${1} ${2} ${3:0:20}...' exited $rc, want $want: $(head -c 300 "$TEST_DIR/err")"
  [ -z "$pat" ] || grep -q -- "$pat" "$TEST_DIR/err" || fail "'${1} ${2} ${3:0:20}...' stderr lacks '$pat': $(head -c 300 "$TEST_DIR/err")"
}

# Global options before the command, as etcdctl takes them.
out=$("$V" --cluster "$CLIENT" --timeout 5 put gk gv) || fail "--cluster before put: $out"
[[ "$out" == ok* ]] || fail "put said '$out'"
expect_eq "$("$V" --cluster="$CLIENT" --json get gk | python3 -c 'import json,sys; print(json.load(sys.stdin)["value"])')" gv "--json before get"
expect_eq "$("$V" --version)" "$("$V" version)" "--version"
echo "ok: global options before and after the command"

# Keys: 4,096 bytes is the limit.
k4k=$(rep k 4096)
vctl put "$k4k" at-limit > /dev/null
expect_eq "$(vctl get "$k4k")" at-limit "4096-byte key"
expect_rc 2 "key is 4097 bytes, over the limit of 4096 bytes" vctl put "$(rep k 4097)" v
expect_rc 2 "key is 65537 bytes, over the limit of 4096 bytes" vctl put "$(rep k 65537)" wrapped
expect_rc 2 "key is 65537 bytes" vctl get "$(rep k 65537)"
expect_rc 2 "key is 65537 bytes" vctl del "$(rep k 65537)"
expect_rc 2 "key is 65537 bytes" vctl cas "$(rep k 65537)" - x --absent
expect_rc 2 "must not be empty" vctl put "" v
# A 65,537-byte key wrapped to 16 bits would have been stored as "k".
expect_rc 1 "not_found" vctl get k
echo "ok: key limits (4096 / 4097 / 65537)"

# Values: 1 MiB is the limit. A command-line argument stops at 128 KiB (the
# kernel's), so the megabyte goes through stdin; a 65,537-byte value (which
# a 16-bit length would wrap to 1) is an argument.
vctl put val "$(rep w 65537)" > /dev/null
expect_eq "$(vctl get val)" "$(rep w 65537)" "65537-byte value, not wrapped"
rep v 1048576 > "$TEST_DIR/v1m"
vctl put val - < "$TEST_DIR/v1m" > /dev/null
vctl get val | head -c 1048576 | cmp - "$TEST_DIR/v1m" || fail "1 MiB value"
rep v 1048577 > "$TEST_DIR/v1m1"
expect_rc 2 "value on stdin is over the limit of 1048576 bytes" sh -c "exec \"\$0\" put val - --cluster \"\$1\" < \"\$2\"" "$V" "$CLIENT" "$TEST_DIR/v1m1"
vctl get val | head -c 1048576 | cmp - "$TEST_DIR/v1m" || fail "value changed by the refused write"
echo "ok: value limits (65537 / 1 MiB / 1 MiB + 1)"

# File names: the key is "file:" + NAME, so a name is at most 4,091 bytes.
echo data > "$TEST_DIR/f"
vctl put --file "$TEST_DIR/f" "$(rep n 4091)" > /dev/null
expect_eq "$(vctl get --file "$(rep n 4091)" - --quiet)" data "4091-byte file name"
expect_rc 2 "name is 4092 bytes; a name is 1 to 4091 bytes" vctl put --file "$TEST_DIR/f" "$(rep n 4092)"
expect_rc 2 "name is 65537 bytes" vctl put --file "$TEST_DIR/f" "$(rep n 65537)"
expect_rc 2 "name is 4092 bytes" vctl get --file "$(rep n 4092)" "$TEST_DIR/g"
echo "ok: file name limits (4091 / 4092 / 65537)"

# --as-of: the past answers, the future is refused (exit 3), not answered
# with the current value.
v1=$(vctl put clock one); v1=${v1#ok }
vctl put clock two > /dev/null
expect_eq "$(vctl get clock --as-of "$v1")" one "as-of the first version"
future=$(( $(date +%s%N) + 3600 * 1000000000 ))
expect_rc 3 "^future: that time is after" vctl get clock --as-of "$future"
json=$(vctl get clock --as-of "$future" --json || true)
python3 -c "import json,sys; assert json.loads(sys.argv[1])['status']=='future'" "$json" || fail "future json: $json"
# The replicas keep [state] retention_s (1 h) of history: 1970 is before it.
expect_rc 3 "^too_old: that time is before the history" vctl get clock --as-of 1
echo "ok: --as-of in the future refused"

# cas is compare-and-set whatever the key: a key named "put".
vctl cas put - x --absent > /dev/null
vctl cas put x y > /dev/null
expect_eq "$(vctl get put)" y "cas on the key 'put'"
expect_rc 3 "cas failed: current value is 'y'" vctl cas put x z
expect_rc 1 "not_found" vctl get never-written
expect_rc 2 "does not apply" vctl put k v --as-of 5
expect_rc 2 "unknown option '--frobnicate'" vctl get k --frobnicate
echo "ok: cas verb, exit 1 / 2 / 3"

# status: 0 with every replica up; 4 (and the replica named unreachable)
# when one is down, as for a timeout.
vctl status > /dev/null || fail "status with all replicas up exited $?"
cluster kill 3
expect_rc 4 "1 of 4 replicas did not answer" vctl status --timeout 1
grep -q "^3 *unreachable" "$TEST_DIR/out" || fail "status output: $(cat "$TEST_DIR/out")"
cluster kill 2
expect_rc 4 "timed out" vctl put k v --timeout 1
echo "ok: exit 4 for an unreachable replica and a timeout"
