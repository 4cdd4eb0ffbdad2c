#!/usr/bin/env bash
# Exports the reference scikit-learn network (joblib) to ONNX with Scripts/export_sklearn_onnx.py,
# then checks that `relumip verify` answers the reference case on it exactly as on the shipped
# ONNX: a counterexample for example 26 at L1 radius 5 whose label is not 4.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
seed="${1:-../shared/seed}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

python3 Scripts/export_sklearn_onnx.py "$seed/mnist__mlpclassifier.joblib" "$work/exported.onnx" \
  --check-images "$seed/mnist_first100_images.npy" --check-logits "$seed/mnist_first100_logits.npy"
swift build --product relumip >/dev/null
for model in "$seed/mnist_mlp_50x50.onnx" "$work/exported.onnx"; do
  set +e
  .build/debug/relumip verify "$model" --images "$seed/mnist_first100_images.npy" \
    --example 26 --norm l1 --delta 5 --json > "$work/result.json"
  status=$?
  set -e
  python3 - "$work/result.json" "$status" "$model" <<'PY'
import json, sys
result = json.load(open(sys.argv[1]))
status, model = int(sys.argv[2]), sys.argv[3]
assert status == 10, f"{model}: exit status {status}, expected 10 (counterexample)"
assert result["result"] == "counterexample", result["result"]
assert result["label"] == 4 and result["predicted_label"] != 4, result
assert result["distance"] <= 5 + 1e-9, result["distance"]
print(f"exporter check: {model}: counterexample labelled {result['predicted_label']} "
      f"at L1 distance {result['distance']:.4f}")
PY
done
