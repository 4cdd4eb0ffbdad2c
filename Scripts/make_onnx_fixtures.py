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

Convolutional fixtures take NCHW images (batch 1, pixels in [0, 1]) through
Conv (strides, asymmetric pads, dilations, groups, with and without bias,
auto_pad SAME_UPPER / VALID), MaxPool and AveragePool (pads, ceil_mode,
count_include_pad, auto_pad SAME_LOWER), BatchNormalization (opset 9 and 15
forms), GlobalAveragePool, Pad (opset 2-10 attributes, opset 11+ inputs,
opset 18 axes), per-channel Sub/Div normalisation, Transpose to NHWC and
Reshape, into Flatten and Gemm. Builders may pass ``opset`` to ``make_model``
(default 13): the fixtures cover opsets 9, 11, 13, 15, 18 and 20, each with
the IR version of its time (see ``ir_version_for``) and its operators' form
in that opset. Invalid convolutional fixtures have a kernel larger than the
padded input, weight channels that do not match the input's, a zero stride,
a zero pooling kernel, a non-zero or reflect Pad, and a Conv weight that is a
graph input instead of a constant.

Every valid fixture's outputs are also checked against a float64 forward pass
(onnx.reference's evaluator on a float64 copy) within the recorded tolerance.
onnxruntime's CPU provider has no float64 Conv, so ``conv_f64.onnx`` records
onnx.reference's float64 outputs (spec ``evaluator="reference"``) after
checking them against onnxruntime on a float32 copy.

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
  the protobuf reader). A builder's spec may also say whether onnxruntime
  ``"runs"`` or ``"fails"`` on the file (key ``onnxruntime``, checked here and
  not written to ``expected.json``); such a file must pass
  ``onnx.checker.check_model`` (without full_check, whose shape inference
  already rejects some of them).

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


def ir_version_for(opset: int) -> int:
    """IR_VERSION for the default opset (as the first fixtures were written), otherwise the IR
    version of the onnx release that introduced ``opset`` (9 -> 4, 11 -> 6, 15 -> 8, 18 -> 8,
    20 -> 9), as an exporter of that time would write it."""
    if opset == OPSET_VERSION:
        return IR_VERSION
    return helper.find_min_ir_version_for([helper.make_opsetid("", opset)])


