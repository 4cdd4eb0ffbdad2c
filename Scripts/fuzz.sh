#!/usr/bin/env bash
# Fuzzes the readers with libFuzzer: Scripts/fuzz.sh [TARGET…] [--seconds N]
#
# TARGET is onnx, nnet, vnnlib, npy, idx or csv (all by default, one after another). Each runs for
# N seconds (600 by default) on a corpus in .build-fuzz/corpus/TARGET, seeded from ../shared (or
# $RELUMIP_SHARED), Models/ and the test fixtures. Crashes, timeouts and out-of-memory inputs are
# written to .build-fuzz/artifacts/TARGET/; the script lists them and exits 1 if there are any.
# Reproduce one with `.build-fuzz/run/fuzz-TARGET FILE`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

all_targets=(onnx nnet vnnlib npy idx csv)
shared="${RELUMIP_SHARED:-../shared}"
scratch=.build-fuzz

# Copies the files among the arguments that exist into the seed folder.
copy_seeds() {
  local folder="$1"
  shift
  local file
  for file in "$@"; do
    if [ -f "$file" ]; then cp -f "$file" "$folder/"; fi
  done
}

# Small examples of every IDX element type, and gzipped copies.
write_idx_seeds() {
  local folder="$1"
  printf '\x00\x00\x08\x01\x00\x00\x00\x05\x01\x02\x03\x04\x05' >"$folder/labels-idx1-ubyte"
  printf '\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00\x02' \
    >"$folder/images-idx3-ubyte"
  printf '\x00\x10\x20\x30\x40\x50\xff\x80' >>"$folder/images-idx3-ubyte"
  printf '\x00\x00\x09\x02\x00\x00\x00\x02\x00\x00\x00\x01\xff\x01' >"$folder/int8-idx2"
  printf '\x00\x00\x0b\x02\x00\x00\x00\x01\x00\x00\x00\x02\x80\x00\x7f\xff' >"$folder/int16-idx2"
  printf '\x00\x00\x0c\x01\x00\x00\x00\x01\xff\xff\xff\xfe' >"$folder/int32-idx1"
  printf '\x00\x00\x0d\x02\x00\x00\x00\x01\x00\x00\x00\x02\x3f\x80\x00\x00\xbf\x00\x00\x00' \
    >"$folder/float-idx2"
  printf '\x00\x00\x0e\x01\x00\x00\x00\x01\x3f\xf0\x00\x00\x00\x00\x00\x00' >"$folder/double-idx1"
  gzip -c -n "$folder/labels-idx1-ubyte" >"$folder/labels-idx1-ubyte.gz"
  gzip -c -n "$folder/float-idx2" >"$folder/float-idx2.gz"
}

# A 2-3-2 network in the .nnet format (the shared ones are large: slow to mutate).
write_nnet_seeds() {
  local folder="$1"
  printf '%s\n' '// tiny' '2,2,2,3,' '2,3,2,' '0,' '-1,-1,' '1,1,' '0,0,0,' '1,1,1,' \
    '1,-1,' '0.5,2,' '-3e-2,0,' '0,' '1,' '-1,' '1,0,1,' '0,1,-1,' '0.25,' '-0.25,' \
    >"$folder/tiny.nnet"
}

