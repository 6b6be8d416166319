#!/usr/bin/env bash
# bench/kv_put_64k.sh: BENCH kv_put_64k, durable puts of 64 KiB values, a
# 4-replica Void cluster against a 3-member etcd cluster (Debian's
# etcd-server), both on loopback, by bench/kv_put.sh with VALUE=65536 (the
# same closed-loop load generator, cluster set-up and health checks). A Void
# request of that size travels apart from the pre-prepare, from the client to
# every replica, and the batch orders its digest (docs/pbft.md, "Large
# requests"). Prints kv_put.sh's table and BENCH kv_put_64k (cost per put,
# ours / etcd's: lower is better), kv_put_64k_cpu and kv_put_64k_mbs (the
# payload MB/s of both at the highest level).
#
# Usage: [LEVELS="1 16"] [SECS=5] [VALUE=65536] bash bench/kv_put_64k.sh
#
# Options (environment):
#   LEVELS       concurrency levels, closed-loop clients (default "1 16")
#   SECS         seconds per measurement (default 5)
#   VALUE        bytes per value (default 65536)
#   VOID_BIN     directory with voidd, voidctl, voidload (default build/bin)
#   -h, --help   this help
#
# Example: LEVELS="1 16" SECS=3 VOID_BIN=build/bin bash bench/kv_put_64k.sh
set -euo pipefail
case "${1:-}" in
  -h|--help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;;
esac
LEVELS=${LEVELS:-"1 16"} VALUE=${VALUE:-65536} KV_PUT_NAME=kv_put_64k \
  exec bash "$(dirname "$0")/kv_put.sh" "$@"
