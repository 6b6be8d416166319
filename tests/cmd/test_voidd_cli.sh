#!/usr/bin/env bash
# voidd's command line (getopt_long): --help prints usage, every option with
# its default and an example (exit 0); --version (exit 0); usage errors exit 2
# with the problem and a one-line hint, not the whole usage; --config FILE and
# --config=FILE, in any order with --check. Only --check runs, so no port is
# bound.
set -uo pipefail
bin=${VOID_BIN:-build/test/bin}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# expect STATUS STDERR-REGEX ARGS...: also checks that a usage error says it
# in at most two lines (the problem and the hint).
expect() {
    local want=$1 pattern=$2 err rc=0
    shift 2
    err=$("$bin/voidd" "$@" 2>&1 >/dev/null) || rc=$?
    if [ "$rc" != "$want" ] || ! grep -Eq -- "$pattern" <<<"$err"; then
        fail "voidd $* -> exit $rc (want $want, /$pattern/): $err"
    elif [ "$want" = 2 ] && { [ "$(wc -l <<<"$err")" -gt 2 ] || ! grep -q "try 'voidd --help'" <<<"$err"; }; then
        fail "voidd $*: a usage error should be one line and the hint: $err"
    else
        echo "ok: voidd $* -> exit $rc"
    fi
}

expect 2 "--config FILE is required"
expect 2 "--config FILE is required" --check
expect 2 "unknown option '--bogus'" --bogus
expect 2 "option '--config' needs a value" --config
expect 2 "unexpected argument 'extra'" --config "$tmp/node0.ini" extra
expect 2 "option '--check' takes no value" --check=yes --config "$tmp/node0.ini"

for i in 0 1 2 3; do
    "$bin/voidctl" keygen "$tmp/k" "n$i" >/dev/null || { echo "FAIL: voidctl keygen"; exit 1; }
done
{
    printf '[node]\nid = 0\nkey = k/n0.secret\ndata_dir = data0\n'
    for i in 0 1 2 3; do
        printf '[replica.%d]\naddress = 127.0.0.1:%d\npublic_key_file = k/n%d.public\n' "$i" $((7100 + i)) "$i"
    done
} >"$tmp/node0.ini"
for args in "--config $tmp/node0.ini --check" "--check --config $tmp/node0.ini" "--config=$tmp/node0.ini --check"; do
    rc=0
    out=$("$bin/voidd" $args 2>&1) || rc=$?
    [ "$rc" = 0 ] && grep -q "is valid (node 0 of 4 replicas)" <<<"$out" || fail "voidd $args -> exit $rc: $out"
done
expect 1 "bad configuration: .*nope.ini" --check --config "$tmp/nope.ini"

for h in --help -h; do
    rc=0
    out=$("$bin/voidd" $h) || rc=$?
    if [ "$rc" != 0 ] || ! grep -q '^usage: voidd --config FILE' <<<"$out" ||
        ! grep -q -- '--check .*default' <<<"$out" || ! grep -q -- '--config FILE .*default' <<<"$out" ||
        ! grep -q -- '--version' <<<"$out" || ! grep -q '^examples:' <<<"$out"; then
        fail "voidd $h (exit $rc) lacks usage, options with defaults or an example: $out"
    fi
done
rc=0
out=$("$bin/voidd" --version) || rc=$?
[ "$rc" = 0 ] && grep -Eq '^voidd [0-9]+\.[0-9]+\.[0-9]+$' <<<"$out" || fail "voidd --version (exit $rc): $out"
[ "$fails" = 0 ] && echo PASS
exit "$fails"
