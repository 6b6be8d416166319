#!/usr/bin/env bash
# voidload's command line (getopt_long): a bad option or a missing value is
# named and exits 2 with a one-line hint; every numeric option is checked
# against its limit, accepted at the limit and refused one past it (also
# values that would wrap a 32-bit integer); options go before or after the
# mode and its argument; --help (also after a mode, `voidload lin --help`)
# shows usage, every option with its default and an example, exit 0;
# --version exits 0; a cluster directory without client configs fails with the
# file's name (exit 1), which is how a run whose options were accepted ends here.
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
    if [ "$rc" != "$want" ] || ! grep -Eq -- "$pattern" <<<"$err"; then
        echo "FAIL: voidload $* -> exit $rc (want $want), stderr: $err"
        fails=$((fails + 1))
    else
        echo "ok: voidload $* -> exit $rc"
    fi
}

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
missing="$dir/client-100.ini"
hint="try 'voidload --help'"

# Unknown options and missing values: named, exit 2, one-line hint.
expect 2 "unknown option '--bogus'" void "$dir" --bogus 1
expect 2 "$hint" void "$dir" --bogus 1
expect 2 "option '--clients' needs a value" void "$dir" --clients
expect 2 "unknown option '--no-verify-cache'" void "$dir" --no-verify-cache 1
expect 2 "no mode given" --clients 2
# --failover is etcd's, --timeline void's and etcd's; an unwritable timeline
# file is named (exit 1) before anything runs.
expect 2 "--failover applies to mode etcd only" void "$dir" --failover
expect 2 "--timeline does not apply to mode lin" lin "$dir" --timeline "$dir/tl"
expect 1 "--timeline $dir/no/such/tl: No such file" void "$dir" --timeline "$dir/no/such/tl"
expect 1 "$missing" void "$dir" --timeline "$dir/tl"
expect 2 "unknown mode 'put'" put "$dir"
expect 2 "void needs DIR" void
expect 2 "void takes only DIR" void "$dir" extra
expect 2 "does not apply to mode void" void "$dir" --keys 2
expect 2 "does not apply to mode lin" lin "$dir" --value 10

# Limits: accepted at the limit (the run then stops at the missing client
# config, exit 1), refused one past it with the limit named (exit 2).
expect 1 "$missing" void "$dir" --clients 128
expect 2 "--clients must be 1\.\.128 \(got 129\)" void "$dir" --clients 129
expect 1 "$missing" void "$dir" --clients 1
expect 2 "--clients must be 1\.\.128 \(got 0\)" void "$dir" --clients 0
expect 2 "--clients must be 1\.\.128 \(got 4294967297\)" void "$dir" --clients 4294967297
expect 2 "--clients must be a number" void "$dir" --clients -1
expect 2 "--clients must be a number" void "$dir" --clients 2x
expect 1 "$missing" void "$dir" --value 1048576
expect 2 "--value must be 0\.\.1048576 \(got 1048577\)" void "$dir" --value 1048577
expect 2 "--value must be 0\.\.1048576 \(got 4294967296\)" void "$dir" --value 4294967296
expect 1 "$missing" void "$dir" --value 0
expect 1 "$missing" lin "$dir" --keys 64
expect 2 "--keys must be 1\.\.64 \(got 65\)" lin "$dir" --keys 65
expect 2 "--keys must be 1\.\.64 \(got 0\)" lin "$dir" --keys 0
expect 1 "$missing" void "$dir" --seconds 86400
expect 2 "--seconds must be .* at most 86400 \(got '86401'\)" void "$dir" --seconds 86401
expect 2 "--seconds must be .* above 0" void "$dir" --seconds 0
expect 2 "--seconds must be" void "$dir" --seconds 1e300
expect 2 "--seconds must be" void "$dir" --seconds nan
expect 2 "--seconds must be" void "$dir" --seconds 5s
expect 1 "$missing" void "$dir" --count 4294967295 --progress 3600
expect 2 "--count must be 1\.\.4294967295 \(got 0\)" void "$dir" --count 0
expect 2 "--count must be 1\.\.4294967295 \(got 4294967296\)" void "$dir" --count 4294967296
expect 2 "--progress must be 1\.\.3600 \(got 3601\)" void "$dir" --progress 3601
expect 2 "--progress must be 1\.\.3600 \(got 0\)" void "$dir" --progress 0
expect 2 "--count does not apply to mode lin" lin "$dir" --count 5
expect 2 "--progress does not apply to mode lin" lin "$dir" --progress 5

# once (at-most-once for many certified clients): its own limits and
# options; the admin key is required and a missing one is named (exit 1).
expect 2 "mode once needs --admin-key" once "$dir"
expect 2 "--clients must be 1\.\.1000000 \(got 1000001\)" once "$dir" --admin-key k --clients 1000001
expect 2 "--wave must be 1\.\.1000 \(got 1001\)" once "$dir" --admin-key k --wave 1001
expect 2 "--wave applies to mode once only" void "$dir" --wave 5
expect 2 "mode once takes only" once "$dir" --admin-key k --seconds 5
expect 2 "--first-id \+ --clients must stay below" once "$dir" --admin-key k --first-id 4294967000 --clients 1000
expect 1 "--admin-key: .*$dir/none" once "$dir" --admin-key "$dir/none" --clients 1000000 --wave 1000

# GNU order: options before the mode, between mode and argument, or after.
expect 1 "$missing" --clients 2 --seconds 1 void "$dir"
expect 1 "$missing" void --clients 2 "$dir"
expect 1 "$missing" lin "$dir" --clients 2 --keys 3 --seconds 6

# --help: usage, every option with its default, an example; exit 0. After a
# mode, that mode's text (lin --help used to take --help for DIR).
for args in "--help" "lin --help" "void --help" "etcd --help" "--help lin" "-h"; do
    out=$("$VOIDLOAD" $args 2>&1)
    rc=$?
    if [ "$rc" != 0 ] || ! grep -q "^usage: voidload" <<<"$out" || ! grep -q "^example" <<<"$out" ||
        ! grep -q -- "--clients C .*(default 1)" <<<"$out"; then
        echo "FAIL: voidload $args (exit $rc) lacks usage, defaults or an example: $out"
        fails=$((fails + 1))
    fi
done
out=$("$VOIDLOAD" --help)
if ! grep -q -- "--value BYTES .*(default 100)" <<<"$out" || ! grep -q -- "--keys K .*(default 4)" <<<"$out" ||
    ! grep -q -- "--version" <<<"$out"; then
    echo "FAIL: voidload --help does not show every option: $out"
    fails=$((fails + 1))
fi
out=$("$VOIDLOAD" lin --help)
if ! grep -q "^usage: voidload lin DIR" <<<"$out" || grep -q -- "--value" <<<"$out"; then
    echo "FAIL: voidload lin --help is not lin's usage: $out"
    fails=$((fails + 1))
fi
out=$("$VOIDLOAD" once --help)
if ! grep -q "^usage: voidload once DIR --admin-key FILE" <<<"$out" || ! grep -q -- "--wave W .*(default 100)" <<<"$out" ||
    grep -q -- "--seconds" <<<"$out"; then
    echo "FAIL: voidload once --help is not once's usage: $out"
    fails=$((fails + 1))
fi
out=$("$VOIDLOAD" --version)
rc=$?
if [ "$rc" != 0 ] || ! grep -Eq '^voidload [0-9]+\.[0-9]+\.[0-9]+$' <<<"$out"; then
    echo "FAIL: voidload --version (exit $rc): $out"
    fails=$((fails + 1))
fi
[ "$fails" = 0 ] && echo PASS
exit "$fails"
