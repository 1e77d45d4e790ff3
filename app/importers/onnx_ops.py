"""The ONNX operators NetCanvas imports, each with the function that converts it."""
from __future__ import annotations

from . import onnx_ops_layers as layers
from . import onnx_ops_shape as shape

OPS = {
    "Constant": layers.op_constant, "Identity": layers.op_identity, "Cast": layers.op_cast,
    "Dropout": layers.op_dropout,
    "Conv": layers.op_conv, "ConvTranspose": layers.op_conv_transpose,
    "BatchNormalization": layers.op_batch_norm,
    "Relu": layers._simple("relu"), "Tanh": layers._simple("tanh"),
    "HardSwish": layers._simple("hardswish"), "Sigmoid": layers.op_sigmoid,
    "Clip": layers.op_clip, "LeakyRelu": layers.op_leaky_relu,
    "HardSigmoid": layers.op_hard_sigmoid, "Gelu": layers.op_gelu,
    "Softmax": layers.op_softmax,
    "MaxPool": shape.op_pool, "AveragePool": shape.op_pool,
    "GlobalAveragePool": shape.op_global_avg, "GlobalMaxPool": shape.op_global_max,
    "ReduceMean": shape.op_reduce, "ReduceMax": shape.op_reduce,
    "Flatten": shape.op_flatten, "Reshape": shape.op_reshape, "Squeeze": shape.op_squeeze,
    "Shape": shape.op_shape,
    "Gemm": shape.op_gemm, "MatMul": shape.op_matmul,
    "Add": shape.op_add, "Concat": shape.op_concat, "Mul": shape.op_mul,
    "Pad": shape.op_pad, "Resize": shape.op_resize,
}


def supported_text() -> str:
    return ", ".join(sorted(OPS, key=str.lower))
