#!/usr/bin/env bash
# scripts/deps against stub apt-get, dpkg-query, id and sudo on a PATH of
# their own (no real package is installed, /usr/sbin is never touched: the
# policy-rc.d path comes from VOID_DEPS_POLICY). Drives both branches of the
# policy handling (a host policy present / absent), both of the package check
# (some missing / all installed), a failing apt-get, root and non-root with
# and without sudo. And the web view's part: nodejs and npm from Debian only
# when `node`/`npm` are not on the PATH, chromium like any package, `npm ci`
# in the web project only when its node_modules is missing or stale, and a
# failing `npm ci` reported.
set -euo pipefail
src=${VOID_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
deps=$src/scripts/deps
T=$(mktemp -d /tmp/void-test-deps-XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# The only commands the script may run: a few real tools and the stubs.
B=$T/bin
mkdir -p "$B"
for t in bash env grep sed tee chmod rm cat printf dirname mkdir; do
  p=$(command -v "$t" 2>/dev/null || true)
  case "$p" in /*) ln -s "$p" "$B/$t" ;; esac
done
cat > "$B/dpkg-query" <<'S'
#!/usr/bin/env bash
# dpkg-query -W -f='${Status}' PKG: installed unless PKG is in $STUB_MISSING.
p=${!#}
for m in $STUB_MISSING; do [ "$m" = "$p" ] && { echo "dpkg-query: no packages found matching $p" >&2; exit 1; }; done
printf 'install ok installed'
S
cat > "$B/apt-get" <<'S'
#!/usr/bin/env bash
# Logs each call; on install also whether the policy file is in place.
echo "apt-get $* (uid ${STUB_UID:-0} via ${STUB_VIA:-direct})" >> "$STUB_LOG"
case "$1" in
  update) exit "${STUB_UPDATE_RC:-0}" ;;
  install)
    if [ -e "$VOID_DEPS_POLICY" ]; then echo "policy during install: $(tr '\n' ' ' < "$VOID_DEPS_POLICY")" >> "$STUB_LOG"
    else echo "policy during install: none" >> "$STUB_LOG"; fi
    if [ "${STUB_APT_RC:-0}" != 0 ]; then echo "E: Unable to locate package ${!#}" >&2; fi
    exit "${STUB_APT_RC:-0}" ;;
esac
S
cat > "$B/id" <<'S'
#!/usr/bin/env bash
[ "${1:-}" = -u ] && { echo "${STUB_UID:-0}"; exit 0; }
echo "uid=${STUB_UID:-0}"
S
cat > "$B/sudo.stub" <<'S'
#!/usr/bin/env bash
echo "sudo $*" >> "$STUB_LOG"
STUB_VIA=sudo exec "$@"
S
cat > "$B/npm" <<'S'
#!/usr/bin/env bash
# Logs `npm ci` with the directory it ran in; writes the hidden lock file a
# real npm ci leaves in node_modules.
echo "npm $* (in $PWD)" >> "$STUB_LOG"
[ "${STUB_NPM_RC:-0}" = 0 ] || { echo "npm ERR! stub failure" >&2; exit "$STUB_NPM_RC"; }
mkdir -p node_modules && : > node_modules/.package-lock.json
S
printf '#!/usr/bin/env bash\necho v20.0.0\n' > "$B/node"
ln -s "$(command -v tr)" "$B/tr"
ln -s "$(command -v touch)" "$B/touch"
chmod +x "$B"/dpkg-query "$B"/apt-get "$B"/id "$B"/sudo.stub "$B"/npm "$B"/node

export STUB_LOG=$T/log VOID_DEPS_POLICY=$T/sbin/policy-rc.d VOID_DEPS_WEB=$T/web
mkdir -p "$T/sbin" "$T/web"
# run NAME [args]: runs scripts/deps with the stub PATH; sets rc, out, err.
run() {
  : > "$STUB_LOG"
  rc=0
  env -i PATH="$B" HOME="$T" STUB_LOG="$STUB_LOG" VOID_DEPS_POLICY="$VOID_DEPS_POLICY" \
    STUB_MISSING="${STUB_MISSING:-}" STUB_UID="${STUB_UID:-0}" STUB_APT_RC="${STUB_APT_RC:-0}" \
    STUB_UPDATE_RC="${STUB_UPDATE_RC:-0}" STUB_NPM_RC="${STUB_NPM_RC:-0}" VOID_DEPS_WEB="$VOID_DEPS_WEB" \
    "$B/bash" "$deps" "$@" > "$T/out" 2> "$T/err" || rc=$?
  out=$(cat "$T/out") err=$(cat "$T/err")
}
log_has() { grep -q -- "$1" "$STUB_LOG" || fail "$2: apt log lacks '$1':$(printf '\n%s' "$(cat "$STUB_LOG")")"; }

# 1. Everything installed: exit 0 and no apt command at all.
STUB_MISSING="" run
[ "$rc" = 0 ] || fail "all installed: exit $rc ($err)"
[ ! -s "$STUB_LOG" ] || fail "all installed: apt-get ran: $(cat "$STUB_LOG")"

# 2. Missing packages, the host already has a policy (Debian's container
# images): exit 0 after the install, the host's policy untouched.
printf '#!/bin/sh\nexit 42 # the host policy\n' > "$VOID_DEPS_POLICY"
STUB_MISSING="cmake chrony" run
[ "$rc" = 0 ] || fail "host policy present: exit $rc after a successful install ($err)"
log_has "apt-get update" "host policy present"
log_has "apt-get install -y -qq --no-install-recommends cmake chrony" "host policy present"
log_has "policy during install: #!/bin/sh exit 42 # the host policy" "host policy present"
grep -q 'exit 42 # the host policy' "$VOID_DEPS_POLICY" || fail "host policy was changed"
grep -q 'deps: done' <<<"$err" || fail "host policy present: no 'deps: done' ($err)"

# 3. Missing packages, no policy: ours is in place during the install
# (daemons kept from starting) and removed afterwards; exit 0.
rm -f "$VOID_DEPS_POLICY"
STUB_MISSING="chrony" run
[ "$rc" = 0 ] || fail "no host policy: exit $rc ($err)"
log_has "policy during install: #!/bin/sh exit 101" "no host policy"
[ ! -e "$VOID_DEPS_POLICY" ] || fail "no host policy: the added policy was left behind"

# 4. apt-get install fails: non-zero exit, a message naming the failure,
# the added policy removed all the same; and with a host policy, kept.
STUB_MISSING="chrony" STUB_APT_RC=100 run
[ "$rc" != 0 ] || fail "failing apt-get: exit 0"
grep -q '^deps: .*apt-get install.*fail' <<<"$err" || fail "failing apt-get: no message ($err)"
[ ! -e "$VOID_DEPS_POLICY" ] || fail "failing apt-get: the added policy was left behind"
printf '#!/bin/sh\nexit 42\n' > "$VOID_DEPS_POLICY"
STUB_MISSING="chrony" STUB_APT_RC=100 run
[ "$rc" != 0 ] || fail "failing apt-get with host policy: exit 0"
[ -e "$VOID_DEPS_POLICY" ] || fail "failing apt-get removed the host policy"
STUB_MISSING="chrony" STUB_UPDATE_RC=100 run
[ "$rc" != 0 ] || fail "failing apt-get update: exit 0"
grep -q '^deps: .*apt-get update.*fail' <<<"$err" || fail "failing apt-get update: no message ($err)"
rm -f "$VOID_DEPS_POLICY"

# 5. Not root: through sudo when there is one, a clear refusal when not.
ln -s sudo.stub "$B/sudo"
STUB_UID=1000 STUB_MISSING="chrony" run
[ "$rc" = 0 ] || fail "sudo: exit $rc ($err)"
log_has "apt-get install .* (uid 1000 via sudo)" "sudo"
[ ! -e "$VOID_DEPS_POLICY" ] || fail "sudo: the added policy was left behind"
rm "$B/sudo"
STUB_UID=1000 STUB_MISSING="chrony" run
[ "$rc" = 1 ] || fail "no sudo: exit $rc, want 1"
grep -q 'not root and sudo is not installed.*chrony' <<<"$err" || fail "no sudo: message ($err)"
[ ! -s "$STUB_LOG" ] || fail "no sudo: apt-get ran"

# 6. `bench` adds the benchmark peers; an unknown argument is refused.
STUB_MISSING="etcd-server cmake" run bench
[ "$rc" = 0 ] || fail "bench: exit $rc ($err)"
log_has "install .*cmake etcd-server" "bench"
STUB_MISSING="etcd-server" run
[ ! -s "$STUB_LOG" ] || fail "without bench, etcd-server was installed"
STUB_MISSING="" run bogus
[ "$rc" = 2 ] || fail "unknown argument: exit $rc, want 2"
grep -qi 'usage' <<<"$err" || fail "unknown argument: no usage ($err)"
# 7. node and npm missing from the PATH: Debian's nodejs and npm are
# installed; present (a NodeSource node with its own npm): left alone.
# chromium, the browsers tests' browser, is a package like the others.
mv "$B/node" "$B/node.off"; mv "$B/npm" "$B/npm.off"
STUB_MISSING="nodejs npm" run
[ "$rc" = 0 ] || fail "no node: exit $rc ($err)"
log_has "install .*nodejs npm" "no node"
mv "$B/node.off" "$B/node"; mv "$B/npm.off" "$B/npm"
STUB_MISSING="chromium nodejs npm" run
[ "$rc" = 0 ] || fail "chromium: exit $rc ($err)"
log_has "install .*--no-install-recommends chromium" "chromium"
! grep -q "nodejs" "$STUB_LOG" || fail "node on the PATH, yet nodejs was installed"

# 8. npm ci in the web project: when node_modules is missing, not when it is
# fresh, again when the lock file is newer; after an apt install too; a
# failing npm ci fails deps with a message.
echo '{}' > "$T/web/package-lock.json"
STUB_MISSING="" run
[ "$rc" = 0 ] || fail "npm ci: exit $rc ($err)"
log_has "npm ci .*(in $T/web)" "npm ci with node_modules missing"
STUB_MISSING="" run
[ ! -s "$STUB_LOG" ] || fail "node_modules fresh, yet: $(cat "$STUB_LOG")"
sleep 1; touch "$T/web/package-lock.json"
STUB_MISSING="chromium" run
[ "$rc" = 0 ] || fail "npm ci after install: exit $rc ($err)"
log_has "install .*chromium" "npm ci after install"
log_has "npm ci" "lock file newer than node_modules"
rm -rf "$T/web/node_modules"
STUB_MISSING="" STUB_NPM_RC=1 run
[ "$rc" = 1 ] || fail "failing npm ci: exit $rc, want 1"
grep -q '^deps: npm ci failed' <<<"$err" || fail "failing npm ci: no message ($err)"
echo "test_deps: ok"
