# Sourced first by the bench scripts (not a bench itself): the argument
# handling and paths they share.
#
# bench_args NAME "$@": -h or --help prints the script's header comment (its
# lines from the second up to the first that is not a comment, without the
# "# ") and exits 0; no argument goes on; anything else exits 2 with
# "NAME: unknown argument '...' (see --help)". Then sets root (the source
# tree: VOID_SOURCE_DIR, else the tree the script lies in) and bin (VOID_BIN,
# else $root/build/bin).
bench_args() {
  local name=$1
  shift
  case "${1:-}" in
    -h|--help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;;
    "") ;;
    *) echo "$name: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  root=${VOID_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
  bin=${VOID_BIN:-$root/build/bin}
}
