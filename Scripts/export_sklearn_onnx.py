#!/usr/bin/env python3
"""Export a scikit-learn ReLU MLP to an ONNX graph that ends at the logits.

The exporter reads a joblib file holding either a fitted ``MLPClassifier`` /
``MLPRegressor`` or a dict with the key ``predictor`` (the layout used by the
Gurobi Machine Learning examples, e.g. ``mnist__mlpclassifier.joblib``).
It builds the ONNX graph directly with ``onnx.helper`` (no skl2onnx):

    input ('N', n_in) -> [Gemm(transB=1) -> Relu] * hidden -> Gemm(transB=1) -> logits

* weights are stored as (out, in), hence ``transB=1``; biases as (out,);
* the output activation of the estimator (softmax / logistic / identity) is
  dropped: the graph output ``logits`` is the last affine layer;
* the batch dimension is dynamic (``dim_param='N'``);
* tensors are float64 unless ``--float32`` is given.

Only ``activation='relu'`` is accepted; any other hidden activation is refused,
because the verifier encodes ReLU networks exactly and nothing else.

With ``--check-images`` the exported file is run with onnxruntime and compared
with the estimator's own forward pass computed in numpy from ``coefs_`` and
``intercepts_``; with ``--check-logits`` it is also compared with stored
logits. The script exits non-zero if the max abs difference exceeds the
tolerance (1e-9 for float64, 1e-4 for float32, override with ``--tol``).

Example (the seed network of the project)::

    python3 Scripts/export_sklearn_onnx.py \\
        /work/shared/seed/mnist__mlpclassifier.joblib /tmp/mnist.onnx \\
        --check-images /work/shared/seed/mnist_first100_images.npy \\
        --check-logits /work/shared/seed/mnist_first100_logits.npy

The functions ``load_mlp``, ``mlp_layers``, ``numpy_logits``,
``build_onnx_model``, ``export_mlp`` and ``verify_export`` can be imported by
other scripts (``train_fashion_mlp.py`` does).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

#: Opset and IR version of the emitted graphs. Opset 13 is old enough for every
#: current ONNX consumer and new enough for all operators used here.
OPSET_VERSION = 13
IR_VERSION = 8

#: Default tolerances (max abs difference) for the onnxruntime check.
TOL_FLOAT64 = 1e-9
TOL_FLOAT32 = 1e-4


class ExportError(Exception):
    """Raised when a model cannot be exported (wrong type, activation, ...)."""


def load_mlp(path: str | Path):
    """Load a fitted MLPClassifier/MLPRegressor from a joblib file.

    The file may hold the estimator itself or a dict with key ``predictor``.
    scikit-learn's ``InconsistentVersionWarning`` (pickled with another
    version) is reported on stderr but does not stop the load.
    """
    import joblib  # imported lazily: only needed when loading files

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        obj = joblib.load(path)
    for w in caught:
        if w.category.__name__ == "InconsistentVersionWarning":
            # Patch-level differences (e.g. pickled by 1.9.0, loaded by 1.9.1) are harmless
            # for an MLP; the numeric check below catches anything that is not.
            print(f"note: {str(w.message).split('. ')[0]}", file=sys.stderr)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if isinstance(obj, dict):
        if "predictor" not in obj:
            raise ExportError(f"{path}: dict has no key 'predictor' (keys: {sorted(obj)})")
        obj = obj["predictor"]
    check_estimator(obj)
    return obj


def check_estimator(est) -> None:
    """Raise ExportError unless ``est`` is a fitted ReLU MLP of scikit-learn."""
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    if not isinstance(est, (MLPClassifier, MLPRegressor)):
        raise ExportError(
            f"expected an MLPClassifier or MLPRegressor, got {type(est).__name__}"
        )
    if not hasattr(est, "coefs_"):
        raise ExportError(f"the {type(est).__name__} is not fitted (no coefs_)")
    if est.activation != "relu":
        raise ExportError(
            f"hidden activation is '{est.activation}'; only 'relu' networks can be "
            "exported (the verifier encodes ReLU exactly and nothing else)"
        )


def mlp_layers(est) -> List[Tuple[np.ndarray, np.ndarray]]:
    """Return the affine layers as a list of (W (in, out), b (out,)) in float64."""
    check_estimator(est)
    layers = []
    for W, b in zip(est.coefs_, est.intercepts_):
        layers.append((np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64)))
    for i in range(1, len(layers)):
        if layers[i][0].shape[0] != layers[i - 1][0].shape[1]:
            raise ExportError(f"layer {i}: weight shape {layers[i][0].shape} does not chain")
    return layers


def _apply_output_activation(est, logits: np.ndarray) -> np.ndarray:
    """Apply the estimator's output activation to logits (for the sanity check)."""
    act = est.out_activation_
    if act == "softmax":
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    if act == "logistic":
        return 1.0 / (1.0 + np.exp(-logits))
    if act == "identity":
        return logits
    if act == "exp":  # MLPRegressor(loss='poisson')
        return np.exp(logits)
    raise ExportError(f"unknown output activation '{act}'")


