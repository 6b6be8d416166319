# Sourced by the membership benches (bench/member_remove.sh,
# bench/member_false_suspect.sh; not a bench itself): the start-up they
# share. The caller sets root (the source tree) and has checked its
# arguments; member_bench_init NAME HINT then checks the binaries, sources
# tests/cluster/lib.sh (free ports, every process stopped by pid on exit,
# logs kept on failure) and calls cluster_init NAME HINT;
# member_cluster_start N CLIENTS [scripts/cluster start options...] starts
# N voidd processes with [membership] auto_remove = 1.
member_bench_init() {
  export VOID_BIN=${VOID_BIN:-$root/build/bin}
  export VOID_SOURCE_DIR=$root
  [ -x "$VOID_BIN/voidd" ] || { echo "$1: no $VOID_BIN/voidd (build first)" >&2; exit 1; }
  source "$root/tests/cluster/lib.sh"
  cluster_init "$1" "$2"
}

member_cluster_start() {
  local n=$1 clients=$2
  shift 2
  cluster start --n "$n" --clients "$clients" --auto-remove "$@" > /dev/null
}

ms_now() { echo $(($(date +%s%N) / 1000000)); }

# Node $1's metric $2 (a whole line's name, labels included), a number.
metric_at() {
  curl -fsS --max-time 2 "http://127.0.0.1:$((TEST_PORT + 1000 + $1))/metrics" | sed -n "s/^$2 \([0-9]*\)$/\1/p"
}

# ms since the Unix epoch of the first line matching $1 in the logs of the
# nodes below $2, at or after ms $3; empty when none.
log_ms() {
  local files="" i
  for ((i = 0; i < $2; i++)); do files="$files $VOID_CLUSTER_DIR/logs/node$i.log"; done
  grep -h "$1" $files 2> /dev/null | cut -d' ' -f1 | python3 -c "
import sys, datetime
ts = sorted(int(datetime.datetime.strptime(t.strip(), '%Y-%m-%dT%H:%M:%S.%fZ').replace(tzinfo=datetime.timezone.utc).timestamp() * 1000) for t in sys.stdin if t.strip())
print(next((t for t in ts if t >= $3), ''))"
}
