"""The lean ONNX graph: same outputs as the PyTorch model, no Pad nor shape arithmetic left."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from genrekit.bundle import ONNX_FILENAME, default_bundle_path
from genrekit.models.onnx_export import lean_graph
from genrekit.models.onnx_runtime import load_onnx_bundle
from genrekit.models.loaders import load_model


def _run(path: Path, x: np.ndarray) -> list[np.ndarray]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})


def _pad_conv_graph(path: Path, pad_value: float) -> None:
    """input (1, 1, 9, 5) -> Pad (time 2 before, 1 after; value pad_value) -> two Convs."""
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(np.array([0, 0, 2, 0, 0, 0, 1, 0], np.int64), "pads"),
        numpy_helper.from_array(np.array(pad_value, np.float32), "value"),
        numpy_helper.from_array(rng.standard_normal((3, 1, 3, 2)).astype(np.float32), "w1"),
        numpy_helper.from_array(rng.standard_normal((2, 1, 4, 5)).astype(np.float32), "w2"),
    ]
    nodes = [
        helper.make_node("Pad", ["x", "pads", "value"], ["padded"], mode="constant"),
        helper.make_node("Conv", ["padded", "w1"], ["y1"], pads=[0, 1, 0, 0]),
        helper.make_node("Conv", ["padded", "w2"], ["y2"]),
    ]
    graph = helper.make_graph(
        nodes, "pad_conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 9, 5])],
        [helper.make_tensor_value_info("y1", TensorProto.FLOAT, [1, 3, 10, 5]),
         helper.make_tensor_value_info("y2", TensorProto.FLOAT, [1, 2, 9, 1])], inits,
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


@pytest.mark.parametrize(("pad_value", "folded"), [(0.0, True), (0.5, False)])
def test_zero_pads_fold_into_convs_with_identical_outputs(tmp_path: Path, pad_value: float, folded: bool) -> None:
    raw, lean = tmp_path / "raw.onnx", tmp_path / "lean.onnx"
    _pad_conv_graph(raw, pad_value)
    lean_graph(raw, lean)
    ops = [node.op_type for node in onnx.load(str(lean)).graph.node]
    assert ("Pad" not in ops) is folded
    x = np.random.default_rng(1).standard_normal((1, 1, 9, 5)).astype(np.float32)
    for before, after in zip(_run(raw, x), _run(lean, x), strict=True):
        np.testing.assert_allclose(after, before, atol=1e-6)


def test_shipped_graph_is_lean_and_matches_the_pytorch_model() -> None:
    """Golden check of the re-exported default graph against the bundle's PyTorch weights."""
    directory = default_bundle_path()
    graph = onnx.load(str(directory / ONNX_FILENAME))
    ops = {node.op_type for node in graph.graph.node}
    assert not ops & {"Pad", "Constant", "ConstantOfShape", "Shape", "Slice", "Transpose", "Cast"}
    assert {op.domain for op in graph.opset_import} <= {"", "ai.onnx"}
    assert len(graph.graph.node) < 150  # the raw torch export had 406
    card, model = load_model(directory)
    rng = np.random.default_rng(0)
    t = np.arange(48000) / 16000
    windows = np.stack([np.sin(2 * np.pi * 220 * t) * 0.3, rng.standard_normal(48000) * 0.1]).astype(np.float32)
    probs, tags = model.predict_all_windows(windows)
    onnx_model = load_onnx_bundle(directory, card)
    onnx_probs, onnx_tags = onnx_model.predict_all_windows(windows)
    np.testing.assert_allclose(onnx_probs, probs, atol=1e-4)
    for name, values in tags.items():
        np.testing.assert_allclose(onnx_tags[name], values, atol=1e-4)
