# `voidctl trace state --at HLC` and `trace diff --from --to` on 4 real nodes
# (docs/causality.md, "State and diff"): puts and deletes at known times
# (their version stamps), then the state between them shows exactly the
# expected keys and values, the diff the expected changes with old and new
# values; --prefix, --limit and --after page through the same answer; a
# binary key comes back in key_b64; the replicas agree on the signed digest,
# also with one of them down; and the errors: a time before the retention
# horizon (too_old, exit 3), after the executed horizon (not_executed, exit
# 3), a malformed HLC (exit 2).
source "$(dirname "$0")/lib.sh"
cluster_init trace_state 17720

cluster start --n 4 > /dev/null

version_of() {
  vctl get "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])'
}
put_at() { # put KEY VALUE, print its version stamp
  local out
  out=$(vctl put "$1" "$2") || fail "put $1"
  [[ "$out" == ok* ]] || fail "put $1 said '$out'"
  echo "${out#ok }"
}

# t1: a=1 b=2 u/x=10 u/y=20 (each put is its own batch; t1 = the last one)
put_at a 1 > /dev/null
put_at b 2 > /dev/null
put_at u/x 10 > /dev/null
t1=$(put_at u/y 20)
# t2: a=3, b deleted, c=4, u/x=11
put_at a 3 > /dev/null
vctl del b > /dev/null || fail "del b"
put_at c 4 > /dev/null
t2=$(put_at u/x 11)
# t3: a binary key (ff 00 41) and c deleted
vctl put ff0041 bin --key-hex > /dev/null || fail "put of a binary key"
vctl del c > /dev/null || fail "del c"
t3=$(put_at z 9)

# What each time must show (the cluster's own __ready__ key is left out).
state_keys() { # state --at T [args]: "k=v k=v ..." sorted as the answer
  vctl trace state --at "$@" --json | python3 -c '
import json, sys
lines = [json.loads(l) for l in sys.stdin if l.strip()]
end = lines[-1]
assert end["end"] and end["count"] == len(lines) - 1, end
assert len(end["agree"]) >= 2, end
keys = [l for l in lines[:-1]]
out = []
for l in keys:
    k = l.get("key", "b64:" + l.get("key_b64", "?"))
    if k == "__ready__":
        continue
    out.append(k + "=" + l.get("value", "b64:" + l.get("value_b64", "?")))
print(" ".join(out))
'
}
expect_eq "$(state_keys "$t1")" "a=1 b=2 u/x=10 u/y=20" "state at t1"
expect_eq "$(state_keys "$t2")" "a=3 c=4 u/x=11 u/y=20" "state at t2"
expect_eq "$(state_keys "$t3")" "a=3 u/x=11 u/y=20 z=9 b64:/wBB=bin" "state at t3"
expect_eq "$(state_keys "$t2" --prefix u/)" "u/x=11 u/y=20" "state at t2 with --prefix u/"
# A time between two writes answers the state of the earlier one.
mid=$(echo "$t1" | sed 's#/[0-9]*$#/999#')
expect_eq "$(state_keys "$mid")" "a=1 b=2 u/x=10 u/y=20" "state just after t1"
echo "ok: state --at shows exactly the keys and values of each time"

# Text output of the same.
txt=$(vctl trace state --at "$t2" --prefix c)
[[ "$txt" == *"c = 4  ("*")"* ]] || fail "state text output: $txt"
[[ "$txt" == *"# 1 keys as of"* ]] || fail "state text summary: $txt"

# ---- diff ----------------------------------------------------------------------
diff_json=$(vctl trace diff --from "$t1" --to "$t2" --json) || fail "diff t1..t2"
python3 - "$diff_json" <<'PY' || fail "diff t1..t2: $diff_json"
import json, sys
lines = [json.loads(l) for l in sys.argv[1].splitlines() if l.strip()]
end = lines.pop()
assert end["end"] and end["count"] == 4 and not end["more"], end
got = [(l["key"], l["change"], l.get("old"), l.get("new")) for l in lines]
assert got == [("a", "changed", "1", "3"), ("b", "deleted", "2", None),
               ("c", "created", None, "4"), ("u/x", "changed", "10", "11")], got
for l in lines:
    for side in ("old", "new"):
        if side in l:
            assert l[side + "_version"].endswith(tuple("0123456789")), l
PY
diff_txt=$(vctl trace diff --from "$t2" --to "$t3")
[[ "$diff_txt" == *"- c (was 4,"* ]] || fail "diff text: a delete: $diff_txt"
[[ "$diff_txt" == *"+ z = 9"* ]] || fail "diff text: a creation: $diff_txt"
[[ "$diff_txt" == *"+ b64:/wBB = bin"* ]] || fail "diff text: a binary key: $diff_txt"
expect_eq "$(vctl trace diff --from "$t2" --to "$t2" --json | head -n 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])')" "0" "diff of a time with itself"
echo "ok: diff shows created, changed and deleted keys with old and new values"

