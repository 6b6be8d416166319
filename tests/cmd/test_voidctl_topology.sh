#!/usr/bin/env bash
# voidctl topology: the datacenter/rack/host tree of a cluster file, in text
# and JSON. Racks are named within their datacenter (r1 in dc1 and r1 in dc2
# are two racks), replicas with the same three names share a host, and a
# replica without a location prints as "-". No process is started.
set -uo pipefail
V=${VOID_BIN:-build/test/bin}/voidctl
T=$(mktemp -d /tmp/void-test-topology-XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }

for i in 1 2 3 4 5; do
  "$V" keygen "$T" "node$i" > /dev/null || bad "keygen node$i"
done
loc=("dc1 r1 h1" "dc1 r1 h1" "dc1 r2 h2" "dc2 r1 h3" "")
{
  for i in 1 2 3 4 5; do
    echo "[replica.$i]"
    echo "address = 127.0.0.1:$((21000 + i))"
    echo "public_key_file = $T/node$i.public"
    read -r dc rack host <<< "${loc[$((i - 1))]}"
    if [ -n "$dc" ]; then
      printf 'datacenter = %s\nrack = %s\nhost = %s\n' "$dc" "$rack" "$host"
    fi
  done
} > "$T/cluster.ini"

out=$("$V" topology --cluster "$T/cluster.ini" 2>&1) || bad "topology exited $?: $out"
echo "$out"
want="dc1
  r1
    h1: replica 1 (127.0.0.1:21001), 2 (127.0.0.1:21002)
  r2
    h2: replica 3 (127.0.0.1:21003)
dc2
  r1
    h3: replica 4 (127.0.0.1:21004)
-
  -
    -: replica 5 (127.0.0.1:21005)"
[ "$out" = "$want" ] || bad "text tree differs from the expected one"

json=$("$V" topology --json --cluster "$T/cluster.ini") || bad "topology --json exited $?"
python3 - "$json" <<'PY' || bad "JSON tree wrong: $json"
import json, sys
j = json.loads(sys.argv[1])
dcs = j["datacenters"]
assert [d["name"] for d in dcs] == ["dc1", "dc2", ""], dcs
assert [r["name"] for r in dcs[0]["racks"]] == ["r1", "r2"]
assert dcs[0]["racks"][0]["hosts"] == [{"name": "h1", "replicas": [1, 2]}]
assert dcs[1]["racks"][0]["hosts"][0]["replicas"] == [4]
PY

"$V" topology --help | grep -q "^usage: voidctl topology" || bad "--help has no usage line"
err=$("$V" topology --cluster "$T/missing.ini" 2>&1 >/dev/null); rc=$?
[ $rc -eq 1 ] && grep -q "bad cluster file" <<< "$err" || bad "missing file: exit $rc, $err"
err=$("$V" topology --as-of 5 --cluster "$T/cluster.ini" 2>&1 >/dev/null); rc=$?
[ $rc -eq 2 ] || bad "--as-of accepted (exit $rc)"

[ $fails -eq 0 ] && echo "test_voidctl_topology: ok"
exit $((fails > 0))
