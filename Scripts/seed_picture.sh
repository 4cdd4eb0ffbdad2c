#!/usr/bin/env bash
# The README's picture of the reference case: the seed network (../shared/seed, Gurobi Machine
# Learning's adversarial MNIST example), example 26, the L1 ball of radius 5 ∩ [0, 1]^784,
# target runner-up, drawn by `relumip verify --save-image` (original, counterexample and their
# difference, captioned). Writes docs/seed_case.png (or the file given as the first argument).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
seed=../shared/seed
out=${1:-docs/seed_case.png}
[ -d "$seed" ] || { echo "error: $seed is missing (the reference case's data)" >&2; exit 1; }
swift build -c release --product relumip >&2
mkdir -p "$(dirname "$out")"
status=0
.build/release/relumip verify "$seed/mnist_mlp_50x50.onnx" --images "$seed/mnist_first100_images.npy" \
  --example 26 --norm l1 --delta 5 --save-image "$out" || status=$?
# 10: a counterexample, the answer the picture shows.
[ "$status" -eq 10 ] || { echo "error: expected a counterexample (exit 10), got exit $status" >&2; exit 1; }
echo "wrote $out" >&2
