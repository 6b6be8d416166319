# The web view in headless Chromium against a live 4-node cluster
# (docs/web.md, "Browser tests"): Debian's chromium driven by playwright-core
# (tests/web/view.mjs says what is checked). Screenshots of each step go to
# the build tree's artefacts/web/. Exits 77 (skipped) only when chromium,
# node or web/node_modules are missing, which ./scripts/deps installs (as
# ./scripts/test does first), so in CI it runs.
source "$(dirname "$0")/../cluster/lib.sh"

chromium=${VOID_CHROMIUM:-/usr/bin/chromium}
skip() { echo "SKIPPED: $* (./scripts/deps installs it)"; exit 77; }
[ -x "$chromium" ] || skip "no chromium at $chromium"
command -v node > /dev/null 2>&1 || skip "no node"
[ -d "$VOID_SOURCE_DIR/web/node_modules/playwright-core" ] || skip "no web/node_modules (npm ci in web/)"

cluster_init web-view 19310
ART=$(cd "$VOID_BIN/.." && pwd)/artefacts/web
rm -rf "$ART"

# The bundle voidd serves: built into web/dist, where a voidd of this build
# tree looks by itself.
"$VOID_SOURCE_DIR/scripts/web" > /dev/null
cluster start --n 4 > /dev/null
http0=127.0.0.1:$((TEST_PORT + 1000))
curl -fsS "http://$http0/" | grep -q '<div id="view">' || fail "voidd does not serve the page at /"

URL="http://$http0/" ARTEFACTS=$ART VOIDCTL=$VOID_BIN/voidctl CLIENT=$CLIENT \
  CLUSTER_SCRIPT=$VOID_SOURCE_DIR/scripts/cluster CLUSTER_DIR=$VOID_CLUSTER_DIR KILL_NODE=3 \
  MEMBERS_URL="http://$http0/members" VOID_CHROMIUM=$chromium \
  timeout 80 node "$VOID_SOURCE_DIR/tests/web/view.mjs" || fail "the web view (screenshots in $ART)"
echo "test_view: ok (screenshots in $ART)"
