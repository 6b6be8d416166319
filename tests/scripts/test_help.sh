#!/usr/bin/env bash
# Every script (scripts/*, bench/*.sh) answers --help and -h with exit 0,
# a usage line, its options and an example, printed as text (no raw '#'
# comment lines, no lines of the script itself), and runs nothing else:
# every tool a script could start is a stub on PATH that records the call.
set -euo pipefail
src=${VOID_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
T=$(mktemp -d /tmp/void-test-help-XXXXXX)
trap 'rm -rf "$T"' EXIT
mkdir "$T/stubs"
for t in apt-get dpkg-query sudo cmake ctest make clang cc etcd etcdctl chronyd restic casync \
         python3 openssl sha256sum curl hyperfine voidd voidctl voidsim voidload; do
  printf '#!/bin/sh\necho "%s $*" >> "%s/ran"\nexit 1\n' "$t" "$T" > "$T/stubs/$t"
  chmod +x "$T/stubs/$t"
done
# Should a script not handle --help, what it runs instead stays small.
export PATH=$T/stubs:$PATH VOID_BIN=$T/stubs CAS_INGEST_MB=1 SIZE_MB=1 SECS=1 ROUNDS=1 \
  CAS_DEDUP_ROUNDS=1 CAS_INGEST_ROUNDS=1 LEVELS=1 VOID_CLUSTER_DIR=$T/cluster

failures=()
checked=0
for f in "$src"/scripts/* "$src"/bench/*.sh; do
  [ -f "$f" ] || continue
  name=${f#"$src"/}
  for flag in --help -h; do
    checked=$((checked + 1))
    : > "$T/ran"
    rc=0
    (cd "$T" && timeout -k 2 20 bash "$f" "$flag") > "$T/out" 2> "$T/err" || rc=$?
    problems=()
    [ "$rc" = 0 ] || problems+=("exit $rc")
    grep -q '^Usage: ' "$T/out" || problems+=("no 'Usage: ' line")
    grep -q '^Options' "$T/out" || problems+=("no 'Options' section")
    grep -q '^Example' "$T/out" || problems+=("no example")
    grep -q -- "-h, --help" "$T/out" || problems+=("does not list -h, --help")
    ! grep -qE '^#|set -euo|^[a-z_]+=\$\{' "$T/out" || problems+=("prints raw script lines")
    [ ! -s "$T/err" ] || problems+=("stderr: $(head -c 200 "$T/err")")
    [ ! -s "$T/ran" ] || problems+=("ran $(tr '\n' ';' < "$T/ran")")
    if [ ${#problems[@]} -gt 0 ]; then
      failures+=("$name $flag: $(IFS=,; echo "${problems[*]}")")
    fi
  done
done
[ "$checked" -ge 20 ] || { echo "FAIL: only $checked help calls; scripts not found under $src" >&2; exit 1; }
if [ ${#failures[@]} -gt 0 ]; then
  printf 'FAIL: %s\n' "${failures[@]}" >&2
  exit 1
fi
echo "test_help: ok ($checked calls)"