def make_model(nodes, name, inputs, outputs, initializers, doc="", opset: int = OPSET_VERSION) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=initializers, doc_string=doc)
    model = helper.make_model(graph, producer_name="ReluMIP make_onnx_fixtures.py",
                              opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = ir_version_for(opset)
    return model


def weights(rng: np.random.Generator, n_out: int, n_in: int) -> np.ndarray:
    """He-like random weights of shape (n_out, n_in)."""
    return rng.normal(0.0, np.sqrt(2.0 / n_in), size=(n_out, n_in))


def bias(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.normal(0.0, 0.3, size=n)


def conv_weights(rng: np.random.Generator, c_out: int, c_in: int, kh: int, kw: int) -> np.ndarray:
    """He-like random Conv weights of shape (c_out, c_in, kh, kw); c_in is per group."""
    return rng.normal(0.0, np.sqrt(2.0 / (c_in * kh * kw)), size=(c_out, c_in, kh, kw))


def int64s(name: str, values: Sequence[int]) -> TensorProto:
    """An int64 initializer (Pad's pads and axes, Reshape's shape)."""
    return numpy_helper.from_array(np.asarray(values, dtype=np.int64), name)


def cast_model(model: onnx.ModelProto, src: int, dst: int) -> onnx.ModelProto:
    """A copy of ``model`` with every ``src``-typed initializer, Constant value and declared
    tensor type turned into ``dst`` (float32 <-> float64)."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    for t in list(graph.initializer) + [a.t for n in graph.node if n.op_type == "Constant" for a in n.attribute
                                        if a.name == "value"]:
        if t.data_type == src:
            t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).astype(NP_OF[dst]), t.name))
    for v in list(graph.input) + list(graph.output) + list(graph.value_info):
        if v.type.tensor_type.elem_type == src:
            v.type.tensor_type.elem_type = dst
    return model


def run_reference(model: onnx.ModelProto, x: np.ndarray, output: Optional[str] = None) -> np.ndarray:
    """Run ``model`` with onnx's reference evaluator (numpy; it has the float64 kernels that
    onnxruntime's CPU provider lacks, such as Conv)."""
    from onnx.reference import ReferenceEvaluator
    from onnx.reference.op_run import OpRun

    class BatchNormalization(OpRun):
        """Inference-mode BatchNormalization (one output: the given mean and var), as onnxruntime
        computes it in every opset. onnx.reference's BatchNormalization-9 instead mixes in the
        batch's statistics whenever momentum is set, and its default makes it always set."""
        op_domain = ""

        def _run(self, x, scale, b, mean, var, epsilon=1e-5, momentum=None, training_mode=None):  # noqa: ARG002
            shape = (1, -1) + (1,) * (x.ndim - 2)
            y = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + epsilon)
            return ((y * scale.reshape(shape) + b.reshape(shape)).astype(x.dtype),)

    assert all(len(n.output) == 1 for n in model.graph.node if n.op_type == "BatchNormalization")
    evaluator = ReferenceEvaluator(model, new_ops=[BatchNormalization])
    name = output or model.graph.output[0].name
    (y,) = evaluator.run([name], {model.graph.input[0].name: x})
    return np.asarray(y)


def run(model: onnx.ModelProto, x: np.ndarray, output: Optional[str] = None) -> np.ndarray:
    """Run ``model`` with onnxruntime on one input; ``output`` may name an inner tensor."""
    if output is not None and output not in [o.name for o in model.graph.output]:
        model = onnx.ModelProto.FromString(model.SerializeToString())
        elem = model.graph.output[0].type.tensor_type.elem_type
        model.graph.output.append(helper.make_tensor_value_info(output, elem, None))
    options = ort.SessionOptions()
    options.log_severity_level = 3  # no warnings about initializers that are also graph inputs
    sess = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
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


# ----------------------------------------------------------------- convolutional fixtures
# Images are NCHW with batch 1 and pixel values in [0, 1] unless noted. Conv weights are (C_out, C_in/group,
# kH, kW); pads are [x1_begin, x2_begin, x1_end, x2_end] = [top, left, bottom, right].

def conv_strides_pads(rng):
    # (1,1,5,6) -> Conv 3x3 stride (2,1) pads [0,1,2,1]: H (5+0+2-3)/2+1 = 3, W (6+1+1-3)/1+1 = 6
    Wc, bc = conv_weights(rng, 3, 1, 3, 3), bias(rng, 3)
    W1, b1 = weights(rng, 3, 3 * 3 * 6), bias(rng, 3)
    nodes = [
        helper.make_node("Conv", ["input", "Wc", "bc"], ["c0"], kernel_shape=[3, 3], strides=[2, 1],
                         pads=[0, 1, 2, 1]),
        helper.make_node("Relu", ["c0"], ["a0"]),
        helper.make_node("Flatten", ["a0"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "W1", "b1"], ["output"], transB=1),
    ]
    inits = [tensor(n, a, F32) for n, a in (("Wc", Wc), ("bc", bc), ("W1", W1), ("b1", b1))]
    model = make_model(nodes, "conv_strides_pads", [value_info("input", F32, [1, 1, 5, 6])],
                       [value_info("output", F32, [1, 3])], inits)
    return model, dict(input_shape=[1, 1, 5, 6], input_range=[0.0, 1.0],
                       note="(1,1,5,6) -> Conv 3 channels 3x3, strides (2,1), asymmetric pads [0,1,2,1] "
                            "(top, left, bottom, right), bias -> (3,3,6) -> Relu -> Flatten -> Gemm -> 3; "
                            "float32, opset 13")


def conv_dilation_groups(rng):
    # (1,4,7,7) -> Conv group 2, 3x3, dilations (2,1): effective kernel 5x3 -> (4,3,5)
    Wc = conv_weights(rng, 4, 2, 3, 3)
    Wp, bp = conv_weights(rng, 2, 4, 1, 1), bias(rng, 2)
    W1, b1 = weights(rng, 3, 2 * 3 * 5), bias(rng, 3)
    nodes = [
        helper.make_node("Conv", ["input", "Wc"], ["c0"], kernel_shape=[3, 3], dilations=[2, 1], group=2),
        helper.make_node("Relu", ["c0"], ["a0"]),
        helper.make_node("Conv", ["a0", "Wp", "bp"], ["c1"], kernel_shape=[1, 1]),
        helper.make_node("Relu", ["c1"], ["a1"]),
        helper.make_node("Flatten", ["a1"], ["flat"]),
        helper.make_node("Gemm", ["flat", "W1", "b1"], ["output"], transB=1),
    ]
    inits = [tensor(n, a, F32) for n, a in (("Wc", Wc), ("Wp", Wp), ("bp", bp), ("W1", W1), ("b1", b1))]
    model = make_model(nodes, "conv_dilation_groups", [value_info("input", F32, [1, 4, 7, 7])],
                       [value_info("output", F32, [1, 3])], inits, opset=11)
    return model, dict(input_shape=[1, 4, 7, 7], input_range=[0.0, 1.0],
                       note="(1,4,7,7) -> Conv 4->4 channels, group=2 (weight (4,2,3,3): output channels 0-1 "
                            "see input channels 0-1, 2-3 see 2-3), 3x3, dilations (2,1), no pads, no bias "
                            "-> (4,3,5) -> Relu -> Conv 1x1 4->2 with bias -> Relu -> Flatten (axis "
                            "attribute absent, default 1) -> Gemm -> 3; float32, opset 11")


def conv_avgpool(rng):
    # (1,2,7,7) -> Conv 3x3 pads 1 -> (3,7,7) -> AveragePool 3x2 stride 2 pads [1,0,1,1]:
    # H (7+2-3)/2+1 = 4, W (7+1-2)/2+1 = 4
    Wc, bc = conv_weights(rng, 3, 2, 3, 3), bias(rng, 3)
    W1, b1 = weights(rng, 3, 3 * 4 * 4), bias(rng, 3)
    nodes = [
        helper.make_node("Conv", ["input", "Wc", "bc"], ["c0"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c0"], ["a0"]),
        helper.make_node("AveragePool", ["a0"], ["p0"], kernel_shape=[3, 2], strides=[2, 2],
                         pads=[1, 0, 1, 1], count_include_pad=0),
        helper.make_node("Flatten", ["p0"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "W1", "b1"], ["output"], transB=1),
    ]
    inits = [tensor(n, a, F32) for n, a in (("Wc", Wc), ("bc", bc), ("W1", W1), ("b1", b1))]
    model = make_model(nodes, "conv_avgpool", [value_info("input", F32, [1, 2, 7, 7])],
                       [value_info("output", F32, [1, 3])], inits)
    return model, dict(input_shape=[1, 2, 7, 7], input_range=[0.0, 1.0],
                       note="(1,2,7,7) -> Conv 3 channels 3x3 pads 1 -> Relu -> AveragePool kernel 3x2 stride 2 "
                            "pads [1,0,1,1], count_include_pad=0 (padded cells are left out of the divisor) "
                            "-> (3,4,4) -> Flatten -> Gemm -> 3; float32, opset 13")


def avgpool_ceil_include_pad(rng):
    # (1,2,7,7) -> AveragePool 3x3 stride 2 pads [1,0,0,1] ceil_mode=1 count_include_pad=1:
    # H ceil((7+1+0-3)/2)+1 = 4 (floor would give 3), W ceil((7+0+1-3)/2)+1 = 4; the last windows
    # start inside the input (rows 5-7, columns 6-8) and reach past the padding.
    W1, b1 = weights(rng, 5, 2 * 4 * 4), bias(rng, 5)
    W2, b2 = weights(rng, 3, 5), bias(rng, 3)
    nodes = [
        helper.make_node("AveragePool", ["input"], ["p0"], kernel_shape=[3, 3], strides=[2, 2],
                         pads=[1, 0, 0, 1], ceil_mode=1, count_include_pad=1),
        helper.make_node("Flatten", ["p0"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "W1", "b1"], ["z1"], transB=1),
        helper.make_node("Relu", ["z1"], ["a1"]),
        helper.make_node("Gemm", ["a1", "W2", "b2"], ["output"], transB=1),
    ]
    inits = [tensor(n, a, F32) for n, a in (("W1", W1), ("b1", b1), ("W2", W2), ("b2", b2))]
    model = make_model(nodes, "avgpool_ceil_include_pad", [value_info("input", F32, [1, 2, 7, 7])],
                       [value_info("output", F32, [1, 3])], inits, opset=11)
    return model, dict(input_shape=[1, 2, 7, 7], input_range=[0.0, 1.0],
                       note="(1,2,7,7) -> AveragePool 3x3 stride 2 pads [1,0,0,1] ceil_mode=1 "
                            "count_include_pad=1 -> (2,4,4) (floor mode would give 3x3) -> Flatten -> Gemm "
                            "-> Relu -> Gemm -> 3; float32, opset 11. onnxruntime's divisor counts the "
                            "window's cells inside the padded input (input plus pads) and not those past "
                            "it that ceil_mode adds: the last row of windows (rows 5..7, pad 0 at the "
                            "bottom) divides by 2 rows, the last column (columns 6..8, pad 1 on the right) "
                            "by 2 columns, the first row (rows -1..1) by 3")


def conv_maxpool(rng):
    # (1,3,8,8) -> Conv 3x3 -> (4,6,6) -> MaxPool 2x2 stride 2 -> (4,3,3)
    Wc, bc = conv_weights(rng, 4, 3, 3, 3), bias(rng, 4)
    W1, b1 = weights(rng, 3, 4 * 3 * 3), bias(rng, 3)
    nodes = [
        helper.make_node("Conv", ["input", "Wc", "bc"], ["c0"], kernel_shape=[3, 3], strides=[1, 1],
                         pads=[0, 0, 0, 0], dilations=[1, 1], group=1),
        helper.make_node("Relu", ["c0"], ["a0"]),
        helper.make_node("MaxPool", ["a0"], ["p0"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p0"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "W1", "b1"], ["output"], transB=1),
    ]
    inits = [tensor(n, a, F32) for n, a in (("Wc", Wc), ("bc", bc), ("W1", W1), ("b1", b1))]
    model = make_model(nodes, "conv_maxpool", [value_info("input", F32, [1, 3, 8, 8])],
                       [value_info("output", F32, [1, 3])], inits)
    return model, dict(input_shape=[1, 3, 8, 8], input_range=[0.0, 1.0],
                       note="(1,3,8,8) -> Conv 4 channels 3x3 (every attribute written out at its default) "
                            "-> Relu -> MaxPool 2x2 stride 2 -> (4,3,3) -> Flatten -> Gemm -> 3, like the "
                            "VNN-COMP verivital nets; float32, opset 13")


def maxpool_ceil_pads(rng):
    # (1,2,6,5) -> MaxPool 3x3 stride 2 pads [1,0,1,1] ceil_mode=1:
    # H ceil((6+2-3)/2)+1 = 4 (floor: 3), W ceil((5+1-3)/2)+1 = 3 (floor: 2)
    W1, b1 = weights(rng, 3, 2 * 4 * 3), bias(rng, 3)
    nodes = [
        helper.make_node("MaxPool", ["input"], ["p0"], kernel_shape=[3, 3], strides=[2, 2],
                         pads=[1, 0, 1, 1], ceil_mode=1),
        helper.make_node("Flatten", ["p0"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "W1", "b1"], ["output"], transB=1),
    ]
    inits = [tensor(n, a, F32) for n, a in (("W1", W1), ("b1", b1))]
    model = make_model(nodes, "maxpool_ceil_pads", [value_info("input", F32, [1, 2, 6, 5])],
                       [value_info("output", F32, [1, 3])], inits, opset=18)
    return model, dict(input_shape=[1, 2, 6, 5], input_range=[-1.0, 0.0],
                       note="(1,2,6,5) with values in [-1,0] -> MaxPool 3x3 stride 2 pads [1,0,1,1] "
                            "ceil_mode=1 directly on the input -> (2,4,3) (floor mode would give 3x2) -> "
                            "Flatten -> Gemm -> 3; float32, opset 18. Padded cells (and the cells past the "
                            "padding that ceil_mode adds) never win the max: padding as 0 would give 0 in "
                            "every window that touches it, since all inputs are negative")


def conv_batchnorm(rng):
    # (1,3,8,8) -> Conv 3x3 stride 2 pads 1 -> (4,4,4) -> BatchNormalization -> GlobalAveragePool
    Wc, bc = conv_weights(rng, 4, 3, 3, 3), bias(rng, 4)
    scale, B = rng.uniform(0.5, 1.5, size=4), bias(rng, 4)
    mean, var = rng.normal(0.0, 0.3, size=4), rng.uniform(0.2, 2.0, size=4)
    W1, b1 = weights(rng, 3, 4), bias(rng, 3)
    nodes = [
        helper.make_node("Conv", ["input", "Wc", "bc"], ["c0"], kernel_shape=[3, 3], strides=[2, 2],
                         pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c0", "bn_scale", "bn_B", "bn_mean", "bn_var"], ["n0"],
                         epsilon=1e-3, momentum=0.9, training_mode=0),
        helper.make_node("Relu", ["n0"], ["a0"]),
        helper.make_node("GlobalAveragePool", ["a0"], ["g0"]),
        helper.make_node("Flatten", ["g0"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "W1", "b1"], ["output"], transB=1),
    ]
    inits = [tensor(n, a, F32) for n, a in (("Wc", Wc), ("bc", bc), ("bn_scale", scale), ("bn_B", B),
                                            ("bn_mean", mean), ("bn_var", var), ("W1", W1), ("b1", b1))]
    model = make_model(nodes, "conv_batchnorm", [value_info("input", F32, [1, 3, 8, 8])],
                       [value_info("output", F32, [1, 3])], inits, opset=15)
    return model, dict(input_shape=[1, 3, 8, 8], input_range=[0.0, 1.0],
                       note="(1,3,8,8) -> Conv 4 channels 3x3 stride 2 pads 1 -> BatchNormalization "
                            "(inference: y = scale*(x-mean)/sqrt(var+epsilon)+B per channel, epsilon=1e-3, "
                            "momentum=0.9, training_mode=0, opset 15 form) -> Relu -> GlobalAveragePool -> "
                            "(4,1,1) -> Flatten -> Gemm -> 3; float32, opset 15")


def pad_transpose_reshape(rng):
    # (1,2,5,6) -> Pad [0,0,1,0, 0,0,0,2] -> (2,6,8) -> Conv 3x3 stride 2 -> (3,2,3)
    Wc, bc = conv_weights(rng, 3, 2, 3, 3), bias(rng, 3)
    W1, b1 = weights(rng, 3, 2 * 3 * 3), bias(rng, 3)
    nodes = [
        helper.make_node("Pad", ["input", "pads", "pad_value"], ["padded"], mode="constant"),
        helper.make_node("Conv", ["padded", "Wc", "bc"], ["c0"], kernel_shape=[3, 3], strides=[2, 2]),
        helper.make_node("Relu", ["c0"], ["a0"]),
        helper.make_node("Transpose", ["a0"], ["nhwc"], perm=[0, 2, 3, 1]),
        helper.make_node("Reshape", ["nhwc", "flat_shape"], ["flat"]),
        helper.make_node("Gemm", ["flat", "W1", "b1"], ["output"], transB=1),
    ]
    inits = [int64s("pads", [0, 0, 1, 0, 0, 0, 0, 2]), tensor("pad_value", np.array(0.0), F32),
             int64s("flat_shape", [1, -1])]
    inits += [tensor(n, a, F32) for n, a in (("Wc", Wc), ("bc", bc), ("W1", W1), ("b1", b1))]
    model = make_model(nodes, "pad_transpose_reshape", [value_info("input", F32, [1, 2, 5, 6])],
                       [value_info("output", F32, [1, 3])], inits, opset=11)
    return model, dict(input_shape=[1, 2, 5, 6], input_range=[0.0, 1.0],
                       note="(1,2,5,6) -> Pad mode constant with pads input [0,0,1,0, 0,0,0,2] (all begins "
                            "then all ends: 1 row on top, 2 columns on the right, none on N and C) and a "
                            "scalar constant_value input 0 -> (2,6,8) -> Conv 3 channels 3x3 stride 2 -> "
                            "Relu -> (3,2,3) -> Transpose perm [0,2,3,1] (NHWC: the flat order becomes h, "
                            "w, c) -> Reshape to [1,-1] (initializer shape) -> Gemm -> 3; float32, opset 11")


def normalize_channels(rng):
    # (N,3,8,8) -> (x - mean) / std per channel -> Conv 4x4 stride 2 pads 1 -> (4,4,4)
    mean = np.array([0.4914, 0.4822, 0.4465]).reshape(1, 3, 1, 1)
    std = np.array([0.2471, 0.2435, 0.2616]).reshape(1, 3, 1, 1)
    Wc, bc = conv_weights(rng, 4, 3, 4, 4), bias(rng, 4)
    W1, b1 = weights(rng, 8, 4 * 4 * 4), bias(rng, 8)
    W2, b2 = weights(rng, 3, 8), bias(rng, 3)
    nodes = [
        helper.make_node("Sub", ["input", "mean"], ["centred"]),
        helper.make_node("Div", ["centred", "std"], ["normalized"]),
        helper.make_node("Conv", ["normalized", "Wc", "bc"], ["c0"], kernel_shape=[4, 4], strides=[2, 2],
                         pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c0"], ["a0"]),
        helper.make_node("Flatten", ["a0"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "W1", "b1"], ["z1"], transB=1),
        helper.make_node("Relu", ["z1"], ["a1"]),
        helper.make_node("Gemm", ["a1", "W2", "b2"], ["output"], transB=1),
    ]
    inits = [tensor(n, a, F32) for n, a in (("mean", mean), ("std", std), ("Wc", Wc), ("bc", bc),
                                            ("W1", W1), ("b1", b1), ("W2", W2), ("b2", b2))]
    model = make_model(nodes, "normalize_channels", [value_info("input", F32, ["N", 3, 8, 8])],
                       [value_info("output", F32, ["N", 3])], inits)
    return model, dict(input_shape=[1, 3, 8, 8], input_range=[0.0, 1.0],
                       note="(N,3,8,8) -> Sub per-channel mean (shape (1,3,1,1), CIFAR-10's) -> Div per-channel "
                            "std (1,3,1,1) -> Conv 4 channels 4x4 stride 2 pads 1 -> Relu -> (4,4,4) -> "
                            "Flatten -> Gemm -> 8 -> Relu -> Gemm -> 3, like the oval21 CIFAR nets with "
                            "their normalisation in the graph; float32, dynamic batch 'N', opset 13")


def conv_opset9_pad_attribute(rng):
    # (1,1,5,6) -> Pad pads attribute [0,0,1,2, 0,0,1,0] -> (1,7,8) -> Conv 3x3 -> (2,5,6)
    # -> AveragePool 2x2 stride 2 -> (2,2,3)
    Wc, bc = conv_weights(rng, 2, 1, 3, 3), bias(rng, 2)
    W1, b1 = weights(rng, 3, 2 * 2 * 3), bias(rng, 3)
    nodes = [
        helper.make_node("Pad", ["input"], ["padded"], mode="constant", pads=[0, 0, 1, 2, 0, 0, 1, 0],
                         value=0.0),
        helper.make_node("Conv", ["padded", "Wc", "bc"], ["c0"], kernel_shape=[3, 3]),
        helper.make_node("Relu", ["c0"], ["a0"]),
        helper.make_node("AveragePool", ["a0"], ["p0"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p0"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "W1", "b1"], ["output"], transB=1),
    ]
    inits = [tensor(n, a, F32) for n, a in (("Wc", Wc), ("bc", bc), ("W1", W1), ("b1", b1))]
    model = make_model(nodes, "conv_opset9_pad_attribute", [value_info("input", F32, [1, 1, 5, 6])],
                       [value_info("output", F32, [1, 3])], inits, opset=9)
    return model, dict(input_shape=[1, 1, 5, 6], input_range=[0.0, 1.0],
                       note="opset 9 (IR 4): (1,1,5,6) -> Pad with the opset-2 attributes mode=constant, "
                            "pads=[0,0,1,2, 0,0,1,0] (1 row on top and bottom, 2 columns on the left) and "
                            "value=0 -> (1,7,8) -> Conv 2 channels 3x3 -> Relu -> AveragePool 2x2 stride 2 "
                            "(no ceil_mode before opset 10) -> (2,2,3) -> Flatten -> Gemm -> 3; float32")


def conv_f64(rng):
    # (1,2,7,7) -> Conv 3x3 pads 1 -> (3,7,7) -> MaxPool 2x2 stride 2 -> (3,3,3)
    Wc, bc = conv_weights(rng, 3, 2, 3, 3), bias(rng, 3)
    W1, b1 = weights(rng, 3, 3 * 3 * 3), bias(rng, 3)
    nodes = [
        helper.make_node("Conv", ["input", "Wc", "bc"], ["c0"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c0"], ["a0"]),
        helper.make_node("MaxPool", ["a0"], ["p0"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p0"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "W1", "b1"], ["output"], transB=1),
    ]
    inits = [tensor(n, a, F64) for n, a in (("Wc", Wc), ("bc", bc), ("W1", W1), ("b1", b1))]
    model = make_model(nodes, "conv_f64", [value_info("input", F64, [1, 2, 7, 7])],
                       [value_info("output", F64, [1, 3])], inits)
    return model, dict(input_shape=[1, 2, 7, 7], input_range=[0.0, 1.0], evaluator="reference",
                       note="float64 throughout: (1,2,7,7) -> Conv 3 channels 3x3 pads 1 -> Relu -> MaxPool "
                            "2x2 stride 2 -> (3,3,3) -> Flatten -> Gemm -> 3; opset 13. onnxruntime has no "
                            "float64 Conv on the CPU, so the outputs come from onnx.reference's "
                            "ReferenceEvaluator in float64 (checked against onnxruntime on a float32 copy)")


def tiny_conv_maxpool(rng):
    # (1,1,4,4) -> Conv 2x2 -> (2,3,3) -> MaxPool 2x2 stride 1 -> (2,2,2)
    Wc, bc = conv_weights(rng, 2, 1, 2, 2), bias(rng, 2)
    W1, b1 = weights(rng, 3, 2 * 2 * 2), bias(rng, 3)
    nodes = [
        helper.make_node("Conv", ["input", "Wc", "bc"], ["c0"], kernel_shape=[2, 2]),
        helper.make_node("Relu", ["c0"], ["a0"]),
        helper.make_node("MaxPool", ["a0"], ["p0"], kernel_shape=[2, 2], strides=[1, 1]),
        helper.make_node("Flatten", ["p0"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "W1", "b1"], ["logits"], transB=1),
    ]
    inits = [tensor(n, a, F32) for n, a in (("Wc", Wc), ("bc", bc), ("W1", W1), ("b1", b1))]
    model = make_model(nodes, "tiny_conv_maxpool", [value_info("input", F32, [1, 1, 4, 4])],
                       [value_info("logits", F32, [1, 3])], inits)
    return model, dict(input_shape=[1, 1, 4, 4], input_range=[0.0, 1.0],
                       note="(1,1,4,4) -> Conv 2 channels 2x2 -> Relu -> (2,3,3) -> MaxPool 2x2 stride 1 "
                            "(overlapping windows) -> (2,2,2) -> Flatten -> Gemm -> 3; float32, opset 13; "
                            "18 ReLUs and 8 max units, small enough for brute-force tests (inputs in "
                            "[0,1]^16)")


def conv_auto_pad(rng):
    # (1,1,8,7) -> Conv 3x3 stride 2 SAME_UPPER: out ceil(8/2)=4, ceil(7/2)=4; pads H 0+1, W 1+1
    # -> MaxPool 2x2 stride 1 SAME_LOWER: out 4x4, pads 1 before, 0 after -> Conv 2x2 VALID -> (2,3,3)
    Wc, bc = conv_weights(rng, 3, 1, 3, 3), bias(rng, 3)
    Wv, bv = conv_weights(rng, 2, 3, 2, 2), bias(rng, 2)
    W1, b1 = weights(rng, 3, 2 * 3 * 3), bias(rng, 3)
    nodes = [
        helper.make_node("Conv", ["input", "Wc", "bc"], ["c0"], kernel_shape=[3, 3], strides=[2, 2],
                         auto_pad="SAME_UPPER"),
        helper.make_node("Relu", ["c0"], ["a0"]),
        helper.make_node("MaxPool", ["a0"], ["p0"], kernel_shape=[2, 2], strides=[1, 1], auto_pad="SAME_LOWER"),
        helper.make_node("Conv", ["p0", "Wv", "bv"], ["c1"], kernel_shape=[2, 2], auto_pad="VALID"),
        helper.make_node("Relu", ["c1"], ["a1"]),
        helper.make_node("Flatten", ["a1"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "W1", "b1"], ["output"], transB=1),
    ]
    inits = [tensor(n, a, F32) for n, a in (("Wc", Wc), ("bc", bc), ("Wv", Wv), ("bv", bv),
                                            ("W1", W1), ("b1", b1))]
    model = make_model(nodes, "conv_auto_pad", [value_info("input", F32, [1, 1, 8, 7])],
                       [value_info("output", F32, [1, 3])], inits, opset=20)
    return model, dict(input_shape=[1, 1, 8, 7], input_range=[0.0, 1.0],
                       note="opset 20 (IR 9): (1,1,8,7) -> Conv 3 channels 3x3 stride 2 auto_pad=SAME_UPPER "
                            "(output ceil(in/stride) = 4x4; total padding (4-1)*2+3-in: rows 1 = 0 top + 1 "
                            "bottom, columns 2 = 1 left + 1 right; the odd one goes at the end) -> Relu -> "
                            "MaxPool 2x2 stride 1 auto_pad=SAME_LOWER (4x4, the one padded row and column "
                            "at the beginning) -> Conv 2 channels 2x2 auto_pad=VALID (no padding) -> Relu -> "
                            "(2,3,3) -> Flatten -> Gemm -> 3; float32")


def pad_axes_opset18(rng):
    # (1,2,5,6) -> Pad pads [1,2,0,1] on axes [-2,-1] -> (2,6,9) -> Conv 3x3 stride (1,2) -> (3,4,4)
    Wc, bc = conv_weights(rng, 3, 2, 3, 3), bias(rng, 3)
    W1, b1 = weights(rng, 3, 3 * 4 * 4), bias(rng, 3)
    nodes = [
        # constant_value omitted with an empty input name (default 0), axes given
        helper.make_node("Pad", ["input", "pads", "", "pad_axes"], ["padded"]),
        helper.make_node("Conv", ["padded", "Wc", "bc"], ["c0"], kernel_shape=[3, 3], strides=[1, 2]),
        helper.make_node("Relu", ["c0"], ["a0"]),
        helper.make_node("Flatten", ["a0"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "W1", "b1"], ["output"], transB=1),
    ]
    inits = [int64s("pads", [1, 2, 0, 1]), int64s("pad_axes", [-2, -1])]
    inits += [tensor(n, a, F32) for n, a in (("Wc", Wc), ("bc", bc), ("W1", W1), ("b1", b1))]
    model = make_model(nodes, "pad_axes_opset18", [value_info("input", F32, [1, 2, 5, 6])],
                       [value_info("output", F32, [1, 3])], inits, opset=18)
    return model, dict(input_shape=[1, 2, 5, 6], input_range=[0.0, 1.0],
                       note="opset 18 (IR 8): (1,2,5,6) -> Pad with inputs (data, pads [1,2,0,1], '' for "
                            "constant_value (default 0), axes [-2,-1]): pads are [begins..., ends...] for "
                            "the listed axes only, so 1 row on top, 2 columns on the left, 1 column on the "
                            "right; mode attribute absent (constant) -> (2,6,9) -> Conv 3 channels 3x3 "
                            "strides (1,2) -> Relu -> (3,4,4) -> Flatten -> Gemm -> 3; float32")


def conv_batchnorm_opset9(rng):
    # (1,1,5,6) -> Conv 2x2 -> (2,4,5) -> BatchNormalization (epsilon default 1e-5) -> Relu
    Wc, bc = conv_weights(rng, 2, 1, 2, 2), bias(rng, 2)
    scale, B = rng.uniform(0.5, 1.5, size=2), bias(rng, 2)
    mean, var = rng.normal(0.0, 0.3, size=2), rng.uniform(0.2, 2.0, size=2)
    W1, b1 = weights(rng, 3, 2 * 4 * 5), bias(rng, 3)
    nodes = [
        helper.make_node("Conv", ["input", "Wc", "bc"], ["c0"], kernel_shape=[2, 2]),
        helper.make_node("BatchNormalization", ["c0", "bn_scale", "bn_B", "bn_mean", "bn_var"], ["n0"],
                         momentum=0.9),
        helper.make_node("Relu", ["n0"], ["a0"]),
        helper.make_node("Flatten", ["a0"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "W1", "b1"], ["output"], transB=1),
    ]
    named = (("Wc", Wc), ("bc", bc), ("bn_scale", scale), ("bn_B", B), ("bn_mean", mean), ("bn_var", var),
             ("W1", W1), ("b1", b1))
    inits = [tensor(n, a, F32) for n, a in named]
    # As exporters of that time did (PyTorch's keep_initializers_as_inputs), every initializer is
    # also a graph input, after the real input.
    inputs = [value_info("input", F32, [1, 1, 5, 6])] + [value_info(n, F32, a.shape) for n, a in named]
    model = make_model(nodes, "conv_batchnorm_opset9", inputs, [value_info("output", F32, [1, 3])], inits,
                       opset=9)
    return model, dict(input_shape=[1, 1, 5, 6], input_range=[0.0, 1.0],
                       note="opset 9 (IR 4): (1,1,5,6) -> Conv 2 channels 2x2 -> BatchNormalization in its "
                            "opset-9 form (epsilon attribute absent: default 1e-5; momentum=0.9; no "
                            "training_mode) -> Relu -> (2,4,5) -> Flatten -> Gemm -> 3; float32. Every "
                            "initializer is also listed as a graph input after 'input' (old exporters' "
                            "keep_initializers_as_inputs): they are constants, not network inputs")


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
    "conv_strides_pads.onnx": conv_strides_pads,
    "conv_dilation_groups.onnx": conv_dilation_groups,
    "conv_avgpool.onnx": conv_avgpool,
    "avgpool_ceil_include_pad.onnx": avgpool_ceil_include_pad,
    "conv_maxpool.onnx": conv_maxpool,
    "maxpool_ceil_pads.onnx": maxpool_ceil_pads,
    "conv_batchnorm.onnx": conv_batchnorm,
    "pad_transpose_reshape.onnx": pad_transpose_reshape,
    "normalize_channels.onnx": normalize_channels,
    "conv_opset9_pad_attribute.onnx": conv_opset9_pad_attribute,
    "conv_f64.onnx": conv_f64,
    "tiny_conv_maxpool.onnx": tiny_conv_maxpool,
    "conv_auto_pad.onnx": conv_auto_pad,
    "pad_axes_opset18.onnx": pad_axes_opset18,
    "conv_batchnorm_opset9.onnx": conv_batchnorm_opset9,
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


# ----------------------------------------------------------------- invalid convolutional fixtures

def conv_head(rng, conv: onnx.NodeProto, name: str, input_shape, n_flat: int, inits, extra_inputs=()):
    """``conv`` (from 'input' to 'c0') -> Relu -> Flatten -> Gemm(n_flat -> 3), float32, opset 13."""
    W1, b1 = weights(rng, 3, n_flat), bias(rng, 3)
    nodes = [
        conv,
        helper.make_node("Relu", ["c0"], ["a0"]),
        helper.make_node("Flatten", ["a0"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "W1", "b1"], ["output"], transB=1),
    ]
    inits = list(inits) + [tensor("W1", W1, F32), tensor("b1", b1, F32)]
    return make_model(nodes, name, [value_info("input", F32, input_shape)] + list(extra_inputs),
                      [value_info("output", F32, [1, 3])], inits)


def conv_kernel_too_large(rng):
    # Height: 4 rows and no padding, kernel 5 rows. Width: 4 + 1 + 1 >= 5 would be fine.
    Wc, bc = conv_weights(rng, 2, 1, 5, 5), bias(rng, 2)
    conv = helper.make_node("Conv", ["input", "Wc", "bc"], ["c0"], kernel_shape=[5, 5], pads=[0, 1, 0, 1])
    model = conv_head(rng, conv, "conv_kernel_too_large", [1, 1, 4, 4], 2 * 1 * 2,
                      [tensor("Wc", Wc, F32), tensor("bc", bc, F32)])
    return model, dict(error_contains="larger than the padded input", onnxruntime="fails",
                       note="input (1,1,4,4), Conv kernel 5x5 pads [0,1,0,1]: the padded width 6 is enough but "
                            "the padded height 4 is less than the kernel's 5 rows (no output position). "
                            "onnx.checker accepts it without full_check; shape inference gives the Conv 0 "
                            "output rows (no error there), so onnxruntime refuses the session at the Gemm "
                            "('Dimension mismatch in unification between 4 and 0')")


def conv_channel_mismatch(rng):
    # 4 input channels, group 2: each group sees 2 channels, but the weight is (4, 3, 3, 3).
    Wc, bc = conv_weights(rng, 4, 3, 3, 3), bias(rng, 4)
    conv = helper.make_node("Conv", ["input", "Wc", "bc"], ["c0"], kernel_shape=[3, 3], group=2)
    model = conv_head(rng, conv, "conv_channel_mismatch", [1, 4, 5, 5], 4 * 3 * 3,
                      [tensor("Wc", Wc, F32), tensor("bc", bc, F32)])
    return model, dict(error_contains="channels", onnxruntime="fails",
                       note="input (1,4,5,5), Conv group=2 with weight (4,3,3,3): weight.shape[1] * group = 6 "
                            "input channels expected, the input has 4. onnx.checker accepts it even with "
                            "full_check; onnxruntime creates the session and fails at run time ('Input "
                            "channels C is not equal to kernel channels * group')")


def conv_zero_stride(rng):
    Wc, bc = conv_weights(rng, 2, 1, 3, 3), bias(rng, 2)
    conv = helper.make_node("Conv", ["input", "Wc", "bc"], ["c0"], kernel_shape=[3, 3], strides=[0, 1])
    model = conv_head(rng, conv, "conv_zero_stride", [1, 1, 5, 5], 2 * 3 * 3,
                      [tensor("Wc", Wc, F32), tensor("bc", bc, F32)])
    return model, dict(error_contains="stride", onnxruntime="fails",
                       note="input (1,1,5,5), Conv 3x3 with strides [0,1]: a zero stride. onnxruntime refuses "
                            "the session ('Attribute strides must only contain positive values')")


def maxpool_zero_kernel(rng):
    W1, b1 = weights(rng, 3, 2 * 4 * 2), bias(rng, 3)
    nodes = [
        helper.make_node("MaxPool", ["input"], ["p0"], kernel_shape=[0, 2], strides=[1, 2]),
        helper.make_node("Flatten", ["p0"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "W1", "b1"], ["output"], transB=1),
    ]
    model = make_model(nodes, "maxpool_zero_kernel", [value_info("input", F32, [1, 2, 4, 4])],
                       [value_info("output", F32, [1, 3])], [tensor("W1", W1, F32), tensor("b1", b1, F32)])
    return model, dict(error_contains="kernel_shape", onnxruntime="fails",
                       note="input (1,2,4,4), MaxPool kernel_shape [0,2]: a zero kernel dimension. onnxruntime "
                            "refuses the session ('Attribute kernel_shape must only contain positive "
                            "values')")


def pad_nonzero_constant(rng):
    Wc, bc = conv_weights(rng, 2, 1, 3, 3), bias(rng, 2)
    pad = helper.make_node("Pad", ["input", "pads", "pad_value"], ["padded"], mode="constant")
    conv = helper.make_node("Conv", ["padded", "Wc", "bc"], ["c0"], kernel_shape=[3, 3])
    model = conv_head(rng, conv, "pad_nonzero_constant", [1, 1, 4, 4], 2 * 4 * 4,
                      [int64s("pads", [0, 0, 1, 1, 0, 0, 1, 1]), tensor("pad_value", np.array(0.5), F32),
                       tensor("Wc", Wc, F32), tensor("bc", bc, F32)])
    model.graph.node.insert(0, pad)
    return model, dict(error_contains="constant_value", onnxruntime="runs",
                       note="Pad mode constant with constant_value input 0.5 (only 0 is supported: a "
                            "non-zero border is not a Conv padding) -> Conv 3x3 -> Relu -> Flatten -> Gemm; "
                            "valid ONNX that onnxruntime runs")


def pad_reflect(rng):
    Wc, bc = conv_weights(rng, 2, 1, 3, 3), bias(rng, 2)
    pad = helper.make_node("Pad", ["input", "pads"], ["padded"], mode="reflect")
    conv = helper.make_node("Conv", ["padded", "Wc", "bc"], ["c0"], kernel_shape=[3, 3])
    model = conv_head(rng, conv, "pad_reflect", [1, 1, 4, 4], 2 * 4 * 4,
                      [int64s("pads", [0, 0, 1, 1, 0, 0, 1, 1]), tensor("Wc", Wc, F32), tensor("bc", bc, F32)])
    model.graph.node.insert(0, pad)
    return model, dict(error_contains="reflect", onnxruntime="runs",
                       note="Pad mode=reflect (unsupported; only constant 0) -> Conv 3x3 -> Relu -> Flatten -> "
                            "Gemm; valid ONNX that onnxruntime runs")


def conv_weight_input(rng):
    conv = helper.make_node("Conv", ["input", "Wc"], ["c0"], kernel_shape=[3, 3])
    model = conv_head(rng, conv, "conv_weight_input", [1, 1, 5, 5], 2 * 3 * 3, [],
                      extra_inputs=[value_info("Wc", F32, [2, 1, 3, 3])])
    return model, dict(error_contains="2 data inputs", onnxruntime="runs",
                       note="Conv whose weight 'Wc' is a second graph input with no initializer (a value fed "
                            "at run time, not a constant); valid ONNX that onnxruntime runs when given both "
                            "inputs")


INVALID: Dict[str, Callable] = {
    "unsupported_op.onnx": unsupported_op,
    "nan_weights.onnx": nan_weights,
    "shape_mismatch.onnx": shape_mismatch,
    "conv_kernel_too_large.onnx": conv_kernel_too_large,
    "conv_channel_mismatch.onnx": conv_channel_mismatch,
    "conv_zero_stride.onnx": conv_zero_stride,
    "maxpool_zero_kernel.onnx": maxpool_zero_kernel,
    "pad_nonzero_constant.onnx": pad_nonzero_constant,
    "pad_reflect.onnx": pad_reflect,
    "conv_weight_input.onnx": conv_weight_input,
}


# --------------------------------------------------------------------------- driver

def random_inputs(rng, spec: dict, dtype) -> List[np.ndarray]:
    lo, hi = spec.get("input_range", [-1.0, 1.0])
    return [rng.uniform(lo, hi, size=spec["input_shape"]).astype(dtype) for _ in range(N_INPUTS)]


def declared_shape(model: onnx.ModelProto) -> list:
    dims = model.graph.input[0].type.tensor_type.shape.dim
    return [d.dim_param if d.HasField("dim_param") else d.dim_value for d in dims]


def check_tolerance(name: str, model: onnx.ModelProto, xs, outputs, inner: Optional[str],
                    tolerance: float) -> None:
    """The recorded outputs must be within ``tolerance`` (absolute, or relative to the larger
    magnitude, as the Swift tests compare) of a float64 forward pass: onnx.reference's on a
    float64 copy of the model, from the same (float32-representable) inputs."""
    copy64 = cast_model(model, F32, F64)
    for x, y in zip(xs, outputs):
        exact = run_reference(copy64, x.astype(np.float64), inner).astype(np.float64).ravel()
        y = y.astype(np.float64).ravel()
        bound = np.maximum(tolerance, tolerance * np.maximum(np.abs(exact), np.abs(y)))
        if exact.shape != y.shape or np.any(np.abs(exact - y) > bound):
            raise AssertionError(f"{name}: outputs {y.tolist()} are not within {tolerance} of the float64 "
                                 f"forward pass {exact.tolist()}")


def build_valid(name: str, builder: Callable, seed: int) -> tuple[onnx.ModelProto, dict]:
    rng = np.random.default_rng(seed)
    model, spec = builder(rng)
    onnx.checker.check_model(model, full_check=True)
    elem = model.graph.input[0].type.tensor_type.elem_type
    dtype = NP_OF[elem]
    xs = random_inputs(rng, spec, dtype)
    inner = spec.get("output")
    if spec.get("evaluator") == "reference":
        # No onnxruntime kernel for this dtype: onnx.reference gives the outputs, and onnxruntime
        # must agree on a float32 copy up to float32 rounding.
        outputs = [run_reference(model, x, inner) for x in xs]
        copy32 = cast_model(model, F64, F32)
        for x, y in zip(xs, outputs):
            np.testing.assert_allclose(run(copy32, x.astype(np.float32), inner), y, rtol=1e-4, atol=1e-4)
    else:
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
    check_tolerance(name, model, xs, outputs, inner, entry["tolerance"])
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


def check_onnxruntime(name: str, model: onnx.ModelProto, behaviour: str) -> None:
    """An invalid fixture's spec says whether onnxruntime "runs" it (on zeros for every graph
    input) or "fails" (refuses the session or the run); check that it does."""
    try:
        options = ort.SessionOptions()
        options.log_severity_level = 4  # the expected failures are not news
        sess = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        elem = {"tensor(float)": np.float32, "tensor(double)": np.float64}
        sess.run(None, {i.name: np.zeros(i.shape, elem[i.type]) for i in sess.get_inputs()})
        actual = "runs"
    except Exception:  # noqa: BLE001 - onnxruntime raises several exception types
        actual = "fails"
    if actual != behaviour:
        raise AssertionError(f"onnxruntime {actual} on {name}, expected it to say it {behaviour}")


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
        behaviour = entry.pop("onnxruntime", None)
        if behaviour is not None:
            onnx.checker.check_model(model)  # well-formed: the defect is in what the graph computes
            check_onnxruntime(name, model, behaviour)
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
