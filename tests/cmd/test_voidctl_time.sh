#!/usr/bin/env bash
# `voidctl time` error handling: each bad input gives a clear message and the
# documented exit status (2 usage, 1 operation failed), without a server.
# The success path runs against real chronyd in tests/io/test_timekeeper_chrony.sh.
set -uo pipefail
VOIDCTL=${VOID_BIN:-build/test/bin}/voidctl
fails=0

# expect STATUS MESSAGE-REGEX ARGS...
expect() {
    local want=$1 pattern=$2
    shift 2
    local err rc
    err=$("$VOIDCTL" "$@" 2>&1 >/dev/null)
    rc=$?
    if [ "$rc" != "$want" ] || ! grep -Eq "$pattern" <<<"$err"; then
        echo "FAIL: voidctl $* -> exit $rc (want $want), stderr: $err"
        fails=$((fails + 1))
    else
        echo "ok: voidctl $* -> exit $rc: $err"
    fi
}

expect 2 "cannot parse server address 'host:99999'" time sources --server host:99999
expect 2 "cannot parse server address ':123'" time sources --server :123
expect 2 "at least one --server" time sources
expect 2 "bad or incomplete option '--samples'" time sources --server 127.0.0.1:123 --samples 0
expect 2 "unknown subcommand" time frobnicate
expect 1 "cannot resolve 'no-such-host.invalid:123'" time sources --server no-such-host.invalid:123

# A port on which nothing answers: every request times out (or is refused).
port=$((40000 + RANDOM % 20000))
expect 1 "no ntp server answered" time sources --server "127.0.0.1:$port" --samples 2 \
    --interval-ms 50 --timeout-ms 50

out=$("$VOIDCTL" time --help)
if ! grep -q "voidctl time sources --server HOST:PORT" <<<"$out"; then
    echo "FAIL: voidctl time --help does not show the usage"
    fails=$((fails + 1))
fi
[ "$fails" = 0 ] && echo PASS
exit "$fails"
