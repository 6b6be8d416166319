#!/usr/bin/env bash
# bench/cas_ingest.sh: BENCH cas_ingest, `voidctl store put` of a 1 GiB file of
# random bytes that sits in the page cache, against `openssl dgst -sha256`
# (the hashing limit of this CPU) and `sha256sum` of the same file, in the
# same run. Times are wall-clock seconds, medians over rounds in ABBA order;
# ratio is ours/peer (a cost: 1.25 means 0.8x the peer's throughput).
#
# Lines:
#   cas_ingest          put into a fresh store on the same filesystem as
#                       the file ($TMPDIR), durable (fsync'ed) when it returns
#   cas_ingest_sha256sum   the same against sha256sum
#   cas_ingest_tmpfs    put into a fresh store on /dev/shm: the pipeline
#                       without the disk's write bandwidth
#   cas_ingest_reput    put of the same file into a store that has it: read,
#                       chunk, hash and look up, nothing to write
#   cas_ingest_disk     for context, `dd conv=fdatasync` of the file to the
#                       store's filesystem vs openssl: the disk's limit
#   cas_ingest_vs_dd    the durable put against that dd: 1.0 means the put
#                       goes as fast as the disk takes the bytes
#   *_cpu               the same comparisons in CPU seconds (user + system)
#
# Usage: VOID_BIN=DIR bash bench/cas_ingest.sh     (or scripts/bench cas_ingest)
#
# Options (environment):
#   VOID_BIN             directory with voidctl (required)
#   CAS_INGEST_ROUNDS    rounds (default 5)
#   CAS_INGEST_MB        file size in MiB (default 1024)
#   -h, --help           this help
#
# Example: VOID_BIN=build/bin CAS_INGEST_MB=256 bash bench/cas_ingest.sh
set -euo pipefail
source "$(dirname "$0")/lib/args.sh"
bench_args cas_ingest "$@" # -h/--help, no other argument; root and bin
V="${VOID_BIN:?set VOID_BIN to the directory with voidctl}/voidctl"
ROUNDS=${CAS_INGEST_ROUNDS:-5}
MB=${CAS_INGEST_MB:-1024}
T=$(mktemp -d "${TMPDIR:-/tmp}/void-cas-ingest-XXXXXX")
SHM=""
if [ -d /dev/shm ] && [ -w /dev/shm ]; then SHM=$(mktemp -d /dev/shm/void-cas-ingest-XXXXXX); fi
cleanup() { rm -rf "$T"; if [ -n "$SHM" ]; then rm -rf "$SHM"; fi; }
trap cleanup EXIT
F="$T/input"
head -c $((MB * 1048576)) /dev/urandom > "$F"
cat "$F" > /dev/null # into the page cache

now() { date +%s.%N; }
# timed CMD...: prints "wall cpu" in seconds (cpu = user + system, children
# included), so that a run on a loaded machine can still be compared.
timed() {
  local TIMEFORMAT="%R %U %S" out
  out=$( { time "$@" >/dev/null; } 2>&1 )
  awk '{printf "%s %.3f\n", $1, $2 + $3}' <<<"$out"
}
# Deleting the previous store or copy is kept out of the timed commands (on
# a filesystem mounted with discard, freeing 1 GiB takes a while).
put_fresh() { "$V" store --store "$1" --quiet put "$F"; }
dd_sync() { dd if="$F" of="$T/ddcopy" bs=4M conv=fdatasync status=none; }

declare -a o_disk o_shm o_re p_ssl p_sum p_dd c_disk c_shm c_re c_ssl c_sum
"$V" store --store "$T/warm" --quiet put "$F" >/dev/null # store for re-puts
for ((r = 0; r < ROUNDS; r++)); do
  if ((r % 2 == 0)); then order="ssl disk sum shm re dd"; else order="dd re shm sum disk ssl"; fi
  for who in $order; do
    case $who in
      ssl) read -r w c < <(timed openssl dgst -sha256 "$F"); p_ssl+=("$w"); c_ssl+=("$c") ;;
      sum) read -r w c < <(timed sha256sum "$F"); p_sum+=("$w"); c_sum+=("$c") ;;
      disk)
        rm -rf "$T/store"
        read -r w c < <(timed put_fresh "$T/store"); o_disk+=("$w"); c_disk+=("$c") ;;
      shm)
        if [ -n "$SHM" ]; then
          read -r w c < <(timed put_fresh "$SHM/store"); o_shm+=("$w"); c_shm+=("$c")
          rm -rf "$SHM/store"
        fi ;;
      re) read -r w c < <(timed "$V" store --store "$T/warm" --quiet put "$F"); o_re+=("$w"); c_re+=("$c") ;;
      dd) read -r w c < <(timed dd_sync); p_dd+=("$w"); rm -f "$T/ddcopy" ;;
    esac
  done
  echo "round $r (wall/cpu s): openssl ${p_ssl[r]}/${c_ssl[r]} sha256sum ${p_sum[r]}/${c_sum[r]}" \
    "put ${o_disk[r]}/${c_disk[r]} put-tmpfs ${o_shm[r]:-n/a}/${c_shm[r]:-n/a}" \
    "re-put ${o_re[r]}/${c_re[r]} dd-fdatasync ${p_dd[r]}"
done
"$V" store --store "$T/store" fsck >/dev/null || { echo "cas_ingest: fsck failed" >&2; exit 1; }

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
line() { # name peer ours peer
  awk -v n="$1" -v p="$2" -v o="$3" -v q="$4" -v mb="$MB" \
    'BEGIN {printf "BENCH %s: ours=%.3fs peer(%s)=%.3fs ratio=%.3f (%.0f vs %.0f MB/s)\n", n, o, p, q, o/q, mb*1.048576/o, mb*1.048576/q}'
}
ssl=$(median "${p_ssl[@]}")
line cas_ingest "openssl dgst -sha256" "$(median "${o_disk[@]}")" "$ssl"
line cas_ingest_sha256sum "sha256sum" "$(median "${o_disk[@]}")" "$(median "${p_sum[@]}")"
if [ ${#o_shm[@]} -gt 0 ]; then
  line cas_ingest_tmpfs "openssl dgst -sha256" "$(median "${o_shm[@]}")" "$ssl"
fi
line cas_ingest_reput "openssl dgst -sha256" "$(median "${o_re[@]}")" "$ssl"
line cas_ingest_disk "openssl dgst -sha256; ours=dd conv=fdatasync" "$(median "${p_dd[@]}")" "$ssl"
line cas_ingest_vs_dd "dd conv=fdatasync" "$(median "${o_disk[@]}")" "$(median "${p_dd[@]}")"
# CPU seconds (user + system): what the work costs, whatever the load.
cssl=$(median "${c_ssl[@]}")
if [ ${#c_shm[@]} -gt 0 ]; then
  line cas_ingest_tmpfs_cpu "openssl dgst -sha256, cpu" "$(median "${c_shm[@]}")" "$cssl"
fi
line cas_ingest_reput_cpu "openssl dgst -sha256, cpu" "$(median "${c_re[@]}")" "$cssl"
