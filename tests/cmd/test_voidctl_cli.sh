#!/usr/bin/env bash
# voidctl's command line, without a cluster: every command's --help exits 0
# and prints usage, options and an example; usage errors exit 2 with one
# clear line; --version; global options before the command reach it
# (etcdctl style, getopt_long); over-long keys and values are refused by
# name and limit before any cluster file is read.
set -uo pipefail
V=${VOID_BIN:-build/test/bin}/voidctl
fails=0
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }

for cmd in "" put get del cas status members member store keygen time version; do
  out=$("$V" $cmd --help 2>&1); rc=$?
  [ $rc -eq 0 ] || bad "voidctl $cmd --help exited $rc"
  grep -q "^usage: voidctl" <<< "$out" || bad "voidctl $cmd --help: no usage line"
  grep -q "^example:" <<< "$out" || bad "voidctl $cmd --help: no example"
  [ "$cmd" = version ] || grep -qi "options:\|^  --" <<< "$out" || bad "voidctl $cmd --help: no options"
done
"$V" --help | grep -q "^  4  unreachable" || bad "voidctl --help lacks the exit statuses"
[ "$("$V" --version)" = "$("$V" version)" ] || bad "--version differs from version"

# expect STATUS STDERR-REGEX ARGS...
expect() {
  local want=$1 pattern=$2 err rc
  shift 2
  err=$("$V" "$@" 2>&1 > /dev/null); rc=$?
  if [ $rc -ne "$want" ] || ! grep -Eq -- "$pattern" <<< "$err"; then
    bad "voidctl ${*:0:3}... -> exit $rc (want $want): $err"
  else
    echo "ok: exit $rc: $(head -n 1 <<< "$err" | cut -c 1-100)"
  fi
}
rep() { head -c "$2" /dev/zero | tr '\0' "$1"; }
expect 2 "usage: voidctl" # no command
expect 2 "unknown command 'frob'" frob
expect 2 "unknown option '--frob'" put k v --frob
expect 2 "unknown option '--frob'" --frob put k v
expect 2 "option '--cluster' needs a value" put k v --cluster
expect 2 "wants 2 arguments, got 1" put k
expect 2 "too many arguments" put a b c d e
expect 2 "--timeout wants a number of seconds above 0" put k v --timeout nan
expect 2 "--timeout wants a number" put k v --timeout 1e300
expect 2 "--as-of does not apply" put k v --as-of 5
expect 2 "is not an HLC timestamp" get k --as-of yesterday
expect 2 "key is 65537 bytes, over the limit of 4096 bytes" put "$(rep k 65537)" v --cluster /nonexistent
expect 2 "key is 4097 bytes, over the limit of 4096 bytes" put --key-hex "$(rep 0 8194)" v --cluster /nonexistent
expect 2 "--key-hex wants an even" put --key-hex abc v --cluster /nonexistent
expect 2 "name is 4092 bytes; a name is 1 to 4091 bytes" put --file /etc/hostname "$(rep n 4092)"
expect 2 "no cluster file" put k v
# Global options before the command reach it (today's error is the cluster
# file's, not "unknown command").
expect 1 "bad cluster file: /nonexistent" --cluster /nonexistent put k v
expect 1 "bad cluster file: /nonexistent" --timeout 2 --cluster=/nonexistent --json get k
expect 1 "bad cluster file: /nonexistent" put k v --cluster /nonexistent
expect 2 "wants DIR NAME" keygen onlydir
expect 2 "give the store: --store DIR" store stat
expect 2 "unknown verb 'frob'" store frob --store /tmp
expect 2 "wants 3 arguments" cas put x
[ $fails -eq 0 ] && echo PASS || { echo "$fails failure(s)"; exit 1; }
