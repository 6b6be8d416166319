#!/usr/bin/env bash
# End-to-end test of `voidctl cas`: every verb with and without --json, and
# the error paths a user meets: missing path, malformed and unknown hashes,
# a directory that is not a store, a block corrupted on disk, and a full
# disk (a 4 MiB tmpfs mounted here when running as root).
set -euo pipefail
V="${VOID_BIN:?}/voidctl"
T=$(mktemp -d /tmp/void-cas-cli-XXXXXX)
MNT=""
cleanup() {
  if [ -n "$MNT" ] && mountpoint -q "$MNT"; then umount "$MNT"; fi
  rm -rf "$T"
}
trap cleanup EXIT
S="$T/store"
fail() { echo "FAIL: $*" >&2; exit 1; }
# expect_fail STATUS PATTERN cmd... : the command exits with STATUS and
# prints PATTERN on stderr.
expect_fail() {
  local want=$1 pat=$2; shift 2
  local rc=0
  "$@" >"$T/cmd.out" 2>"$T/cmd.err" || rc=$?
  [ "$rc" -eq "$want" ] || fail "'$*' exited $rc, expected $want ($(cat "$T/cmd.err"))"
  [ -z "$pat" ] || grep -q -- "$pat" "$T/cmd.err" || fail "'$*' stderr lacks '$pat': $(cat "$T/cmd.err")"
}
json_ok() { python3 -c 'import json,sys; json.load(sys.stdin)' || fail "not JSON: $1"; }

"$V" cas --help | grep -q "put PATH" || fail "help"
"$V" --help | grep -q "cas" || fail "voidctl --help lists cas"

# A small tree with odd names, a symlink and modes.
mkdir -p "$T/src/sub dir/deep"
printf 'hello\n' > "$T/src/a.txt"
head -c 2000000 /dev/urandom > "$T/src/sub dir/blob"
printf 'x' > "$T/src/sub dir/deep/$(printf 'new\nline')"
printf 'y' > "$T/src/été"
: > "$T/src/empty"
ln -s a.txt "$T/src/link"
chmod 0600 "$T/src/a.txt"; chmod 0750 "$T/src/sub dir"

# put / get round trip of a tree, a file and stdin.
root=$("$V" cas --store "$S" put "$T/src")
[[ "$root" =~ ^[0-9a-f]{64}$ ]] || fail "put printed '$root'"
"$V" cas --store "$S" get "$root" "$T/out"
diff -r "$T/src" "$T/out" || fail "tree differs"
[ "$(stat -c %a "$T/out/a.txt")" = 600 ] || fail "mode of a.txt"
[ "$(stat -c %a "$T/out/sub dir")" = 750 ] || fail "mode of sub dir"
[ "$(readlink "$T/out/link")" = a.txt ] || fail "symlink"
froot=$("$V" cas --store "$S" put "$T/src/sub dir/blob")
"$V" cas --store "$S" get "$froot" - | cmp - "$T/src/sub dir/blob" || fail "file to stdout"
sroot=$(cat "$T/src/sub dir/blob" | "$V" cas --store "$S" put -)
[ "$sroot" = "$froot" ] || fail "stdin put gives another hash"
"$V" cas --store "$S" put --json "$T/src" | json_ok "put --json"
"$V" cas --store "$S" put --json "$T/src" | grep -q '"new_bytes":0' || fail "re-put wrote data"

# ls, stat, pins.
"$V" cas --store "$S" ls "$root" | grep -q "a.txt" || fail "ls"
"$V" cas --store "$S" ls --json "$root" | json_ok "ls --json"
"$V" cas --store "$S" ls "$froot" | grep -q "^chunk" || fail "ls of a file lists chunks"
"$V" cas --store "$S" stat "$root" | grep -q "files 5" || fail "stat of tree"
"$V" cas --store "$S" stat --json "$root" | json_ok "stat HASH --json"
"$V" cas --store "$S" pin v1 "$root"
"$V" cas --store "$S" pins | grep -q "$root v1" || fail "pins"
"$V" cas --store "$S" pins --json | json_ok "pins --json"
"$V" cas --store "$S" stat | grep -q "pins 1" || fail "stat"
"$V" cas --store "$S" stat --json | json_ok "stat --json"
"$V" cas --store "$S" get v1 "$T/out2" && diff -r "$T/src" "$T/out2" || fail "get by pin name"

