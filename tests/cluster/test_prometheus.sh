# Prometheus against a live 4-node cluster (docs/operations.md, section 4):
# every node's /metrics passes `promtool check metrics` with no warning at
# all (HELP and TYPE on every family, base units, _total counters); the
# histograms are there and count what happened; then `scripts/cluster start
# --prometheus` runs Debian's prometheus on loopback (its own port and data
# directory, stopped by pid), its config and rules pass promtool, and
# void_commits_total, a latency histogram and a recording rule are read back
# through its HTTP API.
source "$(dirname "$0")/lib.sh"
command -v promtool > /dev/null && command -v prometheus > /dev/null ||
  fail "prometheus and promtool are not installed (./scripts/deps installs Debian's prometheus)"
cluster_init prometheus 17900

# A free loopback port below the ephemeral range for prometheus.
prom_port=$(python3 - <<'PY'
import random, socket
for _ in range(200):
    p = random.randrange(10000, 19999)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    print(p)
    break
PY
)
[ -n "$prom_port" ] || fail "no free port for prometheus"

cluster start --n 4 > /dev/null
for k in $(seq 1 5); do vctl put "key$k" "value$k" > /dev/null; done

metrics() { curl -fsS --max-time 5 "http://127.0.0.1:$((TEST_PORT + 1000 + $1))/metrics"; }
# Value of a sample (exact series text) in node $1's metrics.
sample() { metrics "$1" | awk -v s="$2" '$1 == s { print $2 }'; }

# 1. promtool: no error, no warning (it prints nothing then), on every node.
for i in 0 1 2 3; do
  metrics "$i" > "$TEST_DIR/metrics$i.txt"
  if ! out=$(promtool check metrics < "$TEST_DIR/metrics$i.txt" 2>&1) || [ -n "$out" ]; then
    fail "promtool check metrics on node $i: ${out:-exit status non-zero}"
  fi
  # Every family has HELP and TYPE, and each family's samples are together.
  python3 - "$TEST_DIR/metrics$i.txt" <<'PY' || fail "node $i: a family without HELP/TYPE or split in two"
import re, sys
typed, helped, seen, current = {}, set(), set(), None
for line in open(sys.argv[1]):
    words = line.split()
    if line.startswith("# HELP "):
        helped.add(words[2])
    elif line.startswith("# TYPE "):
        assert words[2] not in typed, "TYPE twice: " + words[2]
        typed[words[2]] = words[3]
    else:
        name = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0)
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        family = base if typed.get(base) == "histogram" else name
        assert family in typed and family in helped, "no HELP/TYPE: " + name
        if family != current:
            assert family not in seen, "split family: " + family
            seen.add(family)
            current = family
PY
done

# 2. The histograms count what happened: 6 requests (5 puts and the wait
#    write) executed on every replica; each has a commit latency per batch.
for i in 0 1 2 3; do
  batches=$(sample "$i" 'void_commits_total{unit="batch"}')
  count=$(sample "$i" void_commit_latency_seconds_count)
  inf=$(sample "$i" 'void_commit_latency_seconds_bucket{le="+Inf"}')
  [ "${batches:-0}" -ge 6 ] || fail "node $i: $batches batches committed, want >= 6"
  [ "${count:-0}" -ge 1 ] && [ "$count" -le "$batches" ] ||
    fail "node $i: commit latency count $count for $batches batches"
  expect_eq "$inf" "$count" "node $i: +Inf bucket equals _count"
  [ "$(sample "$i" void_persist_duration_seconds_count)" -ge 1 ] || fail "node $i: no persist timed"
done
requests=0
for i in 0 1 2 3; do requests=$((requests + $(sample "$i" void_request_latency_seconds_count))); done
[ "$requests" -ge 6 ] || fail "request latency counted $requests requests in all, want >= 6"

# 3. A real Prometheus, through scripts/cluster; its files pass promtool.
out=$(cluster start --prometheus --prometheus-port "$prom_port" --scrape-interval 1s 2>&1)
[[ $out == *"prometheus at http://127.0.0.1:$prom_port"* ]] || fail "start --prometheus said: $out"
promtool check config "$VOID_CLUSTER_DIR/prometheus/prometheus.yml" > /dev/null ||
  fail "promtool check config"
promtool check rules "$VOID_CLUSTER_DIR/prometheus/rules.yml" > /dev/null ||
  fail "promtool check rules"
prom_pid=$(cat "$VOID_CLUSTER_DIR/run/prometheus.pid")
# Query $1 (PromQL): prints the number of series and the first value; fails
# while there is no series with a number.
query() {
  curl -fsS --max-time 5 "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode "query=$1" |
    python3 -c '
import json, sys
r = json.load(sys.stdin)["data"]["result"]
vals = [float(x["value"][1]) for x in r if x["value"][1] != "NaN"]
sys.exit(1) if not vals else print(len(r), vals[0])'
}
# Writes go on until prometheus has scraped commits both before and after
# some of them, so that rate() over its samples sees them.
p99_q='histogram_quantile(0.99, sum by (le) (rate(void_commit_latency_seconds_bucket[30s])))'
deadline=$((SECONDS + 30))
until query "$p99_q" > /dev/null 2>&1; do
  [ $SECONDS -lt $deadline ] || fail "prometheus never answered: $p99_q"
  vctl put more v > /dev/null
done
wait_for "query 'void_commits_total{unit=\"request\"}' | grep -q '^4 '" 20
read -r series commits <<< "$(query 'void_commits_total{unit="request"}')"
expect_eq "$series" 4 "void_commits_total{unit=request} series (one per replica)"
[ "${commits%.*}" -ge 6 ] || fail "prometheus read void_commits_total = $commits, want >= 6"
read -r _ p99 <<< "$(query "$p99_q")"
python3 -c "import sys; v = float(sys.argv[1]); sys.exit(0 if 0 < v <= 10 else 1)" "$p99" ||
  fail "p99 commit latency from prometheus: $p99"
read -r _ count <<< "$(query 'sum(void_request_latency_seconds_count)')"
[ "${count%.*}" -ge 6 ] || fail "prometheus read request latency count $count"
# The recording rules evaluate: throughput over the cluster.
wait_for "query 'job:void_requests:rate1m'" 20
# Every target is up and was scraped without error.
curl -fsS "http://127.0.0.1:$prom_port/api/v1/targets" | python3 -c '
import json, sys
t = json.load(sys.stdin)["data"]["activeTargets"]
assert len(t) == 4 and all(x["health"] == "up" and not x["lastError"] for x in t), t' ||
  fail "a target is down or failed its scrape"

# 4. stop stops prometheus by its pid.
cluster stop > /dev/null
for _ in $(seq 1 50); do [ -d "/proc/$prom_pid" ] || break; sleep 0.1; done
[ ! -d "/proc/$prom_pid" ] || { kill -KILL "$prom_pid"; fail "prometheus (pid $prom_pid) still ran after stop"; }
echo "ok: promtool clean on 4 nodes, prometheus read commits ($commits) and p99 commit latency ($p99 s)"
