"""ONNX import of hostile files: each is refused with one clear line naming where and why,
never a traceback; random byte flips of a valid file raise nothing but ImportRefused."""
import os

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper
from onnx_models import folding_model, refusal, save, tiny_model

from app.importers import ImportRefused
from app.importers.onnx_import import import_onnx
from app.importers.onnx_load import OnnxUnreadable


def test_output_that_is_the_input_refused(tmp_path):
    ops = [helper.make_node("Identity", ["x"], ["y"])]
    assert "no layer" in refusal(save(tiny_model(ops=ops, inits=[], out_rank=4), tmp_path / "i.onnx"))


def test_truncated_and_non_onnx_files(tmp_path):
    data = tiny_model().SerializeToString()
    (tmp_path / "cut.onnx").write_bytes(data[: len(data) // 3])
    assert "is not an ONNX model" in refusal(tmp_path / "cut.onnx")
    (tmp_path / "text.onnx").write_text("this is a text file, not a network\n")
    assert "is not an ONNX model" in refusal(tmp_path / "text.onnx")
    (tmp_path / "empty.onnx").write_bytes(b"")
    assert "is not an ONNX model" in refusal(tmp_path / "empty.onnx")
    assert "no such file" in refusal(tmp_path / "missing.onnx")
    with pytest.raises(OnnxUnreadable):  # a command line exits 2 for these, not 1
        import_onnx(tmp_path / "cut.onnx")


def test_old_opset_is_named(tmp_path):
    text = refusal(save(tiny_model(opset=9), tmp_path / "old.onnx"))
    assert "opset 9" in text and "13" in text


def test_unsupported_op_names_the_node_and_what_is_supported(tmp_path):
    ops = [helper.make_node("Sin", ["x"], ["y"], name="weird")]
    text = refusal(save(tiny_model(ops=ops, inits=[], out_rank=4), tmp_path / "sin.onnx"))
    assert "ONNX node 0 'weird' (Sin)" in text and "supported:" in text and "Conv" in text
    model = tiny_model(ops=[helper.make_node("Fancy", ["x"], ["y"], name="f", domain="com.example")],
                  inits=[], out_rank=4)
    model.opset_import.append(helper.make_opsetid("com.example", 1))
    assert "ONNX node 0 'f' (com.example::Fancy)" in refusal(save(model, tmp_path / "f.onnx"))


def test_two_outputs_refused(tmp_path):
    path = save(tiny_model(outputs=("y", "r")), tmp_path / "two.onnx")
    assert "2 outputs" in refusal(path)


def test_weight_computed_from_the_input_refused(tmp_path):
    ops = [helper.make_node("Conv", ["x", "x"], ["y"], name="selfconv")]
    text = refusal(save(tiny_model(ops=ops, inits=[], input_dims=(1, 3, 3, 3), out_rank=4),
                          tmp_path / "w.onnx"))
    assert "'selfconv' (Conv)" in text and "not a constant" in text


def test_unsupported_attribute_refused(tmp_path):
    ops = [helper.make_node("MaxPool", ["x"], ["y"], name="mp", kernel_shape=[2, 2],
                            dilations=[2, 2])]
    text = refusal(save(tiny_model(ops=ops, inits=[], out_rank=4), tmp_path / "mp.onnx"))
    assert "'mp' (MaxPool)" in text and "dilated" in text


def _external(tmp_path, location):
    model = tiny_model()
    w = model.graph.initializer[0]
    w.data_location = TensorProto.EXTERNAL
    raw = w.raw_data or np.asarray(w.float_data, np.float32).tobytes()
    w.ClearField("raw_data")
    w.ClearField("float_data")
    for k, v in (("location", location), ("offset", "0"), ("length", str(len(raw)))):
        entry = w.external_data.add()
        entry.key, entry.value = k, v
    folder = tmp_path / "model"
    folder.mkdir(exist_ok=True)
    path = folder / "ext.onnx"
    path.write_bytes(model.SerializeToString())
    return path, raw


def test_external_data_inside_the_folder_is_read(tmp_path):
    path, raw = _external(tmp_path, "weights.bin")
    (path.parent / "weights.bin").write_bytes(raw)
    result = import_onnx(path)
    conv_weight = next(v for k, v in result.weights.items() if v.ndim == 4)
    assert conv_weight.numpy().tobytes() == raw


def test_external_data_outside_the_folder_refused(tmp_path):
    _, raw = _external(tmp_path, "x")
    (tmp_path / "secret.bin").write_bytes(raw)
    for location in ("../secret.bin", str(tmp_path / "secret.bin")):
        path, _ = _external(tmp_path, location)
        assert "outside the model's folder" in refusal(path) or \
            "not a file inside the model's folder" in refusal(path)
    path, _ = _external(tmp_path, "link.bin")  # a link inside that leads out
    os.symlink(tmp_path / "secret.bin", path.parent / "link.bin")
    assert "leads outside the model's folder" in refusal(path)


def test_huge_declared_dims_refused(tmp_path):
    path = save(tiny_model(input_dims=("N", 3, 10 ** 9, 10 ** 9)), tmp_path / "huge.onnx")
    assert "declares a dimension of 1,000,000,000" in refusal(path)
    huge = TensorProto(name="w", data_type=TensorProto.FLOAT, raw_data=b"\0" * 16)
    huge.dims.extend([10 ** 6, 10 ** 6, 3, 3])
    model = tiny_model()
    model.graph.initializer[0].CopyFrom(huge)
    assert "declares 9,000,000,000,000 elements" in refusal(save(model, tmp_path / "h2.onnx"))


def test_constant_arithmetic_that_would_explode_refused(tmp_path):
    """[50000, 1] + [1, 50000] broadcasts to 2.5e9 values: refused before computing it."""
    ones = [onnx.numpy_helper.from_array(np.ones(shape, np.float32), name)
            for name, shape in (("a", (50000, 1)), ("b", (1, 50000)))]
    ops = [helper.make_node("Add", ["a", "b"], ["big"], name="bc"),
           helper.make_node("Relu", ["x"], ["y"])]
    text = refusal(save(tiny_model(ops=ops, inits=ones, out_rank=4), tmp_path / "bc.onnx"))
    assert "'bc' (Add)" in text and "2,500,000,000 values" in text


@pytest.fixture(scope="module")
def tiny_bytes():
    return folding_model().SerializeToString()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flips=st.lists(st.tuples(st.integers(0, 10 ** 6), st.integers(1, 255)), min_size=1,
                      max_size=6))
def test_byte_flips_never_raise_anything_but_refusal(tmp_path_factory, tiny_bytes, flips):
    data = bytearray(tiny_bytes)
    for pos, xor in flips:
        data[pos % len(data)] ^= xor
    path = tmp_path_factory.mktemp("fuzz") / "f.onnx"
    path.write_bytes(bytes(data))
    try:
        import_onnx(path)
    except ImportRefused as exc:
        assert "\n" not in str(exc)
