"""A torch-free stand-in for the slice of `torch` and `torch.nn` the block classes use.

`blocks.rules` runs the very source of the block classes (blocks/layers.py, resnet.py, …)
against this module instead of torch: a Tensor here is only a shape, and each primitive
layer applies its closed-form rule — output shape, parameter count, and MACs counted with
exactly the conventions of torch.utils.flop_counter.FlopCounterMode (which counts only
matrix multiplies and convolutions, never bias adds, BatchNorm, activations, pools or
element-wise ops), halved. So a block's inside is described once, by its nn.Module class,
and the editor's numbers come from that description without importing torch.

Each primitive refuses what torch refuses (the same argument checks, the same "input too
small" conditions); tests/test_rules.py checks every registry entry against the real
module on the meta device. Only what the block classes use is here: a class that needs
more fails loudly (AttributeError) in that test, not silently with a wrong number.
"""
from __future__ import annotations

import math
import threading

_local = threading.local()


class SymbolicError(ValueError):
    """What torch would have raised, in a sentence."""


class Tally:
    """Parameters created and MACs run while one block is measured."""
    __slots__ = ("params", "macs")

    def __init__(self):
        self.params = 0
        self.macs = 0


def tally() -> Tally:
    return _local.tally


def counting() -> "_Counting":
    """`with counting() as t:` — modules built and run inside add to t."""
    return _Counting()


class _Counting:
    def __enter__(self) -> Tally:
        self.saved = getattr(_local, "tally", None)
        _local.tally = Tally()
        return _local.tally

    def __exit__(self, *exc):
        _local.tally = self.saved
        return False


def _pair(v) -> tuple[int, int]:
    return (v, v) if v.__class__ is int else (int(v[0]), int(v[1]))


# --- tensors ------------------------------------------------------------------------------

class Tensor:
    """A tensor's shape (with its batch dimension), nothing else."""
    __slots__ = ("shape",)

    def __init__(self, shape):
        self.shape = tuple(shape)

    def dim(self) -> int:
        return len(self.shape)

    def numel(self) -> int:
        return math.prod(self.shape)

    def _dims(self, dim) -> set[int]:
        n = len(self.shape)
        out = set()
        for d in (dim if isinstance(dim, (tuple, list)) else (dim,)):
            if not -n <= d < n:
                raise SymbolicError(f"Dimension out of range (expected to be in range of "
                                    f"[{-n}, {n - 1}], but got {d})")
            out.add(d % n)
        return out

    def mean(self, dim, keepdim=False) -> "Tensor":
        dims = self._dims(dim)
        return Tensor(1 if i in dims else s for i, s in enumerate(self.shape)
                      if keepdim or i not in dims)

    amax = mean

    def _broadcast(self, other) -> "Tensor":
        if not isinstance(other, Tensor):
            return self  # a Python number
        a, b = self.shape, other.shape
        n = max(len(a), len(b))
        a, b = (1,) * (n - len(a)) + a, (1,) * (n - len(b)) + b
        out = []
        for x, y in zip(a, b):
            if x != y and 1 not in (x, y):
                raise SymbolicError(f"The size of tensor a ({x}) must match the size of "
                                    f"tensor b ({y}) at a non-singleton dimension")
            out.append(y if x == 1 else x)
        return Tensor(out)

    __add__ = __radd__ = __mul__ = __rmul__ = __sub__ = __rsub__ = _broadcast

    def __getitem__(self, index) -> "Tensor":
        index = index if isinstance(index, tuple) else (index,)
        out, i = [], 0
        for ix in index:
            if ix is None:
                out.append(1)
            elif isinstance(ix, slice):
                out.append(len(range(self.shape[i])[ix]))
                i += 1
            else:
                raise SymbolicError(f"unsupported index {ix!r}")
        return Tensor(out + list(self.shape[i:]))


def cat(tensors, dim=0) -> Tensor:
    tensors = list(tensors)
    first = tensors[0]
    d = dim % len(first.shape)
    for t in tensors[1:]:
        if len(t.shape) != len(first.shape):
            raise SymbolicError(f"Tensors must have same number of dimensions: got "
                                f"{len(first.shape)} and {len(t.shape)}")
        for i, (x, y) in enumerate(zip(first.shape, t.shape)):
            if i != d and x != y:
                raise SymbolicError(f"Sizes of tensors must match except in dimension {d}. "
                                    f"Expected size {x} but got size {y}")
    shape = list(first.shape)
    shape[d] = sum(t.shape[d] for t in tensors)
    return Tensor(shape)


def flatten(x: Tensor, start_dim=0, end_dim=-1) -> Tensor:
    n = len(x.shape)
    s, e = start_dim % n, end_dim % n
    return Tensor(x.shape[:s] + (math.prod(x.shape[s:e + 1]),) + x.shape[e + 1:])


# --- modules ------------------------------------------------------------------------------

