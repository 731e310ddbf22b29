"""An ONNX model's signature read straight from its protobuf wire format, weights skipped.

What identifies a swap model is small: the graph's input and output names and shapes, the
shape of its initializers (inswapper's last initializer is a 512 x 512 embedding map) and
which operators it uses. ``onnx.load`` would parse and copy every weight first: a 554 MB
inswapper costs more than a gigabyte of memory that way, and ``onnx`` is not a runtime
dependency of Deepscreen. This reader walks the few messages that carry the signature
(field numbers from onnx/onnx.proto) and jumps over every tensor payload by its length, so a
model of any size costs a pass over its structure only. Nothing is executed; nothing is
loaded into onnxruntime.

Bounds: fields visited in total, values kept per list, string lengths; a length that runs
past its enclosing message is a format error, never an out-of-bounds read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .buffer import FormatError

MAX_FIELDS = 20_000_000  # field headers visited over the whole model
MAX_KEPT = 4096  # initializers / value infos kept in full; the rest are counted
MAX_NAME = 256

ELEM_TYPES = {1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32",
              7: "int64", 8: "string", 9: "bool", 10: "float16", 11: "float64", 12: "uint32",
              13: "uint64", 14: "complex64", 15: "complex128", 16: "bfloat16"}


@dataclass(frozen=True)
class ValueInfo:
    name: str
    elem_type: str | None
    shape: tuple[int | str, ...] | None  # ints, or the symbolic name of a dynamic dimension

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.elem_type,
                "shape": None if self.shape is None else list(self.shape)}


@dataclass(frozen=True)
class Initializer:
    name: str
    dims: tuple[int, ...]
    data_type: str | None


@dataclass
class OnnxSignature:
    ir_version: int | None = None
    producer: str = ""
    producer_version: str = ""
    graph_name: str = ""
    opsets: dict[str, int] = field(default_factory=dict)
    metadata_keys: list[str] = field(default_factory=list)
    graph_inputs: list[ValueInfo] = field(default_factory=list)
    outputs: list[ValueInfo] = field(default_factory=list)
    initializers: list[Initializer] = field(default_factory=list)
    initializer_count: int = 0
    last_initializer: Initializer | None = None
    initializer_names: set[str] = field(default_factory=set)
    op_types: Counter[str] = field(default_factory=Counter)
    node_count: int = 0

    @property
    def inputs(self) -> list[ValueInfo]:
        """Inputs a caller feeds: graph inputs that are not initializers (older exporters list
        every weight as an input too)."""
        return [v for v in self.graph_inputs if v.name not in self.initializer_names]

    def to_evidence(self) -> dict[str, Any]:
        return {
            "inputs": [v.to_dict() for v in self.inputs],
            "outputs": [v.to_dict() for v in self.outputs],
            "initializers": self.initializer_count,
            "last_initializer": None if self.last_initializer is None else {
                "name": self.last_initializer.name, "dims": list(self.last_initializer.dims)},
            "nodes": self.node_count,
            "top_ops": dict(self.op_types.most_common(8)),
            "graph_name": self.graph_name,
            "producer": f"{self.producer} {self.producer_version}".strip(),
            "opsets": self.opsets,
        }


class _Wire:
    """Protobuf wire-format cursor over one buffer, with a global field budget."""

    def __init__(self, buf: memoryview) -> None:
        self.buf = buf
        self.fields = 0

    def varint(self, pos: int, end: int) -> tuple[int, int]:
        result = shift = 0
        while True:
            if pos >= end or shift > 63:
                raise FormatError("bad varint")
            byte = self.buf[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            if byte < 0x80:
                return result, pos
            shift += 7

    def fields_of(self, pos: int, end: int) -> Iterator[tuple[int, int, Any, int]]:
        """(field number, wire type, value, value end) for each field in [pos, end).

        Varints come as ints; length-delimited fields as (start, stop) offsets. (The value is
        Any to callers: its type follows the wire type, which they check first.)
        """
        while pos < end:
            self.fields += 1
            if self.fields > MAX_FIELDS:
                raise FormatError(f"more than {MAX_FIELDS} protobuf fields")
            key, pos = self.varint(pos, end)
            number, wire = key >> 3, key & 7
            if number == 0:
                raise FormatError("field number 0")
            value: int | tuple[int, int] | None
            if wire == 0:
                value, pos = self.varint(pos, end)
            elif wire == 1:
                value, pos = None, pos + 8
            elif wire == 5:
                value, pos = None, pos + 4
            elif wire == 2:
                length, pos = self.varint(pos, end)
                value = (pos, pos + length)
                pos += length
            else:
                raise FormatError(f"wire type {wire} (groups are not used by ONNX)")
            if pos > end:
                raise FormatError("a field runs past the end of its message")
            yield number, wire, value, pos

    def string(self, span: tuple[int, int]) -> str:
        start, stop = span
        raw = bytes(self.buf[start:min(stop, start + MAX_NAME * 4)])
        return raw.decode("utf-8", errors="replace")[:MAX_NAME]


def _int64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def read_signature(buf: memoryview) -> OnnxSignature:
    """Parse the ModelProto in ``buf``; raises FormatError when it is not a usable ONNX model."""
    wire = _Wire(buf)
    sig = OnnxSignature()
    graph_span = None
    for number, kind, value, _ in wire.fields_of(0, len(buf)):
        if number == 1 and kind == 0:
            sig.ir_version = value
        elif number == 2 and kind == 2:
            sig.producer = wire.string(value)
        elif number == 3 and kind == 2:
            sig.producer_version = wire.string(value)
        elif number == 7 and kind == 2:
            graph_span = value
        elif number == 8 and kind == 2:
            domain, version = "", 0
            for n, k, v, _ in wire.fields_of(*value):
                if n == 1 and k == 2:
                    domain = wire.string(v)
                elif n == 2 and k == 0:
                    version = v
            if len(sig.opsets) < 64:
                sig.opsets[domain or "ai.onnx"] = version
        elif number == 14 and kind == 2 and len(sig.metadata_keys) < 64:
            for n, k, v, _ in wire.fields_of(*value):
                if n == 1 and k == 2:
                    sig.metadata_keys.append(wire.string(v))
        elif kind != _EXPECTED_KIND.get(number, kind):
            raise FormatError(f"ModelProto field {number} has wire type {kind}")
    if graph_span is None:
        raise FormatError("no graph in the model")
    if sig.ir_version is None or not 1 <= sig.ir_version <= 64:
        raise FormatError(f"implausible ir_version {sig.ir_version}")
    _read_graph(wire, graph_span, sig)
    return sig


# ModelProto fields and the wire type each must have (a cheap check that rules out most
# files that merely start with byte 0x08).
_EXPECTED_KIND = {1: 0, 2: 2, 3: 2, 4: 2, 5: 0, 6: 2, 7: 2, 8: 2, 14: 2, 20: 2, 25: 2, 26: 2}


def _read_graph(wire: _Wire, span: tuple[int, int], sig: OnnxSignature) -> None:
    for number, kind, value, _ in wire.fields_of(*span):
        if kind != 2:
            continue
        if number == 1:
            sig.node_count += 1
            op_type = ""
            for n, k, v, _ in wire.fields_of(*value):
                if n == 4 and k == 2:
                    op_type = wire.string(v)
            if len(sig.op_types) < 1024 or op_type in sig.op_types:
                sig.op_types[op_type] += 1
        elif number == 2:
            sig.graph_name = wire.string(value)
        elif number == 5:
            tensor = _read_tensor(wire, value)
            sig.initializer_count += 1
            sig.last_initializer = tensor
            if len(sig.initializers) < MAX_KEPT:
                sig.initializers.append(tensor)
            if len(sig.initializer_names) < 200_000:
                sig.initializer_names.add(tensor.name)
        elif number in (11, 12):
            target = sig.graph_inputs if number == 11 else sig.outputs
            if len(target) < MAX_KEPT:
                target.append(_read_value_info(wire, value))


def _read_tensor(wire: _Wire, span: tuple[int, int]) -> Initializer:
    dims: list[int] = []
    name, data_type = "", None
    for number, kind, value, _ in wire.fields_of(*span):
        if number == 1 and kind == 0 and len(dims) < 16:
            dims.append(_int64(value))
        elif number == 1 and kind == 2:  # packed dims
            pos, stop = value
            while pos < stop and len(dims) < 16:
                dim, pos = wire.varint(pos, stop)
                dims.append(_int64(dim))
        elif number == 2 and kind == 0:
            data_type = ELEM_TYPES.get(value, str(value))
        elif number == 8 and kind == 2:
            name = wire.string(value)
        # raw_data (9), float_data (4) and the other payloads are skipped by their length.
    return Initializer(name, tuple(dims), data_type)


def _read_value_info(wire: _Wire, span: tuple[int, int]) -> ValueInfo:
    name, elem_type, shape = "", None, None
    for number, kind, value, _ in wire.fields_of(*span):
        if number == 1 and kind == 2:
            name = wire.string(value)
        elif number == 2 and kind == 2:  # TypeProto
            for n, k, v, _ in wire.fields_of(*value):
                if n == 1 and k == 2:  # TypeProto.Tensor
                    elem_type, shape = _read_tensor_type(wire, v)
    return ValueInfo(name, elem_type, shape)


def _read_tensor_type(wire: _Wire, span: tuple[int, int]) -> tuple[str | None, tuple[int | str, ...] | None]:
    elem_type, shape = None, None
    for number, kind, value, _ in wire.fields_of(*span):
        if number == 1 and kind == 0:
            elem_type = ELEM_TYPES.get(value, str(value))
        elif number == 2 and kind == 2:
            dims: list[int | str] = []
            for n, k, v, _ in wire.fields_of(*value):
                if n != 1 or k != 2 or len(dims) >= 16:
                    continue
                dim: int | str = "?"
                for dn, dk, dv, _ in wire.fields_of(*v):
                    if dn == 1 and dk == 0:
                        dim = _int64(dv)
                    elif dn == 2 and dk == 2:
                        dim = wire.string(dv) or "?"
                dims.append(dim)
            shape = tuple(dims)
    return elem_type, shape


def looks_like_onnx(head: bytes | memoryview) -> bool:
    """First byte is the key of ir_version (field 1, varint): how every ONNX writer starts."""
    return len(head) >= 2 and head[0] == 0x08 and 1 <= head[1] <= 64
