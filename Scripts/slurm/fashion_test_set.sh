#!/usr/bin/env bash
# The Slurm variant of Scripts/fashion_test_set.sh: the whole Fashion-MNIST test set at the same
# radii, as two sharded runs (one per norm) submitted with Scripts/slurm/submit.sh. Run it on a
# login node from the repository; --dir must be visible from the compute nodes, and so must the
# Fashion-MNIST files (Debian's dataset-fashion-mnist) and the relumip binary.
#
#   Scripts/slurm/fashion_test_set.sh --shards N --dir DIR [--time-limit S] [--linf LIST]
#       [--l1 LIST] [--examples SPEC] [--sbatch OPTION]...
#
# Each norm gets DIR/linf/ or DIR/l1/ with its shard files and, once every task has ended, its
# merged.jsonl. Submitting again with the same arguments runs only the missing instances. Then
#   Scripts/fashion_test_set.sh --no-run --dir DIR
# writes DIR/summary.txt and DIR/robustness.png from the merged files.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

shards=""
dir=""
source Scripts/fashion_test_set.defaults
submit_options=()
usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
  exit "${1:-64}"
}
while [ $# -gt 0 ]; do
  case "$1" in
    --shards) shards=${2:?}; shift 2 ;;
    --dir) dir=${2:?}; shift 2 ;;
    --examples) examples=${2:?}; shift 2 ;;
    --time-limit) time_limit=${2:?}; shift 2 ;;
    --linf) linf=${2-}; shift 2 ;;
    --l1) l1=${2-}; shift 2 ;;
    --sbatch) submit_options+=(--sbatch "${2:?}"); shift 2 ;;
    -h | --help) usage 0 ;;
    *) echo "error: unknown option $1" >&2; usage ;;
  esac
done
[ -n "$shards" ] && [ -n "$dir" ] || usage

data=/usr/share/datasets/fashion-mnist
[ -f "$data/t10k-images-idx3-ubyte.gz" ] ||
  { echo "error: $data is missing: apt-get install dataset-fashion-mnist" >&2; exit 1; }
for norm in linf l1; do
  radii=$([ "$norm" = linf ] && echo "$linf" || echo "$l1")
  [ -n "$radii" ] || continue
  Scripts/slurm/submit.sh --shards "$shards" --dir "$dir/$norm" "${submit_options[@]}" -- \
    Models/fashion_mlp_50x50.onnx --images "$data/t10k-images-idx3-ubyte.gz" \
    --labels "$data/t10k-labels-idx1-ubyte.gz" --examples "$examples" --norm "$norm" \
    --delta "$radii" --target all --time-limit "$time_limit" --quiet
done
