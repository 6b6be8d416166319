#!/usr/bin/env bash
# bench/cas_dedup.sh: BENCH cas_dedup, stored bytes and ingest time of five
# versions of a real source tree (bench/cas_corpus.py: /usr/lib/python3.11
# edited by a seeded script, about 260 MB in all) in a fresh store, against
# restic (repository v2, zstd) and casync (default 64 KiB chunks) on the same
# data, in the same run. Stored bytes are the allocated bytes of the
# repository directory (du -B1). Rounds alternate the tools (ABBA); medians
# are reported.
#
# Usage: VOID_BIN=DIR bash bench/cas_dedup.sh      (or scripts/bench cas_dedup)
#
# Options (environment):
#   VOID_BIN           directory with voidctl (required)
#   CAS_DEDUP_ROUNDS   rounds (default 3)
#   -h, --help         this help
#
# Example: VOID_BIN=build/bin CAS_DEDUP_ROUNDS=1 bash bench/cas_dedup.sh
set -euo pipefail
source "$(dirname "$0")/lib/args.sh"
bench_args cas_dedup "$@" # -h/--help, no other argument; root and bin
V="${VOID_BIN:?set VOID_BIN to the directory with voidctl}/voidctl"
SRC_DIR="$(cd "$(dirname "$0")" && pwd)"
ROUNDS=${CAS_DEDUP_ROUNDS:-3}
for tool in restic casync python3; do
  command -v "$tool" >/dev/null || { echo "cas_dedup: $tool missing (scripts/deps bench)" >&2; exit 1; }
done
T=$(mktemp -d "${TMPDIR:-/tmp}/void-cas-dedup-XXXXXX")
trap 'rm -rf "$T"' EXIT
python3 "$SRC_DIR/cas_corpus.py" "$T/corpus" --versions 5 --seed 1
logical=$(du -sb "$T/corpus" | cut -f1)
echo "corpus: 5 versions, $((logical / 1000000)) MB logical"
export RESTIC_PASSWORD=void-bench

now() { date +%s.%N; }
run_ours() {
  rm -rf "$T/repo"
  local s; s=$(now)
  for v in 1 2 3 4 5; do "$V" store --store "$T/repo" --quiet put --pin "v$v" "$T/corpus/v$v" >/dev/null; done
  echo "$(echo "$(now) - $s" | bc) $(du -sB1 "$T/repo" | cut -f1)"
}
run_restic() {
  rm -rf "$T/repo"
  restic init -q --repository-version 2 --repo "$T/repo" >/dev/null
  local s; s=$(now)
  for v in 1 2 3 4 5; do restic backup -q --repo "$T/repo" "$T/corpus/v$v" >/dev/null; done
  echo "$(echo "$(now) - $s" | bc) $(du -sB1 "$T/repo" | cut -f1)"
}
run_casync() {
  rm -rf "$T/repo"; mkdir "$T/repo"
  local s; s=$(now)
  for v in 1 2 3 4 5; do casync make --store="$T/repo/store" "$T/repo/v$v.caidx" "$T/corpus/v$v" >/dev/null; done
  echo "$(echo "$(now) - $s" | bc) $(du -sB1 "$T/repo" | cut -f1)"
}

declare -a ot os rt rs ct cs
for ((r = 0; r < ROUNDS; r++)); do
  if ((r % 2 == 0)); then order="ours restic casync"; else order="casync restic ours"; fi
  for who in $order; do
    read -r t s < <("run_$who")
    echo "round $r $who: ${t}s $((s / 1000)) kB"
    case $who in
      ours) ot+=("$t"); os+=("$s") ;;
      restic) rt+=("$t"); rs+=("$s") ;;
      casync) ct+=("$t"); cs+=("$s") ;;
    esac
  done
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
line() { # name peer unit ours peer scale
  awk -v n="$1" -v p="$2" -v u="$3" -v o="$4" -v q="$5" -v k="$6" \
    'BEGIN {printf "BENCH %s: ours=%.3f%s peer(%s)=%.3f%s ratio=%.3f\n", n, o/k, u, p, q/k, u, o/q}'
}
line cas_dedup "restic 0.14 repo v2, stored" MB "$(median "${os[@]}")" "$(median "${rs[@]}")" 1e6
line cas_dedup_casync "casync 2 make, stored" MB "$(median "${os[@]}")" "$(median "${cs[@]}")" 1e6
line cas_dedup_time "restic 0.14 backup x5" s "$(median "${ot[@]}")" "$(median "${rt[@]}")" 1
line cas_dedup_time_casync "casync 2 make x5" s "$(median "${ot[@]}")" "$(median "${ct[@]}")" 1