# gc keeps what v1 reaches, frees the rest; fsck is clean.
"$V" cas --store "$S" gc --json | json_ok "gc --json"
"$V" cas --store "$S" get "$root" "$T/out3" && diff -r "$T/src" "$T/out3" || fail "gc freed a pinned tree"
"$V" cas --store "$S" fsck | grep -q "^clean" || fail "fsck"
"$V" cas --store "$S" fsck --json | json_ok "fsck --json"
"$V" cas --store "$S" unpin v1
"$V" cas --store "$S" gc | grep -q "freed" || fail "gc output"
"$V" cas --store "$S" stat --json | grep -q '"blocks":0' || fail "gc left blocks after unpin"
"$V" cas --store "$S" put --pin v2 "$T/src" >/dev/null

# Errors: usage, missing path, bad hashes, not a store, unknown verb.
expect_fail 2 "usage" "$V" cas put "$T/src"
expect_fail 2 "unknown verb" "$V" cas --store "$S" frobnicate
expect_fail 2 "wrong number" "$V" cas --store "$S" pin onlyname
expect_fail 1 "not found" "$V" cas --store "$S" put "$T/does-not-exist"
expect_fail 1 "neither a hash" "$V" cas --store "$S" get 1234xyz "$T/o4"
expect_fail 1 "unknown hash" "$V" cas --store "$S" get "$(printf '%064d' 0)" "$T/o5"
expect_fail 1 "not found" "$V" cas --store "$S" unpin nosuchpin
expect_fail 1 "already exists" "$V" cas --store "$S" get "$root" "$T/out"
mkdir "$T/notstore"; echo notes > "$T/notstore/notes.txt"
expect_fail 1 "not a void cas store" "$V" cas --store "$T/notstore" stat
expect_fail 1 "not a void cas store" "$V" cas --store "$T/notstore" put "$T/src"
expect_fail 1 "not a void cas store" "$V" cas --store "$T/absent" fsck
[ ! -e "$T/notstore/data.mdb" ] || fail "created a store among other files"
if [ "$(id -u)" -ne 0 ]; then
  chmod 000 "$T/src/a.txt"
  expect_fail 1 "permission denied" "$V" cas --store "$S" put "$T/src"
  chmod 600 "$T/src/a.txt"
fi

# A block corrupted on disk: flip a byte of the random blob where the store
# keeps it (a pack file; every copy, should there be several).
python3 - "$S" "$T/src/sub dir/blob" <<'PY'
import glob, os, sys
needle = open(sys.argv[2], 'rb').read()[1000:1032]
hits = 0
for path in glob.glob(os.path.join(sys.argv[1], '**', '*'), recursive=True):
    if not os.path.isfile(path):
        continue
    db = bytearray(open(path, 'rb').read())
    i = db.find(needle)
    while i >= 0:
        db[i + 5] ^= 0xff
        hits += 1
        i = db.find(needle, i + 1)
    if hits:
        open(path, 'r+b').write(db)
assert hits > 0, "chunk bytes not found in the store"
PY
expect_fail 1 "does not match its hash" "$V" cas --store "$S" get "$froot" "$T/o6"
expect_fail 1 "" "$V" cas --store "$S" fsck
grep -q "DAMAGED: .* 1 corrupted" "$T/cmd.out" || fail "fsck report: $(cat "$T/cmd.out")"
rm -rf "$S"

# Full disk: a 4 MiB tmpfs; the put fails cleanly and the store stays usable.
if [ "$(id -u)" -eq 0 ] && command -v mount >/dev/null; then
  MNT="$T/small"; mkdir "$MNT"
  if mount -t tmpfs -o size=4m tmpfs "$MNT" 2>/dev/null; then
    head -c 8000000 /dev/urandom > "$T/toobig"
    "$V" cas --store "$MNT/s" put "$T/src/a.txt" >/dev/null
    expect_fail 1 "no space left" "$V" cas --store "$MNT/s" put "$T/toobig"
    "$V" cas --store "$MNT/s" fsck | grep -q "^clean" || fail "fsck after ENOSPC"
    # The failed put gave its space back: 3 MB fit again, without a gc.
    head -c 3000000 /dev/urandom > "$T/mid"
    "$V" cas --store "$MNT/s" put --pin mid "$T/mid" >/dev/null || fail "space not returned after ENOSPC"
    "$V" cas --store "$MNT/s" put --pin small "$T/src/a.txt" >/dev/null || fail "put after ENOSPC"
    "$V" cas --store "$MNT/s" get small - | cmp - "$T/src/a.txt" || fail "read after ENOSPC"
  else
    echo "skip: cannot mount tmpfs"
  fi
else
  echo "skip: full-disk test needs root"
fi
echo "cas cli: all checks passed"
