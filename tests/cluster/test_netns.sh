# Partitions with real network namespaces: four nodes, each in a namespace
# of its own, joined by veth pairs to a bridge in a hub namespace where the
# client runs. Addresses 10.213.0.x exist only inside these namespaces.
# Taking a node's link down isolates it:
#   - one replica isolated: the other three keep committing;
#   - two of four isolated: no commit (no quorum) until healed, then progress.
# Everything created here is removed by the EXIT trap. Without the right to
# create namespaces the test is skipped (exit 77).
set -euo pipefail
: "${VOID_BIN:?}" "${VOID_SOURCE_DIR:?}"

tag="vn$$"
tag=${tag:0:8}
hub="${tag}h"
dir=$(mktemp -d /tmp/void-netns-XXXXXX)
pids=()

cleanup() {
  local rc=$?
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 1 40); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  for i in 0 1 2 3; do ip netns del "${tag}n$i" 2>/dev/null || true; done
  ip netns del "$hub" 2>/dev/null || true
  if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
    for l in "$dir"/node*.log; do [ -f "$l" ] && { echo "== $l" >&2; tail -n 15 "$l" >&2; }; done
  else
    rm -rf "$dir"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! ip netns add "$hub" 2>/dev/null; then
  echo "SKIP: cannot create network namespaces here (needs CAP_SYS_ADMIN)"
  exit 77
fi
ip -n "$hub" link add br0 type bridge
ip -n "$hub" addr add 10.213.0.254/24 dev br0
ip -n "$hub" link set br0 up
ip -n "$hub" link set lo up

members=""
for i in 0 1 2 3; do
  ns="${tag}n$i"
  ip netns add "$ns"
  ip link add "${tag}v$i" netns "$ns" type veth peer name "${tag}b$i" netns "$hub"
  ip -n "$ns" addr add "10.213.0.$((i + 1))/24" dev "${tag}v$i"
  ip -n "$ns" link set "${tag}v$i" up
  ip -n "$ns" link set lo up
  ip -n "$hub" link set "${tag}b$i" master br0
  ip -n "$hub" link set "${tag}b$i" up
  "$VOID_BIN/voidctl" keygen "$dir/keys" "node$i" > /dev/null
  members+="[replica.$i]
address = 10.213.0.$((i + 1)):7000
http = 10.213.0.$((i + 1)):8000
public_key_file = keys/node$i.public
"
done
"$VOID_BIN/voidctl" keygen "$dir/keys" client100 > /dev/null
members+="[client.100]
public_key_file = keys/client100.public
"
printf '[client]\nid = 100\nkey = keys/client100.secret\n%s' "$members" > "$dir/client.ini"
for i in 0 1 2 3; do
  printf '[node]\nid = %d\nkey = keys/node%d.secret\ndata_dir = data%d\n%s' "$i" "$i" "$i" "$members" \
    > "$dir/node$i.ini"
  ip netns exec "${tag}n$i" "$VOID_BIN/voidd" --config "$dir/node$i.ini" > "$dir/node$i.log" 2>&1 &
  pids+=($!)
done

vctl() { ip netns exec "$hub" "$VOID_BIN/voidctl" "$@" --cluster "$dir/client.ini"; }
link() { ip -n "$hub" link set "${tag}b$1" "$2"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

deadline=$((SECONDS + 30))
until vctl put warmup 1 --timeout 2 > /dev/null 2>&1; do
  [ $SECONDS -lt $deadline ] || fail "the cluster did not commit within 30s"
  sleep 0.3
done
echo "cluster up in namespaces"

# One replica isolated (a backup: the primary of view 0 is 0): progress.
link 3 down
for k in 1 2 3 4 5; do vctl put "one-down-$k" v --timeout 10 > /dev/null || fail "no commit with one replica isolated"; done
echo "ok: 3 of 4 keep committing with replica 3 isolated"
link 3 up

# Two isolated: safety, no commit.
link 2 down
link 3 down
if vctl put two-down v --timeout 3 > /dev/null 2>&1; then fail "committed without a quorum"; fi
echo "ok: no commit with 2 of 4 isolated"
# Heal: progress resumes (give the catch-up and any view change time).
link 2 up
link 3 up
start=$SECONDS
vctl put healed v --timeout 30 > /dev/null || fail "no progress after healing"
echo "ok: progress $((SECONDS - start))s after healing"
[ "$(vctl get one-down-5 --timeout 10)" = v ] || fail "lost a write"
[ "$(vctl get healed --timeout 10)" = v ] || fail "lost the healed write"
echo "ok"
