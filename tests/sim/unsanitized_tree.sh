#!/usr/bin/env bash
# Fixture of the simulator campaigns (CMakeLists.txt, FIXTURES_SETUP
# sim_unsanitized): one Debug tree without sanitizers, beside the test build,
# whose voidsim runs the campaigns' large seed sets. Under ASan and UBSan a
# simulated run costs ten times the CPU (100 seeds: 34.5 s against 3.4 s),
# and the campaigns are about the protocol's checkers, not memory errors:
# each campaign test still runs a slice of its seeds on the sanitizer build.
# tests/sim/test_sim_mutant.sh builds its mutants in this tree after the
# campaigns are done (it DEPENDS on them) and leaves a mutant-free copy,
# voidsim-control, for its controls. Every run configures the tree with the
# mutants off, so a tree a previous mutant run left behind is rebuilt.
set -euo pipefail
bin="${VOID_BIN:?}"
src="${VOID_SOURCE_DIR:?}"
build="$bin/../unsanitized"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
defs=()
for f in VOID_MUTANT_WEAK_COMMIT VOID_MUTANT_SKIP_CHECKS VOID_MUTANT_QUORUM_2F1 VOID_MUTANT_NO_REJOIN VOID_MUTANT_QUORUM_2F; do
  defs+=("-D$f=OFF")
done
start=$(date +%s)
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DVOID_SANITIZE=OFF -DVOID_FUZZ=OFF "${defs[@]}" \
  >"$log" 2>&1 || { cat "$log"; exit 1; }
cmake --build "$build" --target voidsim -j "$(nproc 2>/dev/null || echo 2)" >"$log" 2>&1 ||
  { tail -50 "$log"; exit 1; }
"$build/bin/voidsim" --version >/dev/null
echo "unsanitized voidsim built in $(( $(date +%s) - start )) s: $build/bin/voidsim"