# ---- pages: --limit and --after walk the same answer ---------------------------
pages=""
after=()
for _ in 1 2 3 4 5 6 7; do
  page=$(vctl trace state --at "$t3" --limit 2 --json "${after[@]}") || fail "a page"
  pages+=$(python3 -c '
import json, sys
for l in sys.argv[1].splitlines():
    j = json.loads(l)
    if not j.get("end"):
        print(j.get("key", j.get("key_b64")), end=" ")' "$page")
  next=$(python3 -c '
import json, sys
end = json.loads(sys.argv[1].splitlines()[-1])
print(end.get("next_after", "") if end["more"] else "")' "$page")
  [ -n "$next" ] || break
  after=(--after "$next")
done
expect_eq "$pages" "__ready__ a u/x u/y z /wBB " "pages of 2 keys"
echo "ok: --limit and --after page through the state"

# ---- the answers are streamed (chunked), /trace/events too -------------------
http0=$(grep -m1 '^http = ' "$CLIENT" | sed 's/^http = //')
curl -sS -D "$TEST_DIR/h.txt" -o "$TEST_DIR/ev.ndjson" "http://$http0/trace/events?after=0" || fail "GET /trace/events"
grep -qi '^transfer-encoding: chunked' "$TEST_DIR/h.txt" || fail "/trace/events is not chunked: $(cat "$TEST_DIR/h.txt")"
python3 - "$TEST_DIR/ev.ndjson" <<'PY' || fail "/trace/events stream"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
head, events, end = lines[0], lines[1:-1], lines[-1]
assert head["stream"] and end["end"] and end["count"] == len(events) > 0, (head, end)
seqs = [e["seq"] for e in events]
assert seqs == sorted(seqs) and seqs[-1] == end["last_seq"] and len(end["sig"]) == 128, end
PY
curl -sS -D "$TEST_DIR/h.txt" -o /dev/null "http://$http0/trace/state?at=$(echo "$t3" | sed 's#Z/#Z%2F#')" || fail "GET /trace/state"
grep -qi '^transfer-encoding: chunked' "$TEST_DIR/h.txt" || fail "/trace/state is not chunked"
echo "ok: /trace/events and /trace/state answer chunked streams"

# ---- an answer longer than one refill (256 keys) -------------------------------
# voidload --distinct names its keys r<run>-c<i>-<n>: after c0-59 comes the
# shorter c0-6, where a refill that resumed from a moving cursor skipped
# c0-60..69 (and the replicas' digests then disagreed: exit 1).
"$VOID_BIN/voidload" void "$VOID_CLUSTER_DIR" --clients 1 --distinct --count 400 --value 8 \
  > "$TEST_DIR/load.txt" || fail "voidload: $(cat "$TEST_DIR/load.txt")"
t4=$(put_at zz-after-load 1)
vctl trace state --at "$t4" --prefix r --json > "$TEST_DIR/big.ndjson" ||
  fail "trace state of the loaded keys: $(tail -n 2 "$TEST_DIR/big.ndjson")"
python3 - "$TEST_DIR/big.ndjson" <<'PY' || fail "trace state of the loaded keys"
import json, re, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
keys = [l["key"] for l in lines if "key" in l]
assert len(keys) >= 400 and len(keys) == len(set(keys)) and keys == sorted(keys), len(keys)
per = {}
for k in keys:
    m = re.fullmatch(r"r[0-9a-f]+-c([0-9]+)-([0-9]+)", k)
    assert m, k
    per.setdefault(m.group(1), set()).add(int(m.group(2)))
for c, ns in per.items():  # each client's keys without a gap: 0..max
    assert ns == set(range(max(ns) + 1)), (c, sorted(set(range(max(ns) + 1)) - ns)[:12])
print("trace state of the loaded keys:", len(keys), "keys,", len(per), "clients, no gap")
PY
echo "ok: an answer of more than 256 keys is whole and agreed"

# ---- the replicas agree, also with one down ------------------------------------
cluster kill 3 > /dev/null
agree=$(vctl trace state --at "$t2" --json | tail -n 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["agree"])')
expect_eq "$agree" "[0, 1, 2]" "replicas signing the digest with node 3 down"
expect_eq "$(state_keys "$t2")" "a=3 c=4 u/x=11 u/y=20" "state at t2 with node 3 down"
echo "ok: f + 1 replicas sign the same digest (node 3 down)"

# ---- errors --------------------------------------------------------------------
set +e
msg=$(vctl trace state --at 2000-01-01T00:00:00Z/0 2>&1); rc=$?
expect_eq "$rc" "3" "state before the retention horizon"
[[ "$msg" == *too_old*"retention horizon"* ]] || fail "too_old message: $msg"
msg=$(vctl trace state --at 2099-01-01T00:00:00Z/0 2>&1); rc=$?
expect_eq "$rc" "3" "state after the executed horizon"
[[ "$msg" == *not_executed*"executed horizon"* ]] || fail "not_executed message: $msg"
msg=$(vctl trace diff --from "$t1" --to 2099-01-01T00:00:00Z/0 2>&1); rc=$?
expect_eq "$rc" "3" "diff to the future"
msg=$(vctl trace state --at 12:00 2>&1); rc=$?
expect_eq "$rc" "2" "a malformed HLC"
[[ "$msg" == *"not an HLC timestamp"* ]] || fail "bad HLC message: $msg"
vctl trace diff --from "$t2" --to "$t1" > /dev/null 2>&1; expect_eq "$?" "2" "diff --from after --to"
vctl trace diff --from "$t1" > /dev/null 2>&1; expect_eq "$?" "2" "diff without --to"
set -e
echo "ok: too_old, not_executed and a bad HLC are refused clearly"
