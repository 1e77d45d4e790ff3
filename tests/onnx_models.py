"""Small ONNX models built by hand, and how the ONNX import tests run and judge them."""
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from app.importers import ImportRefused, import_source


def ort_run(path_or_bytes, x):
    options = ort.SessionOptions()
    options.log_severity_level = 3
    s = ort.InferenceSession(path_or_bytes, options, providers=["CPUExecutionProvider"])
    return s.run(None, {s.get_inputs()[0].name: x.numpy()})[0]


def close(want, got):
    return np.abs(want - got).max() <= 1e-5 * max(1.0, float(np.abs(want).max()))


def tiny_model(opset=17, extra_nodes=(), outputs=("y",), input_dims=("N", 3, 8, 8), ops=None,
          inits=None, out_rank=2):
    """x → Conv(4, 3×3, pad 1) → Relu → GlobalAveragePool → Flatten → Gemm(2)."""
    rng = np.random.default_rng(0)
    inits = inits if inits is not None else [
        onnx.numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w"),
        onnx.numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "b"),
        onnx.numpy_helper.from_array(rng.standard_normal((2, 4)).astype(np.float32), "fw"),
        onnx.numpy_helper.from_array(rng.standard_normal(2).astype(np.float32), "fb")]
    nodes = ops if ops is not None else [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1],
                         kernel_shape=[3, 3]),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("GlobalAveragePool", ["r"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["f"], name="flat"),
        helper.make_node("Gemm", ["f", "fw", "fb"], ["y"], name="fc", transB=1)]
    graph = helper.make_graph(
        [*nodes, *extra_nodes], "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(input_dims))],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, [None] * (out_rank if o == "y" else 4))
         for o in outputs], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def save(model, path):
    onnx.save(model, str(path))
    return str(path)


def refusal(path, **kw) -> str:
    with pytest.raises(ImportRefused) as info:
        import_source(str(path), **kw)
    text = str(info.value)
    assert "\n" not in text and "Traceback" not in text
    return text


def folding_model():
    """The tiny model with its Flatten as a Reshape whose target the graph computes from
    constants (a Concat of two Constants), so byte flips reach the constant folding too."""
    model = tiny_model()
    nodes = list(model.graph.node)
    const = [helper.make_node("Constant", [], [name], value=helper.make_tensor(
        name, TensorProto.INT64, [1], [v])) for name, v in (("k0", 0), ("k1", -1))]
    fold = [*const, helper.make_node("Concat", ["k0", "k1"], ["target"], axis=0),
            helper.make_node("Reshape", ["g", "target"], ["f"], name="flat")]
    del model.graph.node[:]
    model.graph.node.extend(nodes[:3] + fold + nodes[4:])
    return model
