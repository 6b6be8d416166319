#!/usr/bin/env bash
# bench/ntp_offset.sh: BENCH ntp_offset and ntp_poll_cpu, the timekeeper's NTP
# client against chrony's, on the same three local chronyd servers in the
# same run.
#
# The servers serve this machine's own clock (no shift), so the true offset
# is 0 and the offset each client measures is its measurement error.
#   ntp_offset:   median |offset| of `voidctl time sources` (8 samples per
#                 server) vs `chronyd -Q` (iburst), in alternating rounds;
#                 the median |ours - chronyd| per round is printed too.
#   ntp_poll_cpu: CPU time (user + system, from wait4) per poll of a client
#                 polling the three servers continuously: `voidctl time watch`
#                 every 16 ms vs `chronyd -x` with minpoll/maxpoll -6
#                 (15.6 ms); startup is cancelled by subtracting a 0.5 s run
#                 from a 4.5 s run. chronyd's polls are counted from its
#                 measurements log, ours from the client's counters.
# Ratios are costs: ours / peer, lower is better. The servers listen on ports
# below the kernel's ephemeral range (bench/lib/ports.sh) and must all answer
# an NTP query before the measurement starts, or the bench fails naming them.
#
# Usage: [ROUNDS=5] bash bench/ntp_offset.sh
#
# Options (environment):
#   ROUNDS       offset rounds (default 5)
#   VOID_BIN     directory with voidctl (default build/bin)
#   -h, --help   this help
#
# Example: ROUNDS=3 VOID_BIN=build/bin bash bench/ntp_offset.sh
set -euo pipefail
source "$(dirname "$0")/lib/args.sh"
bench_args ntp_offset "$@" # -h/--help, no other argument; root and bin
VOIDCTL=${VOID_BIN:-build/bin}/voidctl
ROUNDS=${ROUNDS:-5}

tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# UDP ports below the ephemeral range, free on the three server addresses.
source "$root/bench/lib/ports.sh"
BENCH_NAME=ntp_offset
base=$(PORT_CHECK="udp:127.0.0.21 udp:127.0.0.22 udp:127.0.0.23" free_port_base 1 2 3)
user=$(id -un)
for i in 1 2 3; do
    cat >"$tmp/server$i.conf" <<EOF
port $((base + i))
bindaddress 127.0.0.2$i
allow 127.0.0.0/8
local stratum 1
cmdport 0
pidfile $tmp/server$i.pid
driftfile $tmp/server$i.drift
EOF
    chronyd -x -d -u "$user" -f "$tmp/server$i.conf" >"$tmp/server$i.log" 2>&1 &
    pids+=($!)
done
# One NTP client request (mode 3) to ADDR PORT; true when a server reply
# (mode 4) comes back within 1 s.
ntp_answers() {
    python3 - "$1" "$2" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1.0)
s.sendto(b"\x23" + b"\0" * 47, (sys.argv[1], int(sys.argv[2])))
d, _ = s.recvfrom(512)
sys.exit(0 if len(d) >= 48 and d[0] & 7 == 4 else 1)
PY
}
for i in 1 2 3; do
    wait_healthy "chronyd server $i" "${HEALTH_S:-15}" "${pids[i - 1]}" "$tmp/server$i.log" \
        ntp_answers "127.0.0.2$i" "$((base + i))"
done

python3 - "$VOIDCTL" "$tmp" "$base" "$ROUNDS" "$user" "${pids[@]}" <<'EOF'
import json, os, re, signal, socket, statistics, subprocess, sys, time

voidctl, tmp, base, rounds, user = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
server_pids = [int(p) for p in sys.argv[6:9]]
servers = ["127.0.0.2%d:%d" % (i, base + i) for i in (1, 2, 3)]
server_args = [a for s in servers for a in ("--server", s)]

def check_servers():
    """Every chronyd server alive and answering, or the bench fails now: a
    measurement against two of three servers would not be the one reported."""
    for i, pid in zip((1, 2, 3), server_pids):
        try:
            with open("/proc/%d/stat" % pid) as f:
                state = f.read().rsplit(") ", 1)[1].split()[0]
        except (OSError, IndexError):
            state = "gone"
        if state in ("Z", "gone"):
            sys.exit("ntp_offset: chronyd server %d (pid %d) is not running; see %s/server%d.log"
                     % (i, pid, tmp, i))
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1.0)
        try:
            s.sendto(b"\x23" + b"\0" * 47, ("127.0.0.2%d" % i, base + i))
            s.recvfrom(512)
        except OSError:
            sys.exit("ntp_offset: chronyd server %d (pid %d) does not answer on 127.0.0.2%d:%d"
                     % (i, pid, i, base + i))
        finally:
            s.close()