class Module:
    training = False  # the numbers are eval mode's (training-only branches never run here)

    def __init__(self, *args, **kwargs):
        pass

    def __call__(self, *args):
        return self.forward(*args)

    def __init_subclass__(cls, **kwargs):
        # module(x) runs forward directly: one Python call less per layer, which was a
        # good part of measuring a block (a block class never defines __call__ itself)
        super().__init_subclass__(**kwargs)
        if "__call__" not in vars(cls) and "forward" in vars(cls):
            cls.__call__ = cls.forward

    @staticmethod
    def _parameters(n: int) -> None:
        _local.tally.params += n

    @staticmethod
    def _macs(n: int) -> None:
        _local.tally.macs += n


class Identity(Module):
    def forward(self, x):
        return x


class _Elementwise(Module):
    """Activations and Dropout: same shape out; FlopCounterMode counts nothing."""

    def forward(self, x):
        return x


ReLU, LeakyReLU, GELU, SiLU, Sigmoid, Tanh, ReLU6, Hardswish, Hardsigmoid = (
    type(name, (_Elementwise,), {}) for name in ("ReLU", "LeakyReLU", "GELU", "SiLU", "Sigmoid",
                                                  "Tanh", "ReLU6", "Hardswish", "Hardsigmoid"))


class Softmax(Module):
    def __init__(self, dim=None):
        self.dim = dim

    def forward(self, x):
        if self.dim is not None:
            x._dims(self.dim)
        return x


class Dropout(_Elementwise):
    def __init__(self, p=0.5, inplace=False):
        if p < 0 or p > 1:
            raise SymbolicError(f"dropout probability has to be between 0 and 1, but got {p}")


class Sequential(Module):
    def __init__(self, *modules):
        self._modules = list(modules)

    def __iter__(self):
        return iter(self._modules)

    def forward(self, x):
        for m in self._modules:
            x = m(x)
        return x


class ModuleList(Module):
    def __init__(self, modules=()):
        self._modules = list(modules)

    def __iter__(self):
        return iter(self._modules)

    def append(self, module):
        self._modules.append(module)


def _need_dims(x: Tensor, dims: tuple[int, ...], what: str) -> None:
    if len(x.shape) not in dims:
        raise SymbolicError(f"{what}: expected {' or '.join(f'{d}D' for d in dims)} input "
                            f"(got {len(x.shape)}D input)")


def _need_channels(x: Tensor, c: int, what: str) -> None:
    if x.shape[1] != c:
        raise SymbolicError(f"{what}: expected input with {c} channels, but got "
                            f"{x.shape[1]} channels instead")


