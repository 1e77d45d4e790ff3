"""The measured info of every node, with its totals kept as nodes are measured.

The status bar and the summary show the graph's total parameters and MACs after every
edit; summing 10,000 nodes each time made an edit's cost grow with the graph. The table
is a dict (node id → NodeInfo) that adds and subtracts as entries come, change and go."""
from __future__ import annotations

FIELDS = ("params", "trainable_params", "macs", "activation_bytes")


class InfoTable(dict):
    __slots__ = ("sums",)

    def __init__(self):
        super().__init__()
        self.sums = dict.fromkeys(FIELDS, 0)

    def _add(self, info, sign: int) -> None:
        s = self.sums
        s["params"] += sign * info.params
        s["trainable_params"] += sign * info.trainable_params
        s["macs"] += sign * info.macs
        s["activation_bytes"] += sign * info.activation_bytes

    def __setitem__(self, key, info) -> None:
        old = self.get(key)
        if old is not None:
            self._add(old, -1)
        super().__setitem__(key, info)
        self._add(info, 1)

    def __delitem__(self, key) -> None:
        self._add(self[key], -1)
        super().__delitem__(key)

    _MISSING = object()

    def pop(self, key, default=_MISSING):
        if key in self:
            info = super().pop(key)
            self._add(info, -1)
            return info
        if default is self._MISSING:
            raise KeyError(key)
        return default

    def clear(self) -> None:
        super().clear()
        self.sums = dict.fromkeys(FIELDS, 0)

    def update(self, *args, **kw) -> None:
        for k, v in dict(*args, **kw).items():
            self[k] = v

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return self[key]

    def popitem(self):
        key, info = super().popitem()
        self._add(info, -1)
        return key, info
