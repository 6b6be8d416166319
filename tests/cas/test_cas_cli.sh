#!/usr/bin/env bash
# End-to-end test of `voidctl store` (the local content store; the old
# spelling `voidctl cas <verb> --store` still works with a deprecation
# note): every verb with and without --json, gc's exact accounting and
# --dry-run, and
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

"$V" store --help | grep -q "put PATH" || fail "help"
"$V" --help | grep -q "store" || fail "voidctl --help lists store"

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
root=$("$V" store --store "$S" put "$T/src")
[[ "$root" =~ ^[0-9a-f]{64}$ ]] || fail "put printed '$root'"
"$V" store --store "$S" get "$root" "$T/out"
diff -r "$T/src" "$T/out" || fail "tree differs"
[ "$(stat -c %a "$T/out/a.txt")" = 600 ] || fail "mode of a.txt"
[ "$(stat -c %a "$T/out/sub dir")" = 750 ] || fail "mode of sub dir"
[ "$(readlink "$T/out/link")" = a.txt ] || fail "symlink"
froot=$("$V" store --store "$S" put "$T/src/sub dir/blob")
"$V" store --store "$S" get "$froot" - | cmp - "$T/src/sub dir/blob" || fail "file to stdout"
sroot=$(cat "$T/src/sub dir/blob" | "$V" store --store "$S" put -)
[ "$sroot" = "$froot" ] || fail "stdin put gives another hash"
"$V" store --store "$S" put --json "$T/src" | json_ok "put --json"
"$V" store --store "$S" put --json "$T/src" | grep -q '"new_bytes":0' || fail "re-put wrote data"

# ls, stat, pins.
"$V" store --store "$S" ls "$root" | grep -q "a.txt" || fail "ls"
"$V" store --store "$S" ls --json "$root" | json_ok "ls --json"
"$V" store --store "$S" ls "$froot" | grep -q "^chunk" || fail "ls of a file lists chunks"
"$V" store --store "$S" stat "$root" | grep -q "files 5" || fail "stat of tree"
"$V" store --store "$S" stat --json "$root" | json_ok "stat HASH --json"
"$V" store --store "$S" pin v1 "$root"
"$V" store --store "$S" pins | grep -q "$root v1" || fail "pins"
"$V" store --store "$S" pins --json | json_ok "pins --json"
"$V" store --store "$S" stat | grep -q "pins 1" || fail "stat"
"$V" store --store "$S" stat --json | json_ok "stat --json"
"$V" store --store "$S" get v1 "$T/out2" && diff -r "$T/src" "$T/out2" || fail "get by pin name"

# gc keeps what v1 reaches, frees the rest; fsck is clean.
"$V" store --store "$S" gc --json | json_ok "gc --json"
"$V" store --store "$S" get "$root" "$T/out3" && diff -r "$T/src" "$T/out3" || fail "gc freed a pinned tree"
"$V" store --store "$S" fsck | grep -q "^clean" || fail "fsck"
"$V" store --store "$S" fsck --json | json_ok "fsck --json"
# The old spelling still works, with a one-line note on stderr.
"$V" cas --store "$S" pins 2>"$T/dep.err" | grep -q "$root v1" || fail "deprecated spelling"
[ "$(wc -l < "$T/dep.err")" -eq 1 ] && grep -q "deprecated.*voidctl store" "$T/dep.err" ||
  fail "deprecation note: $(cat "$T/dep.err")"

# gc accounting, exactly: with nothing pinned, gc frees every block and the
# bytes `stat` counts as stored (records and their pack ranges), once -- not
# also a second time when the emptied pack is removed. --dry-run reports the
# same numbers first and changes nothing.
"$V" store --store "$S" unpin v1
field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
blocks=$("$V" store --store "$S" stat --json | field blocks)
stored=$("$V" store --store "$S" stat --json | field stored_bytes)
dry=$("$V" store --store "$S" gc --dry-run --json)
[ "$(field blocks_freed <<< "$dry")" = "$blocks" ] || fail "dry-run blocks: $dry, stored $blocks"
[ "$(field bytes_freed <<< "$dry")" = "$stored" ] || fail "dry-run bytes: $dry, stored $stored"
[ "$("$V" store --store "$S" stat --json | field blocks)" = "$blocks" ] || fail "dry-run deleted blocks"
"$V" store --store "$S" gc --dry-run | grep -q "^would free $blocks blocks, $stored bytes (dry run" ||
  fail "dry-run text"
out=$("$V" store --store "$S" gc 2>"$T/gc.err")
[ "$out" = "freed $blocks blocks, $stored bytes" ] || fail "gc said '$out'; stat said $blocks blocks, $stored bytes"
grep -q "deleting $blocks blocks that no pin reaches ($stored bytes)" "$T/gc.err" ||
  fail "gc did not announce what goes: $(cat "$T/gc.err")"