class Conv2d(Module):
    """Output (n + 2p − d(k−1) − 1) // s + 1; MACs = out H·W · k_h·k_w · out · in/groups."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros"):
        if groups <= 0:
            raise SymbolicError("groups must be a positive integer")
        if in_channels % groups:
            raise SymbolicError("in_channels must be divisible by groups")
        if out_channels % groups:
            raise SymbolicError("out_channels must be divisible by groups")
        self.k, self.s, self.d = _pair(kernel_size), _pair(stride), _pair(dilation)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise SymbolicError(f"Invalid padding string {padding!r}")
            if padding == "same" and self.s != (1, 1):
                raise SymbolicError("padding='same' is not supported for strided convolutions")
        self.padding = padding
        self.cin, self.cout, self.groups = in_channels, out_channels, groups
        self._parameters(out_channels * (in_channels // groups) * self.k[0] * self.k[1]
                         + (out_channels if bias else 0))

    def _pads(self) -> tuple[int, int]:
        if self.padding == "valid":
            return 0, 0
        if self.padding == "same":  # total padding d(k−1), however it is split
            return None, None
        return _pair(self.padding)

    def forward(self, x):
        shape = x.shape
        if len(shape) != 4:
            _need_dims(x, (4,), "conv2d")
        if shape[1] != self.cin:
            _need_channels(x, self.cin, "conv2d")
        if self.padding == "same":  # total padding d(k−1), however it is split
            out = shape[2:]
        else:
            out = tuple(self._side(n, k, s, d, p) for n, k, s, d, p in zip(
                shape[2:], self.k, self.s, self.d, self._pads()))
        k = self.k
        _local.tally.macs += (shape[0] * out[0] * out[1] * k[0] * k[1] * self.cout
                              * (self.cin // self.groups))
        return Tensor((shape[0], self.cout, *out))

    @staticmethod
    def _side(n: int, k: int, s: int, d: int, p: int) -> int:
        span = d * (k - 1) + 1
        if n + 2 * p < span:
            raise SymbolicError(f"Kernel size can't be greater than actual input size "
                                f"(padded input {n + 2 * p}, kernel {span})")
        return (n + 2 * p - span) // s + 1


class ConvTranspose2d(Module):
    """Output (n−1)s − 2p + d(k−1) + output_padding + 1; MACs counted over the *input*
    positions: in H·W · k_h·k_w · in · out/groups (FlopCounterMode's transposed rule)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros"):
        if in_channels % groups or out_channels % groups:
            raise SymbolicError("in_channels and out_channels must be divisible by groups")
        self.k, self.s, self.d = _pair(kernel_size), _pair(stride), _pair(dilation)
        self.p, self.op = _pair(padding), _pair(output_padding)
        self.cin, self.cout, self.groups = in_channels, out_channels, groups
        self._parameters(in_channels * (out_channels // groups) * self.k[0] * self.k[1]
                         + (out_channels if bias else 0))

    def forward(self, x):
        _need_dims(x, (4,), "conv_transpose2d")
        _need_channels(x, self.cin, "conv_transpose2d")
        out = [(n - 1) * s - 2 * p + d * (k - 1) + op + 1
               for n, k, s, d, p, op in zip(x.shape[2:], self.k, self.s, self.d, self.p, self.op)]
        if min(out) < 1:
            raise SymbolicError(f"the output would be {out[0]}×{out[1]}: padding too large")
        self._macs(x.shape[0] * x.shape[2] * x.shape[3] * self.k[0] * self.k[1] * self.cin
                   * (self.cout // self.groups))
        return Tensor((x.shape[0], self.cout, *out))


class Linear(Module):
    """MACs = rows · in · out (addmm/mm, the bias add is not counted)."""

    def __init__(self, in_features, out_features, bias=True):
        self.cin, self.cout = in_features, out_features
        self._parameters(in_features * out_features + (out_features if bias else 0))

    def forward(self, x):
        if x.shape[-1] != self.cin:
            raise SymbolicError(f"mat1 and mat2 shapes cannot be multiplied "
                                f"({math.prod(x.shape[:-1])}x{x.shape[-1]} and "
                                f"{self.cin}x{self.cout})")
        self._macs(math.prod(x.shape[:-1]) * self.cin * self.cout)
        return Tensor(x.shape[:-1] + (self.cout,))


class _BatchNorm(Module):
    DIMS: tuple[int, ...] = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True):
        self.c = num_features
        self._parameters(2 * num_features if affine else 0)  # running stats are buffers

    def forward(self, x):
        if len(x.shape) not in self.DIMS:
            _need_dims(x, self.DIMS, type(self).__name__)
        if x.shape[1] != self.c:
            _need_channels(x, self.c, type(self).__name__)
        return x


class BatchNorm1d(_BatchNorm):
    DIMS = (2, 3)


class BatchNorm2d(_BatchNorm):
    DIMS = (4,)


class _Pool2d(Module):
    """Output (n + 2p − d(k−1) − 1) // s + 1 in floor mode; in ceil mode rounded up, less one
    if the last window would start past the input and its left padding (torch's
    pooling_output_shape); padding at most half the kernel."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
        self.k = _pair(kernel_size)
        self.s = self.k if stride is None or stride == [] else _pair(stride)
        self.p, self.d = _pair(padding), _pair(dilation)
        self.ceil = bool(ceil_mode)
        if min(self.s) <= 0:
            raise SymbolicError("stride should be greater than zero")

    def forward(self, x):
        _need_dims(x, (3, 4), type(self).__name__)
        if any(p > k // 2 for p, k in zip(self.p, self.k)):
            raise SymbolicError("pad should be at most half of effective kernel size")
        out = []
        for n, k, s, p, d in zip(x.shape[-2:], self.k, self.s, self.p, self.d):
            o = (n + 2 * p - d * (k - 1) - 1 + (s - 1 if self.ceil else 0)) // s + 1
            if self.ceil and (o - 1) * s >= n + p:
                o -= 1
            if o < 1:
                raise SymbolicError(f"Output size is too small (input {n}, kernel {k})")
            out.append(o)
        return Tensor(x.shape[:-2] + tuple(out))


class MaxPool2d(_Pool2d):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__(kernel_size, stride, padding, dilation, ceil_mode)


class AvgPool2d(_Pool2d):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
        super().__init__(kernel_size, stride, padding, ceil_mode=ceil_mode)


class AdaptiveAvgPool2d(Module):
    """Output [..., h, w] for any input size (FlopCounterMode counts no pooling)."""

    def __init__(self, output_size):
        self.out = _pair(output_size)

    def forward(self, x):
        _need_dims(x, (3, 4), "adaptive_avg_pool2d")
        if min(x.shape[-2:]) < 1 or min(self.out) < 1:
            raise SymbolicError("adaptive_avg_pool2d: sizes must be positive")
        return Tensor(x.shape[:-2] + self.out)


class _Namespace:
    def __init__(self, **attrs):
        self.__dict__.update(attrs)


def _modules_of(namespace: dict) -> dict[str, type]:
    return {name: obj for name, obj in namespace.items()
            if isinstance(obj, type) and issubclass(obj, Module) and not name.startswith("_")}


def _more_layers() -> dict[str, type]:
    """The padding/resizing/normalising stand-ins, kept in their own file (they build on
    Module and Tensor above)."""
    from . import symbolic_layers
    return {name: obj for name, obj in _modules_of(vars(symbolic_layers)).items()
            if obj.__module__ == symbolic_layers.__name__}


# A name defined in both files is a TypeError here, not a silent override.
nn = _Namespace(**_modules_of(dict(globals())), **_more_layers())
torch = _Namespace(cat=cat, flatten=flatten, nn=nn, Tensor=Tensor)
