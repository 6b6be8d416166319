#!/usr/bin/env bash
# Every symbol libvoid exports starts with void_ (STYLE.md, "Prefixes"): public
# API void_x, cross-file internals void__x. Anything else would collide with
# the programs that link libvoid and splits every grep. Runs nm on the built
# static library next to the binaries' directory (VOID_BIN/../libvoid.a).
set -euo pipefail
lib="${VOID_BIN:?VOID_BIN not set}/../libvoid.a"
[ -f "$lib" ] || { echo "test_symbols: $lib not found" >&2; exit 1; }

# Defined, external symbols: "address type name" lines of nm -g --defined-only
# (member headers "file.o:" and blank lines have another shape).
symbols=$(nm -g --defined-only "$lib" | awk 'NF == 3 { print $3 }' | sort -u)

# Guard against a check that cannot fail: the library must export its API.
for must in void_strerror void_hlc_now_at void_sign void_codec_decode; do
  if ! grep -qx "$must" <<<"$symbols"; then
    echo "test_symbols: expected $must in $lib; is nm reading the right file?" >&2
    exit 1
  fi
done

bad=$(grep -v '^void_' <<<"$symbols" || true)
if [ -n "$bad" ]; then
  echo "test_symbols: libvoid exports symbols without the void_ prefix:" >&2
  while read -r s; do
    printf '  %s (%s)\n' "$s" "$(nm -A -g --defined-only "$lib" | awk -v s="$s" '$NF == s { split($1, a, ":"); print a[2]; exit }')" >&2
  done <<<"$bad"
  echo "make them static, or name them void_<module>_... / void__<module>_..." >&2
  exit 1
fi
echo "test_symbols: $(wc -l <<<"$symbols") exported symbols, all void_-prefixed"