echo "ok: gc freed $blocks blocks, $stored bytes (= stored)"
"$V" store --store "$S" stat --json | grep -q '"blocks":0' || fail "gc left blocks after unpin"
"$V" store --store "$S" stat --json | grep -q '"stored_bytes":0' || fail "gc left stored bytes"
[ -z "$(ls "$S/packs")" ] || fail "gc left pack files: $(ls -l "$S/packs")"

# Bytes a killed put left at a pack's end are not records: gc trims them and
# counts them once, beside the records it frees.
froot=$("$V" store --store "$S" put --pin keep "$T/src/sub dir/blob")
"$V" store --store "$S" put "$T/src/a.txt" >/dev/null
pack=$(ls "$S/packs" | head -n 1)
head -c 1000 /dev/urandom >> "$S/packs/$pack"
dry=$("$V" store --store "$S" gc --dry-run --json)
out=$("$V" store --store "$S" gc --json)
[ "$(field bytes_freed <<< "$dry")" = "$(field bytes_freed <<< "$out")" ] || fail "dry-run $dry vs gc $out"
# a.txt's file object and its inline chunk (small, not packed), plus 1000.
freed=$(field bytes_freed <<< "$out")
[ "$freed" -gt 1000 ] && [ "$freed" -lt 1200 ] || fail "trim accounting: $out"
"$V" store --store "$S" get keep - | cmp - "$T/src/sub dir/blob" || fail "gc damaged a pinned file"
"$V" store --store "$S" unpin keep
"$V" store --store "$S" gc >/dev/null 2>&1
"$V" store --store "$S" put --pin v2 "$T/src" >/dev/null

# Errors: usage, missing path, bad hashes, not a store, unknown verb.
expect_fail 2 "give the store" "$V" store put "$T/src"
expect_fail 2 "dry-run applies to gc only" "$V" store --store "$S" fsck --dry-run
expect_fail 2 "zstd-level wants a number from 1 to 19" "$V" store --store "$S" put --zstd-level 99 "$T/src"
expect_fail 2 "chunk-avg wants a number" "$V" store --store "$S" put --chunk-avg 4294967552 "$T/src"
expect_fail 2 "unknown verb" "$V" store --store "$S" frobnicate
expect_fail 2 "wrong number" "$V" store --store "$S" pin onlyname
expect_fail 1 "not found" "$V" store --store "$S" put "$T/does-not-exist"
expect_fail 1 "neither a hash" "$V" store --store "$S" get 1234xyz "$T/o4"
expect_fail 1 "unknown hash" "$V" store --store "$S" get "$(printf '%064d' 0)" "$T/o5"
expect_fail 1 "not found" "$V" store --store "$S" unpin nosuchpin
expect_fail 1 "already exists" "$V" store --store "$S" get "$root" "$T/out"
mkdir "$T/notstore"; echo notes > "$T/notstore/notes.txt"
expect_fail 1 "not a void cas store" "$V" store --store "$T/notstore" stat
expect_fail 1 "not a void cas store" "$V" store --store "$T/notstore" put "$T/src"
expect_fail 1 "not a void cas store" "$V" store --store "$T/absent" fsck
[ ! -e "$T/notstore/data.mdb" ] || fail "created a store among other files"
if [ "$(id -u)" -ne 0 ]; then
  chmod 000 "$T/src/a.txt"
  expect_fail 1 "permission denied" "$V" store --store "$S" put "$T/src"
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
expect_fail 1 "does not match its hash" "$V" store --store "$S" get "$froot" "$T/o6"
expect_fail 1 "" "$V" store --store "$S" fsck
grep -q "DAMAGED: .* 1 corrupted" "$T/cmd.out" || fail "fsck report: $(cat "$T/cmd.out")"
rm -rf "$S"

# Full disk: a 4 MiB tmpfs; the put fails cleanly and the store stays usable.
if [ "$(id -u)" -eq 0 ] && command -v mount >/dev/null; then
  MNT="$T/small"; mkdir "$MNT"
  if mount -t tmpfs -o size=4m tmpfs "$MNT" 2>/dev/null; then
    head -c 8000000 /dev/urandom > "$T/toobig"
    "$V" store --store "$MNT/s" put "$T/src/a.txt" >/dev/null
    expect_fail 1 "no space left" "$V" store --store "$MNT/s" put "$T/toobig"
    "$V" store --store "$MNT/s" fsck | grep -q "^clean" || fail "fsck after ENOSPC"
    # The failed put gave its space back: 3 MB fit again, without a gc.
    head -c 3000000 /dev/urandom > "$T/mid"
    "$V" store --store "$MNT/s" put --pin mid "$T/mid" >/dev/null || fail "space not returned after ENOSPC"
    "$V" store --store "$MNT/s" put --pin small "$T/src/a.txt" >/dev/null || fail "put after ENOSPC"
    "$V" store --store "$MNT/s" get small - | cmp - "$T/src/a.txt" || fail "read after ENOSPC"
  else
    echo "skip: cannot mount tmpfs"
  fi
else
  echo "skip: full-disk test needs root"
fi
echo "cas cli: all checks passed"
