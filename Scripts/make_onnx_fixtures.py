#!/usr/bin/env python3
"""Write small ONNX test fixtures for ReluMIP's ONNX importer.

Every fixture is a tiny ReLU network with random weights drawn from a fixed
seed (each fixture has its own seed, so adding one does not change the
others). The graphs imitate what common exporters emit: Gemm with and without
transposes / alpha / beta, MatMul+Add (PyTorch, Keras), input normalisation
(Mul/Sub/Div by constants), Flatten, Reshape with a Constant shape, Identity,
a trailing Softmax / LogSoftmax, dynamic batch dimensions, raw_data versus
typed (float_data / double_data) initializers, float32 and float64, and
weights in an external data file beside the graph (as PyTorch 2's dynamo
exporter writes them).

Alongside the .onnx files an ``expected.json`` maps each file name to

* valid files: ``{"input_shape": [...], "declared_input_shape": [...],
  "dtype": "float32"|"float64", "tolerance": t, "inputs": [[...], ...],
  "outputs": [[...], ...], "note": "..."}`` where ``inputs`` are a few random
  inputs flattened in row-major order (each of shape ``input_shape``, batch 1)
  and ``outputs`` are the onnxruntime outputs flattened. If the graph ends in
  Softmax/LogSoftmax, ``outputs`` are the logits *before* it (the verifier
  drops the final normalisation) and ``graph_outputs`` holds what onnxruntime
  returns for the full graph. ``tolerance`` is a suggested max abs
  difference for a float64 re-implementation of the forward pass.
* invalid files: ``{"error_contains": "...", "note": "..."}``: the importer
  must reject the file with an error whose message contains that string
  (``""`` = any error; used for the truncated file, whose message depends on
  the protobuf reader).

A valid fixture whose spec sets ``external_data`` is saved with its
initializers in ``NAME.data`` beside ``NAME`` (``expected.json`` records the
file as ``"external_data"``); onnxruntime must give the same outputs from the
saved pair as from the model held in memory.

Usage::

    python3 Scripts/make_onnx_fixtures.py [--out-dir Tests/ReluMIPTests/Fixtures/onnx]

The output is deterministic: running it again rewrites identical files.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

DEFAULT_OUT_DIR = Path(__file__).resolve().parent.parent / "Tests" / "ReluMIPTests" / "Fixtures" / "onnx"
OPSET_VERSION = 13
IR_VERSION = 8
N_INPUTS = 4          # random inputs per valid fixture
MAX_FILE_BYTES = 10 * 1024

F32, F64 = TensorProto.FLOAT, TensorProto.DOUBLE
NP_OF = {F32: np.float32, F64: np.float64}


# --------------------------------------------------------------------------- helpers

def tensor(name: str, array: np.ndarray, elem_type: int, storage: str = "raw") -> TensorProto:
    """Make an initializer; storage 'raw' uses raw_data, 'typed' float_data/double_data."""
    array = np.asarray(array, dtype=NP_OF[elem_type])
    if storage == "raw":
        return numpy_helper.from_array(array, name)
    if storage == "typed":
        t = helper.make_tensor(name, elem_type, list(array.shape), array.ravel().tolist(), raw=False)
        assert not t.raw_data
        return t
    raise ValueError(storage)


def value_info(name: str, elem_type: int, shape: Sequence) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem_type, list(shape))


def make_model(nodes, name, inputs, outputs, initializers, doc="") -> onnx.ModelProto:
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=initializers, doc_string=doc)
    model = helper.make_model(graph, producer_name="ReluMIP make_onnx_fixtures.py",
                              opset_imports=[helper.make_opsetid("", OPSET_VERSION)])
    model.ir_version = IR_VERSION
    return model


def weights(rng: np.random.Generator, n_out: int, n_in: int) -> np.ndarray:
    """He-like random weights of shape (n_out, n_in)."""
    return rng.normal(0.0, np.sqrt(2.0 / n_in), size=(n_out, n_in))


def bias(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.normal(0.0, 0.3, size=n)


def run(model: onnx.ModelProto, x: np.ndarray, output: Optional[str] = None) -> np.ndarray:
    """Run ``model`` with onnxruntime on one input; ``output`` may name an inner tensor."""
    if output is not None and output not in [o.name for o in model.graph.output]:
        model = onnx.ModelProto.FromString(model.SerializeToString())
        elem = model.graph.output[0].type.tensor_type.elem_type
        model.graph.output.append(helper.make_tensor_value_info(output, elem, None))
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    name = output or sess.get_outputs()[0].name
    (y,) = sess.run([name], {sess.get_inputs()[0].name: x})
    return np.asarray(y)


# --------------------------------------------------------------------------- fixture builders
# Each builder returns (model, spec) where spec holds the concrete input_shape, dtype,
# the tensor to report as output (None = the graph output) and a note.

def gemm_f32_raw(rng):
    W0, b0, W1, b1 = weights(rng, 5, 4), bias(rng, 5), weights(rng, 3, 5), bias(rng, 3)
    nodes = [
        helper.make_node("Gemm", ["input", "W0", "b0"], ["z0"], transB=1),
        helper.make_node("Relu", ["z0"], ["a0"]),
        helper.make_node("Gemm", ["a0", "W1", "b1"], ["output"], transB=1),
    ]
    inits = [tensor("W0", W0, F32), tensor("b0", b0, F32), tensor("W1", W1, F32), tensor("b1", b1, F32)]
    model = make_model(nodes, "gemm_f32_raw", [value_info("input", F32, [1, 4])],
                       [value_info("output", F32, [1, 3])], inits)
    return model, dict(input_shape=[1, 4], note="4-5-3, Gemm transB=1, float32 initializers in raw_data")


def gemm_f64_typed(rng):
    # transB=0: weights stored (in, out). Y = alpha * A @ B + beta * C.
    W0, b0, W1, b1 = weights(rng, 5, 4).T, bias(rng, 5), weights(rng, 3, 5).T, bias(rng, 3)
    nodes = [
        helper.make_node("Gemm", ["input", "W0", "b0"], ["z0"], alpha=0.5, beta=2.0, transB=0),
        helper.make_node("Relu", ["z0"], ["a0"]),
        helper.make_node("Gemm", ["a0", "W1", "b1"], ["output"], alpha=1.5, beta=-0.5),
    ]
    inits = [tensor(n, a, F64, "typed") for n, a in (("W0", W0), ("b0", b0), ("W1", W1), ("b1", b1))]
    model = make_model(nodes, "gemm_f64_typed", [value_info("input", F64, [1, 4])],
                       [value_info("output", F64, [1, 3])], inits)
    return model, dict(input_shape=[1, 4],
                       note="4-5-3 float64 in double_data; Gemm transB=0 (weights (in,out)) with "
                            "alpha=0.5 beta=2.0, then alpha=1.5 beta=-0.5 (transB attribute absent)")


def gemm_transA(rng):
    # The input is a column vector (4, 1); Gemm transA=1 makes it the row (1, 4).
    W0, b0, W1, b1 = weights(rng, 5, 4), bias(rng, 5), weights(rng, 3, 5), bias(rng, 3)
    nodes = [
        helper.make_node("Gemm", ["input", "W0", "b0"], ["z0"], transA=1, transB=1),
        helper.make_node("Relu", ["z0"], ["a0"]),
        helper.make_node("Gemm", ["a0", "W1", "b1"], ["output"], transB=1),
    ]
    inits = [tensor(n, a, F64) for n, a in (("W0", W0), ("b0", b0), ("W1", W1), ("b1", b1))]
    model = make_model(nodes, "gemm_transA", [value_info("input", F64, [4, 1])],
                       [value_info("output", F64, [1, 3])], inits)
    return model, dict(input_shape=[4, 1],
                       note="input is a (4,1) column vector; first Gemm has transA=1 and transB=1; "
                            "output (1,3)")


def matmul_add(rng):
    W0, b0, W1, b1 = weights(rng, 5, 4).T, bias(rng, 5), weights(rng, 3, 5).T, bias(rng, 3)
    nodes = [
        helper.make_node("MatMul", ["input", "W0"], ["m0"]),
        helper.make_node("Add", ["m0", "b0"], ["z0"]),
        helper.make_node("Relu", ["z0"], ["a0"]),
        helper.make_node("MatMul", ["a0", "W1"], ["m1"]),
        # bias first: Add is commutative and some exporters emit it this way round
        helper.make_node("Add", ["b1", "m1"], ["output"]),
    ]
    inits = [tensor(n, a, F32, "typed") for n, a in (("W0", W0), ("b0", b0), ("W1", W1), ("b1", b1))]
    model = make_model(nodes, "matmul_add", [value_info("input", F32, ["N", 4])],
                       [value_info("output", F32, ["N", 3])], inits)
    return model, dict(input_shape=[1, 4],
                       note="PyTorch/Keras style MatMul (weights (in,out)) + Add, float32 in float_data; "
                            "second Add has the bias as its first operand")


def normalize_sub_div(rng):
    W0, b0, W1, b1 = weights(rng, 5, 4), bias(rng, 5), weights(rng, 3, 5), bias(rng, 3)
    scale = np.array(1.0 / 255.0)
    mean = rng.uniform(0.2, 0.6, size=(1, 2, 2))     # per-pixel, broadcast over the batch
    std = np.array([0.3])                            # one value, broadcast everywhere
    nodes = [
        helper.make_node("Mul", ["input", "scale"], ["scaled"]),
        helper.make_node("Sub", ["scaled", "mean"], ["centred"]),
        helper.make_node("Div", ["centred", "std"], ["normalized"]),
        helper.make_node("Flatten", ["normalized"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "W0", "b0"], ["z0"], transB=1),
        helper.make_node("Relu", ["z0"], ["a0"]),
        helper.make_node("Gemm", ["a0", "W1", "b1"], ["output"], transB=1),
    ]
    inits = [tensor("scale", scale, F32), tensor("mean", mean, F32), tensor("std", std, F32)]
    inits += [tensor(n, a, F32) for n, a in (("W0", W0), ("b0", b0), ("W1", W1), ("b1", b1))]
    model = make_model(nodes, "normalize_sub_div", [value_info("input", F32, ["N", 1, 2, 2])],
                       [value_info("output", F32, ["N", 3])], inits)
    return model, dict(input_shape=[1, 1, 2, 2], input_range=[0.0, 255.0],
                       note="input (N,1,2,2) in [0,255] -> Mul(1/255, scalar) -> Sub(mean, shape (1,2,2)) -> "
                            "Div(std, shape (1,)) -> Flatten -> Gemm -> Relu -> Gemm; float32")


def reshape_identity(rng):
    W0, b0, W1, b1 = weights(rng, 5, 4), bias(rng, 5), weights(rng, 3, 5), bias(rng, 3)
    shape_const = helper.make_tensor("shape_value", TensorProto.INT64, [2], [-1, 4])
    nodes = [
        helper.make_node("Constant", [], ["shape"], value=shape_const),
        helper.make_node("Reshape", ["input", "shape"], ["flat"]),
        helper.make_node("Identity", ["flat"], ["flat_id"]),
        helper.make_node("Gemm", ["flat_id", "W0", "b0"], ["z0"], transB=1),
        helper.make_node("Relu", ["z0"], ["a0"]),
        helper.make_node("Gemm", ["a0", "W1", "b1"], ["logits"], transB=1),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
    ]
    inits = [tensor(n, a, F64) for n, a in (("W0", W0), ("b0", b0), ("W1", W1), ("b1", b1))]
    model = make_model(nodes, "reshape_identity", [value_info("input", F64, ["N", 1, 2, 2])],
                       [value_info("probabilities", F64, ["N", 3])], inits)
    return model, dict(input_shape=[1, 1, 2, 2], output="logits",
                       note="input (N,1,2,2) -> Reshape to (-1,4) via a Constant node -> Identity -> Gemm -> "
                            "Relu -> Gemm -> Softmax(axis=1); softmax dropped: outputs are the logits "
                            "before it (graph_outputs are the softmax values)")


def dynamic_batch(rng):
    W0, b0, W1, b1 = weights(rng, 5, 4), bias(rng, 5), weights(rng, 3, 5), bias(rng, 3)
    nodes = [
        helper.make_node("Gemm", ["input", "W0", "b0"], ["z0"], transB=1),
        helper.make_node("Relu", ["z0"], ["a0"]),
        helper.make_node("Gemm", ["a0", "W1", "b1"], ["output"], transB=1),
    ]
    inits = [tensor(n, a, F64) for n, a in (("W0", W0), ("b0", b0), ("W1", W1), ("b1", b1))]
    model = make_model(nodes, "dynamic_batch", [value_info("input", F64, ["batch", 4])],
                       [value_info("output", F64, ["batch", 3])], inits)
    return model, dict(input_shape=[1, 4], note="4-5-3 float64 with dim_param 'batch' on input and output")


def consecutive_affine(rng):
    W0, b0 = weights(rng, 5, 4), bias(rng, 5)
    W1, b1 = weights(rng, 4, 5), bias(rng, 4)
    W2, b2 = weights(rng, 3, 4), bias(rng, 3)
    nodes = [
        helper.make_node("Gemm", ["input", "W0", "b0"], ["z0"], transB=1),
        helper.make_node("Gemm", ["z0", "W1", "b1"], ["z1"], transB=1),
        helper.make_node("Relu", ["z1"], ["a1"]),
        helper.make_node("Gemm", ["a1", "W2", "b2"], ["output"], transB=1),
    ]
    inits = [tensor(n, a, F64) for n, a in
             (("W0", W0), ("b0", b0), ("W1", W1), ("b1", b1), ("W2", W2), ("b2", b2))]
    model = make_model(nodes, "consecutive_affine", [value_info("input", F64, [1, 4])],
                       [value_info("output", F64, [1, 3])], inits)
    return model, dict(input_shape=[1, 4],
                       note="Gemm(4->5) -> Gemm(5->4) -> Relu -> Gemm(4->3): two affine layers in a row, "
                            "no ReLU between them")


def logsoftmax_end(rng):
    W0, b0, W1, b1 = weights(rng, 5, 4), bias(rng, 5), weights(rng, 3, 5), bias(rng, 3)
    nodes = [
        helper.make_node("Gemm", ["input", "W0", "b0"], ["z0"], transB=1),
        helper.make_node("Relu", ["z0"], ["a0"]),
        helper.make_node("Gemm", ["a0", "W1", "b1"], ["logits"], transB=1),
        helper.make_node("LogSoftmax", ["logits"], ["log_probabilities"], axis=-1),
    ]
    inits = [tensor(n, a, F32) for n, a in (("W0", W0), ("b0", b0), ("W1", W1), ("b1", b1))]
    model = make_model(nodes, "logsoftmax_end", [value_info("input", F32, ["N", 4])],
                       [value_info("log_probabilities", F32, ["N", 3])], inits)
    return model, dict(input_shape=[1, 4], output="logits",
                       note="Gemm -> Relu -> Gemm -> LogSoftmax(axis=-1), float32; log-softmax dropped: "
                            "outputs are the logits before it (graph_outputs are the log-probabilities)")


def tiny_mlp(rng):
    W0, b0 = weights(rng, 4, 2), bias(rng, 4)
    W1, b1 = weights(rng, 4, 4), bias(rng, 4)
    W2, b2 = weights(rng, 2, 4), bias(rng, 2)
    nodes = [
        helper.make_node("Gemm", ["input", "W0", "b0"], ["z0"], transB=1),
        helper.make_node("Relu", ["z0"], ["a0"]),
        helper.make_node("Gemm", ["a0", "W1", "b1"], ["z1"], transB=1),
        helper.make_node("Relu", ["z1"], ["a1"]),
        helper.make_node("Gemm", ["a1", "W2", "b2"], ["logits"], transB=1),
    ]
    inits = [tensor(n, a, F64) for n, a in
             (("W0", W0), ("b0", b0), ("W1", W1), ("b1", b1), ("W2", W2), ("b2", b2))]
    model = make_model(nodes, "tiny_mlp", [value_info("input", F64, ["N", 2])],
                       [value_info("logits", F64, ["N", 2])], inits)
    return model, dict(input_shape=[1, 2], input_range=[0.0, 1.0],
                       note="2-4-4-2 ReLU MLP, float64, for property tests (inputs in [0,1]^2)")


def gemm_only(rng):
    W0, b0 = weights(rng, 3, 4), bias(rng, 3)
    nodes = [helper.make_node("Gemm", ["input", "W0", "b0"], ["output"], transB=1)]
    inits = [tensor("W0", W0, F32), tensor("b0", b0, F32)]
    model = make_model(nodes, "gemm_only", [value_info("input", F32, [1, 4])],
                       [value_info("output", F32, [1, 3])], inits)
    return model, dict(input_shape=[1, 4], input_range=[0.0, 1.0],
                       note="4-3, one Gemm and no hidden layer (a linear classifier), float32")


def external_data(rng):
    W0, b0 = weights(rng, 8, 6), bias(rng, 8)
    W1, b1 = weights(rng, 5, 8), bias(rng, 5)
    W2, b2 = weights(rng, 3, 5), bias(rng, 3)
    nodes = [
        helper.make_node("Gemm", ["input", "W0", "b0"], ["z0"], transB=1),
        helper.make_node("Relu", ["z0"], ["a0"]),
        helper.make_node("Gemm", ["a0", "W1", "b1"], ["z1"], transB=1),
        helper.make_node("Relu", ["z1"], ["a1"]),
        helper.make_node("Gemm", ["a1", "W2", "b2"], ["output"], transB=1),
    ]
    inits = [tensor(n, a, F32) for n, a in
             (("W0", W0), ("b0", b0), ("W1", W1), ("b1", b1), ("W2", W2), ("b2", b2))]
    model = make_model(nodes, "external_data", [value_info("input", F32, ["N", 6])],
                       [value_info("output", F32, ["N", 3])], inits)
    return model, dict(input_shape=[1, 6], external_data=True,
                       note="6-8-5-3 Gemm+Relu MLP, float32, every initializer in external_data.onnx.data "
                            "(data_location EXTERNAL with location, offset and length), as PyTorch 2's "
                            "dynamo exporter saves weights")


VALID: Dict[str, Callable] = {
    "gemm_f32_raw.onnx": gemm_f32_raw,
    "gemm_f64_typed.onnx": gemm_f64_typed,
    "gemm_transA.onnx": gemm_transA,
    "matmul_add.onnx": matmul_add,
    "normalize_sub_div.onnx": normalize_sub_div,
    "reshape_identity.onnx": reshape_identity,
    "dynamic_batch.onnx": dynamic_batch,
    "consecutive_affine.onnx": consecutive_affine,
    "logsoftmax_end.onnx": logsoftmax_end,
    "tiny_mlp.onnx": tiny_mlp,
    "gemm_only.onnx": gemm_only,
    "external_data.onnx": external_data,
}


# --------------------------------------------------------------------------- invalid fixtures

def unsupported_op(rng):
    model, _ = gemm_f32_raw(rng)
    # Replace the Relu by a Sigmoid: a valid ONNX graph that is not piecewise linear.
    for node in model.graph.node:
        if node.op_type == "Relu":
            node.op_type = "Sigmoid"
    return model, dict(error_contains="Sigmoid",
                       note="Gemm -> Sigmoid -> Gemm: valid ONNX (onnxruntime runs it) but Sigmoid is not supported")


def nan_weights(rng):
    model, _ = dynamic_batch(rng)
    init = next(t for t in model.graph.initializer if t.name == "W0")
    W0 = numpy_helper.to_array(init).copy()
    W0[2, 1] = np.nan
    init.CopyFrom(numpy_helper.from_array(W0, "W0"))
    return model, dict(error_contains="NaN", note="W0[2,1] of the first Gemm is NaN (float64 raw_data)")


def shape_mismatch(rng):
    model, _ = gemm_f32_raw(rng)
    # Second Gemm expects 6 inputs but the first layer has 5 outputs.
    init = next(t for t in model.graph.initializer if t.name == "W1")
    init.CopyFrom(tensor("W1", weights(rng, 3, 6), F32))
    return model, dict(error_contains="shape",
                       note="second Gemm weight is (3,6) with transB=1 but the previous layer has 5 outputs")


INVALID: Dict[str, Callable] = {
    "unsupported_op.onnx": unsupported_op,
    "nan_weights.onnx": nan_weights,
    "shape_mismatch.onnx": shape_mismatch,
}


# --------------------------------------------------------------------------- driver

def random_inputs(rng, spec: dict, dtype) -> List[np.ndarray]:
    lo, hi = spec.get("input_range", [-1.0, 1.0])
    return [rng.uniform(lo, hi, size=spec["input_shape"]).astype(dtype) for _ in range(N_INPUTS)]


def declared_shape(model: onnx.ModelProto) -> list:
    dims = model.graph.input[0].type.tensor_type.shape.dim
    return [d.dim_param if d.HasField("dim_param") else d.dim_value for d in dims]


def build_valid(name: str, builder: Callable, seed: int) -> tuple[onnx.ModelProto, dict]:
    rng = np.random.default_rng(seed)
    model, spec = builder(rng)
    onnx.checker.check_model(model, full_check=True)
    elem = model.graph.input[0].type.tensor_type.elem_type
    dtype = NP_OF[elem]
    xs = random_inputs(rng, spec, dtype)
    inner = spec.get("output")
    outputs = [run(model, x, inner) for x in xs]
    entry = {
        "input_shape": spec["input_shape"],
        "declared_input_shape": declared_shape(model),
        "dtype": np.dtype(dtype).name,
        "tolerance": 1e-5 if dtype == np.float32 else 1e-12,
        "inputs": [x.astype(np.float64).ravel().tolist() for x in xs],
        "outputs": [y.astype(np.float64).ravel().tolist() for y in outputs],
        "note": spec["note"],
    }
    if spec.get("external_data"):
        entry["external_data"] = name + ".data"
    if inner is not None:
        entry["graph_outputs"] = [run(model, x).astype(np.float64).ravel().tolist() for x in xs]
    # Dynamic batch sanity check: the whole batch at once gives the same outputs.
    if isinstance(entry["declared_input_shape"][0], str):
        batch = np.concatenate(xs, axis=0)
        np.testing.assert_allclose(run(model, batch, inner), np.concatenate(outputs, axis=0), rtol=0, atol=1e-5)
    return model, entry


def save_external(model: onnx.ModelProto, path: Path, entry: dict) -> None:
    """Save ``model`` with every initializer in ``entry["external_data"]`` beside ``path``, and
    check that onnxruntime reads the pair back to the recorded outputs."""
    data = path.parent / entry["external_data"]
    data.unlink(missing_ok=True)  # onnx appends to an existing data file
    model = onnx.ModelProto.FromString(model.SerializeToString())  # saving moves the data out
    onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=data.name, size_threshold=0)
    saved = onnx.load_model(str(path), load_external_data=False)
    assert all(t.data_location == TensorProto.EXTERNAL for t in saved.graph.initializer)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for x, y in zip(entry["inputs"], entry["outputs"]):
        x = np.asarray(x, np.float32).reshape(entry["input_shape"])
        (out,) = sess.run(None, {sess.get_inputs()[0].name: x})
        np.testing.assert_array_equal(np.asarray(out, np.float64).ravel(), np.asarray(y))


def format_expected(expected: Dict[str, dict]) -> str:
    """JSON text with one line per innermost list (readable, diff-friendly, still plain JSON)."""
    lines = ["{"]
    for i, name in enumerate(sorted(expected)):
        entry = expected[name]
        lines.append(f"  {json.dumps(name)}: {{")
        keys = sorted(entry)
        for j, key in enumerate(keys):
            value = entry[key]
            comma = "," if j < len(keys) - 1 else ""
            if isinstance(value, list) and value and isinstance(value[0], list):
                rows = [f"      {json.dumps(row)}" for row in value]
                lines.append(f"    {json.dumps(key)}: [")
                lines.append(",\n".join(rows))
                lines.append(f"    ]{comma}")
            else:
                lines.append(f"    {json.dumps(key)}: {json.dumps(value)}{comma}")
        lines.append("  }" + ("," if i < len(expected) - 1 else ""))
    lines.append("}")
    text = "\n".join(lines) + "\n"
    assert json.loads(text) == expected
    return text


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR, help="fixture folder (created if missing)")
    p.add_argument("--seed", type=int, default=20240601, help="base seed; fixture k uses seed + k")
    args = p.parse_args(argv)
    out: Path = args.out_dir
    out.mkdir(parents=True, exist_ok=True)
    expected: Dict[str, dict] = {}

    for k, (name, builder) in enumerate(VALID.items()):
        model, entry = build_valid(name, builder, args.seed + k)
        if "external_data" in entry:
            save_external(model, out / name, entry)
        else:
            onnx.save_model(model, str(out / name))
        expected[name] = entry

    for k, (name, builder) in enumerate(INVALID.items()):
        model, entry = builder(np.random.default_rng(args.seed + 100 + k))
        onnx.save_model(model, str(out / name))
        expected[name] = entry

    # Sanity checks on the invalid files: each must be what it claims to be.
    ort.InferenceSession(str(out / "unsupported_op.onnx"), providers=["CPUExecutionProvider"])
    try:
        ort.InferenceSession(str(out / "shape_mismatch.onnx"), providers=["CPUExecutionProvider"]).run(
            None, {"input": np.zeros((1, 4), np.float32)})
    except Exception:  # noqa: BLE001 - onnxruntime raises several exception types
        pass
    else:
        raise AssertionError("onnxruntime accepted shape_mismatch.onnx")

    # Truncated: the first half of a valid model's bytes.
    full = (out / "gemm_f32_raw.onnx").read_bytes()
    truncated = full[: len(full) // 2]
    try:
        onnx.load_model_from_string(truncated)
    except Exception:  # noqa: BLE001 - protobuf's DecodeError
        pass
    else:
        raise AssertionError("the truncated model still parses; cut elsewhere")
    (out / "truncated.onnx").write_bytes(truncated)
    expected["truncated.onnx"] = {
        "error_contains": "",
        "note": f"first {len(truncated)} of the {len(full)} bytes of gemm_f32_raw.onnx; any parse error "
                "is acceptable (the message depends on the protobuf reader)",
    }

    (out / "expected.json").write_text(format_expected(expected))
    files = sorted(list(expected) + [e["external_data"] for e in expected.values() if "external_data" in e])
    for name in files:
        size = (out / name).stat().st_size
        if size > MAX_FILE_BYTES:
            raise AssertionError(f"{name} is {size} bytes (> {MAX_FILE_BYTES})")
        kind = "data" if name not in expected else "invalid" if "error_contains" in expected[name] else "valid"
        print(f"{name:28s} {size:6d} bytes  {kind}")
    print(f"wrote {len(expected)} fixtures and expected.json to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
