#!/usr/bin/env python3
"""Builds the versioned corpus of the cas_dedup bench, reproducibly.

Version 1 is a copy of a real source tree (default /usr/lib/python3.11 of
Debian 12: about 54 MB in 1400 files, text and bytecode). Each next version
is the previous one edited by a seeded random script in the way releases of
a package differ: about 8 % of the files get edits (lines inserted, deleted
or changed at random places), 1 % are deleted, 1 % are added (copies of
other files with edits), and a few are renamed. The same seed and source
give the same bytes.

usage: cas_corpus.py OUTDIR [--versions 5] [--seed 1] [--source DIR]
"""
import argparse
import os
import random
import shutil


def edit_bytes(rng, data):
    """Inserts, deletes or rewrites a few line-sized pieces of data."""
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        pos = rng.randrange(len(data) + 1)
        op = rng.random()
        piece = bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz _=()\n") for _ in range(rng.randint(10, 200)))
        if op < 0.4:
            data[pos:pos] = piece
        elif op < 0.7:
            del data[pos:pos + rng.randint(10, 300)]
        else:
            data[pos:pos + len(piece)] = piece
    return bytes(data)


def files_under(root):
    out = []
    for d, _, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            if os.path.isfile(p) and not os.path.islink(p):
                out.append(os.path.relpath(p, root))
    return sorted(out)


def next_version(rng, prev, cur):
    shutil.copytree(prev, cur, symlinks=True)
    files = files_under(cur)
    for rel in files:
        p = os.path.join(cur, rel)
        r = rng.random()
        if r < 0.08:
            with open(p, "rb") as f:
                data = f.read()
            with open(p, "wb") as f:
                f.write(edit_bytes(rng, data))
        elif r < 0.09:
            os.unlink(p)
        elif r < 0.10:
            src = os.path.join(cur, rng.choice(files))
            if os.path.exists(src):
                with open(src, "rb") as f:
                    data = f.read()
                with open(p + ".new%d" % rng.randrange(1000), "wb") as f:
                    f.write(edit_bytes(rng, data))
        elif r < 0.102:
            os.rename(p, p + ".renamed")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--versions", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--source", default="/usr/lib/python3.11")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    os.makedirs(a.outdir, exist_ok=True)
    v1 = os.path.join(a.outdir, "v1")
    shutil.copytree(a.source, v1, symlinks=True)
    for v in range(2, a.versions + 1):
        next_version(rng, os.path.join(a.outdir, "v%d" % (v - 1)), os.path.join(a.outdir, "v%d" % v))


if __name__ == "__main__":
    main()
