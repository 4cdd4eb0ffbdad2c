#!/usr/bin/env bash
# VNN-COMP: run_instance.sh v1 CATEGORY ONNX VNNLIB RESULTS_FILE TIMEOUT
# Writes sat (with the counterexample), unsat, timeout, unknown or error to RESULTS_FILE.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/common.sh"

if [ "$#" -ne 6 ] || [ "$1" != "v1" ]; then
  echo "usage: $0 v1 CATEGORY ONNX VNNLIB RESULTS_FILE TIMEOUT" >&2
  exit 64
fi
onnx="$(unpacked "$3")"
vnnlib="$(unpacked "$4")"
"$relumip" vnnlib "$onnx" "$vnnlib" --timeout "$6" --result-file "$5"
status=$?
# 0 unsat, 10 sat, 20 timeout/unknown: all are answers; the result file says which.
case "$status" in
  0 | 10 | 20) exit 0 ;;
  *)
    [ -s "$5" ] || echo error >"$5"
    exit 0
    ;;
esac
