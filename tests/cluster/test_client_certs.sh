# Client admission by certificate (issue 17, "Clients without limits"): the
# replicas name an admin key ([clients] admin_key_file) instead of listing
# every client. A client with a certificate from `voidctl cert issue` puts
# and gets; one whose certificate another key signed is refused; then 300
# distinct certified clients (voidload --admin-key, three runs of 100) put
# with retransmissions forced, and every acknowledged put was executed
# exactly once (each writes a new key: the replicas' version count grows by
# exactly the number of acknowledged puts); then 20 more each retransmit
# their put after its answer (voidload once) and get the first answer again.
source "$(dirname "$0")/lib.sh"
cluster_init clcerts 17760

cluster start --n 4 --clients 1 > /dev/null
cluster stop > /dev/null
keys=$VOID_CLUSTER_DIR/keys
"$VOID_BIN/voidctl" keygen "$keys" admin > /dev/null
for f in "$VOID_CLUSTER_DIR"/node*.ini; do
  printf '\n[clients]\nadmin_key_file = keys/admin.public\n' >> "$f"
done
cluster start --n 4 > /dev/null

# A client that no replica lists: its file names its certificate.
"$VOID_BIN/voidctl" keygen "$keys" client5000 > /dev/null
"$VOID_BIN/voidctl" cert issue --admin-key "$keys/admin.secret" --id 5000 \
  --public-key-file "$keys/client5000.public" --days 1 --out "$keys/client5000.cert"
grep -q '^# void client certificate: id 5000' "$keys/client5000.cert" || fail "certificate file header"
client_file() { # id cert-file
  { printf '[client]\nid = %s\nkey = keys/client%s.secret\ncert = %s\n\n' "$1" "$1" "$2"
    sed -n '/^\[replica\./,$p' "$VOID_CLUSTER_DIR/client-100.ini"; } > "$VOID_CLUSTER_DIR/client-$1.ini"
}
client_file 5000 keys/client5000.cert
c5000() { "$VOID_BIN/voidctl" "$@" --cluster "$VOID_CLUSTER_DIR/client-5000.ini"; }
c5000 put certified yes --timeout 10 > /dev/null || fail "a certified client's put"
expect_eq "$(c5000 get certified --timeout 10)" "yes" "a certified client's get"
echo "certified client 5000: put and get"

# A certificate signed by another key admits nobody.
"$VOID_BIN/voidctl" keygen "$keys" rogue > /dev/null
"$VOID_BIN/voidctl" keygen "$keys" client5001 > /dev/null
"$VOID_BIN/voidctl" cert issue --admin-key "$keys/rogue.secret" --id 5001 \
  --public-key-file "$keys/client5001.public" --out "$keys/client5001.cert"
client_file 5001 keys/client5001.cert
rc=0
"$VOID_BIN/voidctl" put forged yes --timeout 3 --cluster "$VOID_CLUSTER_DIR/client-5001.ini" \
  > /dev/null 2>&1 || rc=$?
[ "$rc" -ne 0 ] || fail "a certificate signed by another key was accepted"
echo "certificate of another key: refused (exit $rc)"

# 300 certified clients, retransmissions forced after 15 ms.
versions() { status_field 0 state_versions; }
before=$(versions)
clients_before=$(status_field 0 state_clients)
acked=0 retries=0
for first in 10000 10100 10200; do
  out=$("$VOID_BIN/voidload" void "$VOID_CLUSTER_DIR" --clients 100 --seconds 2 --distinct \
    --admin-key "$keys/admin.secret" --first-id $first --retry-ms 15) ||
    fail "voidload with certified clients $first..: $out"
  # The warm-up puts (one a client, before the clock) are acknowledged
  # writes too: they count.
  acked=$((acked + $(sed -n 's/.* ops=\([0-9]*\) .*/\1/p' <<< "$out") +
    $(sed -n 's/.* warmup=\([0-9]*\).*/\1/p' <<< "$out")))
  retries=$((retries + $(sed -n 's/.* retries=\([0-9]*\).*/\1/p' <<< "$out")))
done
agree() { # one status a poll: every replica's version count equal, at least before + acked
  { vctl status --json --timeout 1 2>/dev/null || true; } | python3 -c '
import json, sys
v = [str(s.get("state_versions", "")) for s in json.load(sys.stdin)]
sys.exit(0 if len(v) == 4 and len(set(v)) == 1 and v[0] and int(v[0]) - int(sys.argv[1]) >= int(sys.argv[2]) else 1)
' "$before" "$acked"
}
wait_for agree 20
clients_after=$(status_field 0 state_clients)
[ $((clients_after - clients_before)) -ge 300 ] ||
  fail "the client table grew by $((clients_after - clients_before)), not by 300 certified clients"
[ "$retries" -gt 0 ] || fail "no retransmission happened: the at-most-once check would be empty"
expect_eq "$(( $(versions) - before ))" "$acked" \
  "versions written by $acked acknowledged puts of 300 certified clients ($retries retransmissions)"
echo "300 certified clients: $acked puts acknowledged, $retries retransmissions, each executed once"

# 20 more distinct certified clients in two waves (voidload once, the code
# path of bench/clients_10k.sh; about 4 s in the sanitizer build, which
# spends 0.17 s of a loaded core per client): each puts a key of its own
# once, then retransmits the same request (same client, session and number)
# to a backup and to every replica; the answer must be the first one byte
# for byte, and each put leaves exactly one version on every replica.
before=$(versions)
acked=20
out=$("$VOID_BIN/voidload" once "$VOID_CLUSTER_DIR" --clients 20 --wave 10 \
  --admin-key "$keys/admin.secret" --first-id 11000) || fail "voidload once: $out"
grep -q ' resent=20 same=20 double=0 failed=0 ' <<< "$out" || fail "voidload once: $out"
wait_for agree 20
expect_eq "$(( $(versions) - before ))" 20 "versions written by 20 puts each retransmitted once"
echo "20 certified clients: each put retransmitted after its answer, answered the same, executed once"
echo "ok"