write_csv_seeds() {
  local folder="$1"
  printf 'a,b,c\n0,0.5,1\n1,2,3\n' >"$folder/header.csv"
  printf '# comment\n\n0.1 0.2\t0.3\r\n-1e-3,4e2,5\n' >"$folder/spaces.csv"
  printf '1\n2\n3\n' >"$folder/labels.csv"
  gzip -c -n "$folder/header.csv" >"$folder/header.csv.gz"
  copy_seeds "$folder" "$shared"/bench/ground_truth/*.csv
}

seed_target() {
  local target="$1" folder="$2"
  case "$target" in
    onnx)
      copy_seeds "$folder" "$shared"/seed/*.onnx "$shared"/bench/*/*.onnx Models/*.onnx \
        Tests/ReluMIPTests/Fixtures/onnx/*.onnx
      ;;
    nnet)
      copy_seeds "$folder" "$shared"/bench/*/*.nnet Tests/ReluMIPTests/Fixtures/*/*.nnet
      write_nnet_seeds "$folder"
      ;;
    vnnlib)
      copy_seeds "$folder" "$shared"/bench/*/*.vnnlib Tests/ReluMIPTests/Fixtures/*/*.vnnlib
      ;;
    npy)
      copy_seeds "$folder" "$shared"/seed/*.npy Models/*.npy
      gzip -c -n Models/fashion_test100_labels.npy >"$folder/labels.npy.gz"
      ;;
    idx) write_idx_seeds "$folder" ;;
    csv) write_csv_seeds "$folder" ;;
  esac
}

# Runs one target; returns 1 if it left a new artifact or failed.
fuzz_target() {
  local target="$1" seconds="$2" bin="$3"
  local corpus="$scratch/corpus/$target" seeds="$scratch/seeds/$target"
  local artifacts="$scratch/artifacts/$target" log="$scratch/logs/$target.log"
  mkdir -p "$corpus" "$seeds" "$artifacts" "$scratch/logs" "$scratch/run"
  seed_target "$target" "$seeds"
  # Longer inputs are cut: the shared models and properties are up to 2 MB, and whole networks
  # of that size make each run slow without reaching new code.
  local max_len=16384
  case "$target" in
    onnx) max_len=65536 ;;
    nnet | vnnlib) max_len=32768 ;;
  esac
  local options=("-max_total_time=$seconds" -rss_limit_mb=2048 -timeout=10 "-max_len=$max_len"
    "-artifact_prefix=$artifacts/" -print_final_stats=1)
  if [ -f "Fuzz/$target.dict" ]; then options+=("-dict=Fuzz/$target.dict"); fi
  # Run a copy, so that rebuilding while a target runs cannot touch it.
  cp -f "$bin/fuzz-$target" "$scratch/run/fuzz-$target"
  local command=("$scratch/run/fuzz-$target" "$corpus" "$seeds" "${options[@]}")
  local before status=0
  before="$(ls "$artifacts" | wc -l)"
  echo "+ ${command[*]}  (log: $log)"
  "${command[@]}" >"$log" 2>&1 || status=$?
  # libFuzzer's final line: executions, coverage (cov: edges, ft: features), corpus, speed.
  grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 | sed "s/^/$target: /" || true
  grep -E '^Done [0-9]+ runs' "$log" | tail -n 1 | sed "s/^/$target: /" || true
  if [ "$status" -ne 0 ] || [ "$(ls "$artifacts" | wc -l)" -ne "$before" ]; then
    grep -E '^==[0-9]+== ?ERROR|^SUMMARY|Swift runtime failure|Test unit written' "$log" \
      | sed "s/^/$target: /" || true
    return 1
  fi
}

main() {
  local seconds=600 targets=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --seconds) seconds="$2"; shift 2 ;;
      --seconds=*) seconds="${1#--seconds=}"; shift ;;
      -h | --help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
      *)
        if [[ " ${all_targets[*]} " != *" $1 "* ]]; then
          echo "error: unknown target '$1' (targets: ${all_targets[*]})" >&2
          exit 64
        fi
        targets+=("$1")
        shift
        ;;
    esac
  done
  [ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")

  local build=(swift build --package-path Fuzz -c release -Xswiftc -sanitize=fuzzer,address
    --scratch-path "$scratch")
  echo "+ ${build[*]}"
  "${build[@]}"
  local bin
  bin="$("${build[@]}" --show-bin-path)"

  export SWIFT_BACKTRACE=enable=no  # Swift's crash handler would get in the way of libFuzzer's
  local found=() target
  for target in "${targets[@]}"; do
    fuzz_target "$target" "$seconds" "$bin" || found+=("$target")
  done
  if [ ${#found[@]} -gt 0 ]; then
    echo "Crashes in: ${found[*]} (inputs in $scratch/artifacts/, logs in $scratch/logs/)" >&2
    exit 1
  fi
  echo "No crashes in: ${targets[*]}"
}

# Everything runs from here, after bash has read the whole file, so editing the script while it
# runs cannot change what it does.
main "$@"
