# Shared by the VNN-COMP scripts: where relumip is, and unpacking gzipped instance files.
repository="$(cd "$here/../.." && pwd)"
relumip="${RELUMIP:-$repository/.build/release/relumip}"
if [ ! -x "$relumip" ]; then
  echo "error: $relumip is missing; build it with: swift build -c release --product relumip" >&2
  exit 1
fi

# Prints the path of a readable, uncompressed copy of FILE (FILE itself unless it ends in .gz).
unpacked() {
  case "$1" in
    *.gz)
      local cache="${TMPDIR:-/tmp}/relumip-vnncomp"
      mkdir -p "$cache"
      local target="$cache/$(basename "${1%.gz}")"
      if [ ! -s "$target" ] || [ "$1" -nt "$target" ]; then
        gzip -dc "$1" >"$target.partial" && mv "$target.partial" "$target"
      fi
      echo "$target"
      ;;
    *) echo "$1" ;;
  esac
}
