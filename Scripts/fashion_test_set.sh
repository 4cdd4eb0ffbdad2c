#!/usr/bin/env bash
# Verified robust accuracy of the shipped Fashion-MNIST network on the whole Fashion-MNIST test
# set (10,000 images, from Debian's dataset-fashion-mnist), at several L∞ and L1 radii, target
# all. Resumable: run it again (same --dir) to continue where it stopped, or with more radii to
# extend a finished run. Writes, in --dir:
#   linf.jsonl, l1.jsonl   the batch result files (one JSON line per instance)
#   summary.txt            `relumip summarize` of both, then Scripts/batch_report.py's throughput,
#                          slowest instances and the share of each stage
#   robustness.png         Scripts/plot_results.py: verified robust accuracy and its upper bound
#   wall_times.tsv         one line per invocation and norm: start, seconds, instances run
#
#   Scripts/fashion_test_set.sh [--dir DIR] [--jobs N] [--examples SPEC] [--time-limit S]
#       [--linf LIST] [--l1 LIST] [--no-run]
#
#   --dir DIR         results folder (default: results/fashion-test-set, not committed)
#   --jobs N          worker threads (default: the number of processors)
#   --examples SPEC   which test images (default 0..9999)
#   --time-limit S    seconds per instance (default 60)
#   --linf LIST       L∞ radii (default 0.002,0.005,0.01); empty to skip
#   --l1 LIST         L1 radii (default 0.25,1,2,4,8); empty to skip
#   --no-run          only summarize and plot what the result files hold
#   --publish DIR     also copy summary.txt and robustness.png into DIR (the README shows
#                     docs/fashion-test-set/, written this way)
#
# The Slurm variant of the same run: Scripts/slurm/fashion_test_set.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

dir="results/fashion-test-set"
jobs=""
source Scripts/fashion_test_set.defaults
run=true
publish=""
usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
  exit "${1:-64}"
}
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir=${2:?}; shift 2 ;;
    --jobs) jobs=${2:?}; shift 2 ;;
    --examples) examples=${2:?}; shift 2 ;;
    --time-limit) time_limit=${2:?}; shift 2 ;;
    --linf) linf=${2-}; shift 2 ;;
    --l1) l1=${2-}; shift 2 ;;
    --no-run) run=false; shift ;;
    --publish) publish=${2:?}; shift 2 ;;
    -h | --help) usage 0 ;;
    *) echo "error: unknown option $1" >&2; usage ;;
  esac
done

data=/usr/share/datasets/fashion-mnist
images="$data/t10k-images-idx3-ubyte.gz"
labels="$data/t10k-labels-idx1-ubyte.gz"
model=Models/fashion_mlp_50x50.onnx
relumip=.build/release/relumip
mkdir -p "$dir"

if $run; then
  Scripts/install_dependencies.sh --fashion-mnist
  swift build -c release --product relumip >&2
  for norm in linf l1; do
    radii=$([ "$norm" = linf ] && echo "$linf" || echo "$l1")
    [ -n "$radii" ] || continue
    out="$dir/$norm.jsonl"
    before=$( [ -f "$out" ] && wc -l <"$out" || echo 0)
    start=$(date +%s.%N)
    status=0
    "$relumip" batch "$model" --images "$images" --labels "$labels" --examples "$examples" \
      --norm "$norm" --delta "$radii" --target all --time-limit "$time_limit" \
      ${jobs:+--jobs "$jobs"} --out "$out" --resume || status=$?
    end=$(date +%s.%N)
    after=$(wc -l <"$out")
    printf '%s\t%s\t%.1f\t%d\t%s\n' "$(date -u -d "@${start%.*}" +%FT%TZ)" "$norm" \
      "$(awk "BEGIN { print $end - $start }")" "$((after - before))" "${jobs:-$(nproc)}" \
      >>"$dir/wall_times.tsv"
    # 1: some instances errored (recorded in the file); anything else stops the script.
    [ "$status" -le 1 ] || exit "$status"
  done
fi

# A local run's files, or the merged files of the Slurm variant (Scripts/slurm/fashion_test_set.sh).
files=()
for norm in linf l1; do
  for file in "$dir/$norm.jsonl" "$dir/$norm/merged.jsonl"; do
    if [ -s "$file" ]; then files+=("$file"); break; fi
  done
done
[ ${#files[@]} -gt 0 ] || { echo "error: no result files in $dir" >&2; exit 1; }
{
  for file in "${files[@]}"; do "$relumip" summarize "$file"; echo; done
  python3 Scripts/batch_report.py "${files[@]}" --wall-times "$dir/wall_times.tsv"
} >"$dir/summary.txt.tmp"
mv "$dir/summary.txt.tmp" "$dir/summary.txt"
python3 Scripts/plot_results.py "${files[@]}" --out "$dir/robustness.png" \
  --title "Fashion-MNIST MLP 784-50-50-10, test set: verified robust accuracy"
cat "$dir/summary.txt"
if [ -n "$publish" ]; then
  mkdir -p "$publish"
  cp "$dir/summary.txt" "$dir/robustness.png" "$publish/"
  echo "copied summary.txt and robustness.png to $publish" >&2
fi
