#!/usr/bin/env bash
# VNN-COMP: prepare_instance.sh v1 CATEGORY ONNX VNNLIB
# Checks the instance can be read (so a bad file fails here, not during the timed run) and stops
# any relumip left over from an earlier instance. Gzipped files (.onnx.gz, .vnnlib.gz) are
# unpacked beside the cache folder that run_instance.sh reads them from.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/common.sh"

if [ "$#" -ne 4 ] || [ "$1" != "v1" ]; then
  echo "usage: $0 v1 CATEGORY ONNX VNNLIB" >&2
  exit 64
fi
category="$2"
pkill -x relumip 2>/dev/null || true
onnx="$(unpacked "$3")"
vnnlib="$(unpacked "$4")"
echo "preparing $category: $(basename "$onnx") $(basename "$vnnlib")"
"$relumip" info "$onnx" >/dev/null