def _sklearn_output(est, X: np.ndarray) -> np.ndarray:
    """scikit-learn's own output layer values (probabilities or regression values)."""
    if hasattr(est, "predict_proba"):
        proba = est.predict_proba(X)
        # binary classifiers return [1 - p, p]; the network output is p
        return proba[:, 1:] if est.out_activation_ == "logistic" and proba.shape[1] == 2 else proba
    return np.asarray(est.predict(X), dtype=np.float64).reshape(len(X), -1)


def numpy_logits(est, X: np.ndarray) -> np.ndarray:
    """Exact float64 forward pass of the MLP up to (excluding) the output activation."""
    h = np.asarray(X, dtype=np.float64)
    layers = mlp_layers(est)
    for i, (W, b) in enumerate(layers):
        h = h @ W + b
        if i < len(layers) - 1:
            h = np.maximum(h, 0.0)
    return h


def build_onnx_model(
    est, float32: bool = False, graph_name: str = "sklearn_mlp", doc: str = ""
) -> onnx.ModelProto:
    """Build the ONNX ModelProto of the estimator (Gemm+Relu chain, logits out)."""
    layers = mlp_layers(est)
    np_dtype = np.float32 if float32 else np.float64
    onnx_dtype = TensorProto.FLOAT if float32 else TensorProto.DOUBLE
    n_in = layers[0][0].shape[0]
    n_out = layers[-1][0].shape[1]

    initializers = []
    nodes = []
    current = "input"
    for i, (W, b) in enumerate(layers):
        w_name, b_name = f"W{i}", f"b{i}"
        # Stored as (out, in): Gemm computes current @ W_stored^T + b with transB=1.
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(W.T, dtype=np_dtype), w_name))
        initializers.append(numpy_helper.from_array(b.astype(np_dtype), b_name))
        last = i == len(layers) - 1
        z = "logits" if last else f"z{i}"
        nodes.append(helper.make_node("Gemm", [current, w_name, b_name], [z], name=f"gemm{i}", transB=1))
        if not last:
            a = f"a{i}"
            nodes.append(helper.make_node("Relu", [z], [a], name=f"relu{i}"))
            current = a

    graph = helper.make_graph(
        nodes,
        graph_name,
        inputs=[helper.make_tensor_value_info("input", onnx_dtype, ["N", n_in])],
        outputs=[helper.make_tensor_value_info("logits", onnx_dtype, ["N", n_out])],
        initializer=initializers,
        doc_string=doc,
    )
    model = helper.make_model(
        graph,
        producer_name="ReluMIP export_sklearn_onnx.py",
        opset_imports=[helper.make_opsetid("", OPSET_VERSION)],
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


def export_mlp(est, out_path: str | Path, float32: bool = False, doc: str = "") -> onnx.ModelProto:
    """Build the ONNX graph of ``est`` and save it to ``out_path``."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    model = build_onnx_model(est, float32=float32, graph_name=out_path.stem, doc=doc)
    onnx.save_model(model, str(out_path))
    return model


def onnxruntime_logits(onnx_path: str | Path, X: np.ndarray) -> np.ndarray:
    """Run the exported graph with onnxruntime on a batch X (n, n_in)."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    dtype = np.float32 if inp.type == "tensor(float)" else np.float64
    (out,) = sess.run(["logits"], {inp.name: np.asarray(X, dtype=dtype)})
    return np.asarray(out, dtype=np.float64)


def verify_export(
    est,
    onnx_path: str | Path,
    X: np.ndarray,
    ref_logits: Optional[np.ndarray] = None,
    tol: Optional[float] = None,
    float32: bool = False,
) -> float:
    """Compare onnxruntime on the exported file with the numpy forward pass.

    Prints the max abs differences and returns the largest one. Raises
    ExportError if it exceeds ``tol`` (default depends on the precision).
    """
    if tol is None:
        tol = TOL_FLOAT32 if float32 else TOL_FLOAT64
    n_in = mlp_layers(est)[0][0].shape[0]
    X = np.asarray(X, dtype=np.float64).reshape(len(X), n_in)
    if float32:
        # Compare like with like: the float32 graph sees float32-rounded pixels.
        X = X.astype(np.float32).astype(np.float64)
    expected = numpy_logits(est, X)
    got = onnxruntime_logits(onnx_path, X)
    diffs = {"onnxruntime vs numpy forward pass": float(np.max(np.abs(got - expected)))}
    # Sanity check of the numpy forward pass itself against scikit-learn's predictions.
    mismatch = float(np.max(np.abs(_apply_output_activation(est, expected) - _sklearn_output(est, X))))
    if not mismatch <= 1e-9:
        raise ExportError(f"numpy forward pass disagrees with scikit-learn's output by {mismatch:.3e}")
    if ref_logits is not None:
        ref = np.asarray(ref_logits, dtype=np.float64)
        if ref.shape != got.shape:
            raise ExportError(f"check logits have shape {ref.shape}, expected {got.shape}")
        diffs["onnxruntime vs check logits"] = float(np.max(np.abs(got - ref)))
        diffs["numpy forward pass vs check logits"] = float(np.max(np.abs(expected - ref)))
    for what, d in diffs.items():
        print(f"max abs diff ({what}) on {len(X)} inputs: {d:.3e}")
    worst = max(diffs.values())
    if not worst <= tol:
        raise ExportError(f"max abs diff {worst:.3e} exceeds tolerance {tol:.1e}")
    return worst


def describe(est) -> str:
    """One-line description of the network architecture."""
    sizes = [mlp_layers(est)[0][0].shape[0]] + [W.shape[1] for W, _ in mlp_layers(est)]
    return f"{type(est).__name__} " + "-".join(map(str, sizes)) + f" ReLU (output activation '{est.out_activation_}' dropped)"


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("joblib", help="joblib file: MLPClassifier/MLPRegressor or dict with key 'predictor'")
    p.add_argument("out", help="output .onnx file")
    p.add_argument("--float32", action="store_true", help="store tensors as float32 (default float64)")
    p.add_argument("--check-images", metavar="X.npy", help="inputs (n, n_in) to verify the export on")
    p.add_argument("--check-logits", metavar="L.npy", help="expected logits (n, n_out) for --check-images")
    p.add_argument("--tol", type=float, default=None,
                   help=f"max abs diff allowed (default {TOL_FLOAT64:g} float64, {TOL_FLOAT32:g} float32)")
    return p.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if args.check_logits and not args.check_images:
        print("error: --check-logits needs --check-images", file=sys.stderr)
        return 2
    try:
        est = load_mlp(args.joblib)
        export_mlp(est, args.out, float32=args.float32, doc=f"exported from {Path(args.joblib).name}")
        print(f"wrote {args.out}: {describe(est)}, {'float32' if args.float32 else 'float64'}")
        if args.check_images:
            X = np.load(args.check_images)
            ref = np.load(args.check_logits) if args.check_logits else None
            verify_export(est, args.out, X, ref_logits=ref, tol=args.tol, float32=args.float32)
            print("check passed")
    except (ExportError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
