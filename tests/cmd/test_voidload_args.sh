#!/usr/bin/env bash
# voidload's command line: a bad option or a missing value is named and
# exits 2 with the usage; --help shows every option and exits 0; a cluster
# directory without client configs fails with the file's name (exit 1).
set -uo pipefail
VOIDLOAD=${VOID_BIN:-build/test/bin}/voidload
fails=0

# expect STATUS MESSAGE-REGEX ARGS...
expect() {
    local want=$1 pattern=$2
    shift 2
    local err rc
    err=$("$VOIDLOAD" "$@" 2>&1 >/dev/null)
    rc=$?
    if [ "$rc" != "$want" ] || ! grep -Eq "$pattern" <<<"$err"; then
        echo "FAIL: voidload $* -> exit $rc (want $want), stderr: $err"
        fails=$((fails + 1))
    else
        echo "ok: voidload $* -> exit $rc"
    fi
}

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
expect 2 "unknown option '--bogus'" void "$dir" --bogus 1
expect 2 "option '--clients' needs a value" void "$dir" --clients
expect 2 "usage: voidload" void "$dir" --clients 0
expect 2 "unknown option '--no-verify-cache'" void "$dir" --no-verify-cache 1
expect 1 "$dir/client-100.ini" void "$dir" --clients 2
out=$("$VOIDLOAD" --help)
rc=$?
if [ "$rc" != 0 ] || ! grep -q -- "--value BYTES" <<<"$out" || ! grep -q -- "--keys K" <<<"$out"; then
    echo "FAIL: voidload --help (exit $rc) does not show every option"
    fails=$((fails + 1))
fi
[ "$fails" = 0 ] && echo PASS
exit "$fails"
