#!/usr/bin/env bash
# voidsim's command line (getopt_long): every numeric option is checked against
# its limit, accepted at the limit and refused one past it with the limit
# named (--requests 4294967295 used to reach a division by zero, SIGFPE);
# usage errors exit 2 with the problem and a one-line hint; --help prints
# usage, options with defaults and examples (exit 0); --version (exit 0).
# A value accepted at its limit is shown by the run stopping later, at the
# trace file that cannot be written (or at --trace in a campaign), with no
# complaint about the value: no simulation runs here, so the test is quick.
set -uo pipefail
bin=${VOID_BIN:-build/test/bin}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
notrace="$tmp/no-such-dir/t"

# expect STATUS STDERR-REGEX ARGS...
expect() {
    local want=$1 pattern=$2 err rc=0
    shift 2
    err=$(timeout 60 "$bin/voidsim" "$@" 2>&1 >/dev/null) || rc=$?
    if [ "$rc" != "$want" ] || ! grep -Eq -- "$pattern" <<<"$err"; then
        fail "voidsim $* -> exit $rc (want $want, /$pattern/): $(head -c 300 <<<"$err")"
    elif [ "$want" = 2 ] && [ "$(wc -l <<<"$err")" -gt 2 ]; then
        fail "voidsim $*: a usage error should be one line and the hint: $err"
    else
        echo "ok: voidsim $* -> exit $rc"
    fi
}
# accepted ARGS...: the options pass; the run stops at the unwritable trace.
accepted() { expect 2 "cannot write $notrace" --seed 1 "$@" --trace "$notrace"; }
# accepted_campaign ARGS...: the same for campaign options.
accepted_campaign() { expect 2 "--trace needs a single --seed" --seeds 1..2 "$@" --trace "$notrace"; }

accepted --requests 1000000
expect 2 "--requests must be 0\.\.1000000 \(got 1000001\)" --seed 1 --requests 1000001
expect 2 "--requests must be 0\.\.1000000 \(got 4294967295\)" --seed 1 --requests 4294967295
expect 2 "--requests must be 0\.\.1000000 \(got 4294967296\)" --seed 1 --requests 4294967296
accepted --requests 0
accepted --n 16
expect 2 "--n must be 4\.\.16 \(got 17\)" --seed 1 --n 17
accepted --n 4
expect 2 "--n must be 4\.\.16 \(got 3\)" --seed 1 --n 3
accepted --n 5
accepted --n 15
expect 2 "--n must be 4\.\.16 \(got 4294967300\)" --seed 1 --n 4294967300
accepted --clients 8
expect 2 "--clients must be 1\.\.8 \(got 9\)" --seed 1 --clients 9
expect 2 "--clients must be 1\.\.8 \(got 0\)" --seed 1 --clients 0
accepted --pipeline 64
expect 2 "--pipeline must be 0\.\.64 \(got 65\)" --seed 1 --pipeline 65
accepted --n 16 --byzantine 5
expect 2 "--byzantine must be 0\.\.5 \(got 6\)" --seed 1 --n 16 --byzantine 6
accepted --n 7 --byzantine 2
expect 2 "--byzantine must be 0\.\.2 with --n 7" --seed 1 --n 7 --byzantine 3
expect 2 "--byzantine 2 needs --n 7 or more" --seed 1 --byzantine 2
expect 2 "--no-verify is for honest runs only" --seed 1 --n 4 --byzantine 1 --no-verify
accepted --seed 18446744073709551615
expect 2 "--seed must be 0\.\.18446744073709551615 \(got 18446744073709551616\)" --seed 18446744073709551616
expect 2 "--seed must be a number" --seed -1
accepted_campaign --jobs 64
expect 2 "--jobs must be 1\.\.64 \(got 65\)" --seeds 1..2 --jobs 65
expect 2 "--jobs must be 1\.\.64 \(got 0\)" --seeds 1..2 --jobs 0
accepted_campaign --seeds 1..18446744073709551615
expect 2 "--seeds covers at most" --seeds 0..18446744073709551615
expect 2 "the first seed is above the last" --seeds 5..3
expect 2 "--seeds must be A\.\.B" --seeds 5

# Usage errors: named, with the hint.
expect 2 "unknown option '--bogus'" --seed 1 --bogus
expect 2 "try 'voidsim --help'" --seed 1 --bogus
expect 2 "option '--seed' needs a value" --seed
expect 2 "option '--quiet' takes no value" --seed 1 --quiet=yes
expect 2 "unexpected argument 'extra'" --seed 1 extra
expect 2 "give --seed N or --seeds A\.\.B"

# A seed's own Byzantine replicas under --no-verify: said plainly.
expect 2 "seed 1 draws Byzantine replicas \(1\), and they need signature verification" --seed 1 --n 4 --no-verify --requests 1

for h in --help -h; do
    rc=0
    out=$("$bin/voidsim" $h) || rc=$?
    if [ "$rc" != 0 ] || ! grep -q '^usage: voidsim --seed N' <<<"$out" || ! grep -q '^examples:' <<<"$out" ||
        ! grep -q -- '--jobs J .*(default 1)' <<<"$out" || ! grep -q -- '--requests R .*0\.\.1000000' <<<"$out" ||
        ! grep -q -- '--version' <<<"$out"; then
        fail "voidsim $h (exit $rc) lacks usage, options with defaults or examples: $out"
    fi
done
rc=0
out=$("$bin/voidsim" --version) || rc=$?
[ "$rc" = 0 ] && grep -Eq '^voidsim [0-9]+\.[0-9]+\.[0-9]+$' <<<"$out" || fail "voidsim --version (exit $rc): $out"
[ "$fails" = 0 ] && echo PASS
exit "$fails"