def ours_offset():
    out = subprocess.run([voidctl, "time", "sources", "--json", "--samples", "8",
                          "--interval-ms", "50"] + server_args,
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)["combined_offset_ns"] / 1000.0

def chrony_offset():
    conf = os.path.join(tmp, "q.conf")
    with open(conf, "w") as f:
        for i in (1, 2, 3):
            f.write("server 127.0.0.2%d port %d iburst\n" % (i, base + i))
    out = subprocess.run(["chronyd", "-Q", "-t", "20", "-u", user, "-f", conf],
                         capture_output=True, text=True)
    m = re.search(r"System clock wrong by (-?[0-9.]+) seconds", out.stdout + out.stderr)
    if not m:
        sys.exit("chronyd -Q did not report an offset:\n" + out.stderr)
    return float(m.group(1)) * 1e6

ours, peer, diff = [], [], []
for r in range(rounds):
    check_servers()
    if r % 2 == 0:
        o = ours_offset(); p = chrony_offset()
    else:
        p = chrony_offset(); o = ours_offset()
    ours.append(abs(o)); peer.append(abs(p)); diff.append(abs(o - p))
    print("round %d: ours %+.1f us, chronyd -Q %+.1f us, |difference| %.1f us" % (r, o, p, abs(o - p)))
print("ntp_offset: median |ours - chronyd -Q| = %.1f us over %d rounds" % (statistics.median(diff), rounds))

def cpu_of(argv, seconds):
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    if seconds is not None:
        time.sleep(seconds)
        os.kill(p.pid, signal.SIGTERM)
    out = p.stdout.read()
    _, _, ru = os.wait4(p.pid, 0)
    return ru.ru_utime + ru.ru_stime, out

def ours_cpu(ms):
    cpu, out = cpu_of([voidctl, "time", "watch", "--interval-ms", "16", "--timeout-ms", "15",
                       "--report-ms", "100000", "--duration-ms", str(ms)] + server_args, None)
    last = json.loads(out.strip().splitlines()[-1])
    return cpu, sum(s["sent"] for s in last["servers"])

def chrony_cpu(seconds, tag):
    logdir = os.path.join(tmp, "log-" + tag)
    os.makedirs(logdir)
    conf = os.path.join(tmp, "client-%s.conf" % tag)
    with open(conf, "w") as f:
        for i in (1, 2, 3):
            f.write("server 127.0.0.2%d port %d minpoll -6 maxpoll -6\n" % (i, base + i))
        f.write("cmdport 0\nport 0\npidfile %s/client-%s.pid\nlogdir %s\nlog measurements\n"
                % (tmp, tag, logdir))
    cpu, _ = cpu_of(["chronyd", "-x", "-d", "-u", user, "-f", conf], seconds)
    with open(os.path.join(logdir, "measurements.log")) as f:
        polls = sum(1 for l in f if re.match(r"^\d{4}-", l))
    return cpu, polls

check_servers()
o_short, o_short_n = ours_cpu(500)
o_long, o_long_n = ours_cpu(4500)
c_short, c_short_n = chrony_cpu(0.5, "short")
c_long, c_long_n = chrony_cpu(4.5, "long")
ours_per = (o_long - o_short) / max(1, o_long_n - o_short_n) * 1e6
peer_per = (c_long - c_short) / max(1, c_long_n - c_short_n) * 1e6
print("ntp_poll_cpu: ours %d polls in %.3f s CPU, chronyd %d polls in %.3f s CPU (long minus short run)"
      % (o_long_n - o_short_n, o_long - o_short, c_long_n - c_short_n, c_long - c_short))

check_servers()
mo, mp = statistics.median(ours), statistics.median(peer)
print("BENCH ntp_offset: ours=%.1fus peer(chronyd -Q, |offset| vs true 0)=%.1fus ratio=%.2f"
      % (mo, mp, mo / mp if mp > 0 else float("inf")))
print("BENCH ntp_poll_cpu: ours=%.1fus peer(chronyd -x client, minpoll -6)=%.1fus ratio=%.2f"
      % (ours_per, peer_per, ours_per / peer_per if peer_per > 0 else float("inf")))
EOF
