# A backup is killed with SIGKILL. Long-lived clients see their links to it
# drop and stop naming it as one of the f + 1 replicas that reply, so no
# request waits out a retry timeout: 8 voidload clients for 3 s complete
# puts with no retransmission. (Before clients heard of link drops, each
# named the dead replica for about half its requests and waited 2 s.)
source "$(dirname "$0")/lib.sh"
cluster_init backupdown 17680

cluster start --n 4 --clients 8 > /dev/null
vctl put warm up > /dev/null
primary=$(status_field 0 primary)
victim=$(( (primary + 2) % 4 ))
cluster kill "$victim"
echo "killed backup $victim (primary $primary)"
out=$("$VOID_BIN/voidload" void "$VOID_CLUSTER_DIR" --clients 8 --seconds 3 --value 100)
echo "$out"
ops=$(sed -n 's/.*ops=\([0-9]*\) .*/\1/p' <<<"$out")
retries=$(sed -n 's/.*retries=\([0-9]*\).*/\1/p' <<<"$out")
[ -n "$ops" ] && [ "$ops" -gt 0 ] || fail "no put completed"
expect_eq "$retries" 0 "retransmissions with a backup down"
echo "ok: $ops puts, no retransmission"
