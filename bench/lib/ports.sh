# Sourced by the bench scripts (not a bench itself).
#
# free_port_base OFFSET...: prints a base port B (30000..38990, a multiple
# of 10) such that B + OFFSET is free on loopback for every OFFSET given;
# another worktree may be running a bench or the test suite on this machine.
free_port_base() {
  python3 - "$@" <<'PY'
import random, socket, sys
offsets = [int(a) for a in sys.argv[1:]]
for _ in range(200):
    base = random.randrange(30000, 39000, 10)
    socks = []
    try:
        for off in offsets:
            s = socket.socket(); socks.append(s); s.bind(("127.0.0.1", base + off))
    except OSError:
        continue
    finally:
        for s in socks: s.close()
    print(base); break
else:
    sys.exit("no free loopback ports")
PY
}
