"""Read a pickle's structure without unpickling it: a symbolic stack machine over its opcodes.

Face-swap tools pickle their face records, weights and alignments, and ``pickle.loads`` on an
uploaded file runs whatever callables the file names (``os.system`` included). This module
never imports or calls anything a pickle references. It walks the opcode stream (the opcode
table and argument kinds come from :mod:`pickletools`), keeps an inert model of what the
stack would hold (``Global`` for a referenced callable, ``Call`` for an application of one,
``Blob`` for bytes), and reports which globals the pickle names, so a pickle that would run
code is named as such.

Every quantity is bounded: opcodes, stack depth, marks, memo entries, container sizes and
stored text. Byte and text payloads are skipped by offset, so a 500 MB weights pickle costs
a pass over its few thousand opcodes, not a read of its weights. A stream that ends early
still yields what was built so far (``truncated``).
"""

from __future__ import annotations

import pickletools
import struct
from dataclasses import dataclass, field
from typing import Any

from .buffer import FormatError

# Opcode table from the standard library: byte -> (name, argument kind).
_OPS: dict[int, tuple[str, str | None]] = {
    ord(op.code): (op.name, op.arg.name if op.arg is not None else None)
    for op in pickletools.opcodes
}

# Callables whose presence in a pickle means loading it runs code or touches the system.
# Modules are matched by their first component (``os.path`` is ``os``).
UNSAFE_MODULES = frozenset({
    "os", "posix", "nt", "subprocess", "sys", "socket", "shutil", "runpy", "importlib",
    "pty", "ctypes", "multiprocessing", "webbrowser", "code", "codeop", "pdb", "bdb",
    "marshal", "pickle", "_pickle", "dill", "cloudpickle", "commands", "popen2", "platform",
    "asyncio", "http", "urllib", "urllib2", "requests", "ftplib", "telnetlib", "smtplib",
    "tempfile", "pathlib", "io", "_io", "types", "timeit", "trace", "site", "signal", "_thread",
    "threading", "zipimport", "pkgutil", "shlex", "glob", "torch.hub", "nturl2path",
})
UNSAFE_BUILTINS = frozenset({
    "eval", "exec", "execfile", "compile", "open", "__import__", "getattr", "setattr",
    "delattr", "globals", "locals", "vars", "input", "breakpoint", "apply", "file", "reload",
    "exit", "quit", "help", "memoryview", "__build_class__",
})
UNSAFE_QUALIFIED = frozenset({
    "operator.attrgetter", "operator.methodcaller", "functools.partial", "functools.reduce",
    "numpy.load", "numpy.fromfile", "numpy.testing._private.utils.runstring",
    "torch.load", "torch.jit.load", "torch.serialization.load",
})


@dataclass(frozen=True)
class Limits:
    max_ops: int = 2_000_000
    max_stack: int = 200_000
    max_marks: int = 10_000
    max_memo: int = 1_000_000
    max_items: int = 100_000  # elements kept per container; the rest are counted only
    max_text: int = 1024  # characters kept per string (keys and short values)
    max_total_text: int = 16 << 20  # characters kept over the whole pickle


@dataclass(frozen=True)
class Global:
    """A reference to a callable or class by name: never imported."""

    module: str
    name: str

    @property
    def qualified(self) -> str:
        return f"{self.module}.{self.name}"


@dataclass(eq=False)
class Call:
    """What REDUCE / NEWOBJ / INST / OBJ would have built: ``func(*args)``, then BUILD's state
    and any items or appends applied to the result."""

    func: Any
    args: Any = ()
    state: Any = None
    items: dict[Any, Any] | None = None
    appends: list[Any] | None = None


@dataclass(frozen=True)
class Blob:
    """Bytes, a bytearray or an out-of-band buffer: only the length is kept."""

    length: int
    kind: str = "bytes"


@dataclass(frozen=True)
class Persistent:
    """A persistent id (PyTorch's reference to a tensor storage)."""

    pid: Any


@dataclass(frozen=True)
class Text:
    """A string longer than the kept limit: its prefix and true length."""

    prefix: str
    length: int

    def __str__(self) -> str:
        return self.prefix + "…"


class _Mark:
    __slots__ = ()


MARK = _Mark()


@dataclass
class PickleScan:
    """What a pickle would build, as inert data, and what it references."""

    root: Any = None
    protocol: int | None = None
    ops: int = 0
    end: int = 0  # offset just after STOP (or where reading stopped)
    complete: bool = False  # reached STOP
    truncated: bool = False  # the stream ended before STOP
    globals: list[str] = field(default_factory=list)  # "module.name", in first-seen order
    problems: list[str] = field(default_factory=list)

    @property
    def unsafe_globals(self) -> list[str]:
        return [name for name in self.globals if is_unsafe(name)]


def is_unsafe(qualified: str) -> bool:
    module, _, name = qualified.rpartition(".")
    root = module.split(".", 1)[0]
    if qualified in UNSAFE_QUALIFIED or module in UNSAFE_MODULES or root in UNSAFE_MODULES:
        return True
    return module in ("builtins", "__builtin__") and name in UNSAFE_BUILTINS


def looks_like_pickle(head: bytes | memoryview) -> bool:
    """A protocol 2-5 header (``80 0x``): what every tool in rules.yaml writes."""
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5


class _Reader:
    def __init__(self, buf: memoryview, start: int, end: int, limits: Limits) -> None:
        self.buf = buf
        self.pos = start
        self.end = end
        self.limits = limits
        self.stack: list[Any] = []
        self.marks: list[int] = []
        self.memo: dict[int, Any] = {}
        self.scan = PickleScan()
        self.seen_globals: set[str] = set()
        self.text_budget = limits.max_total_text

    # -- argument decoding, straight from the buffer ---------------------------------------
    def take(self, n: int) -> memoryview:
        if n < 0 or self.pos + n > self.end:
            raise EOFError
        view = self.buf[self.pos:self.pos + n]
        self.pos += n
        return view

    def skip(self, n: int) -> None:
        if n < 0 or self.pos + n > self.end:
            raise EOFError
        self.pos += n

    def line(self) -> bytes:
        limit = min(self.end, self.pos + 64 * 1024)
        raw = bytes(self.buf[self.pos:limit])
        cut = raw.find(b"\n")
        if cut < 0:
            if limit == self.end:
                raise EOFError
            raise FormatError("a text argument runs past 64 KiB without a newline")
        self.pos += cut + 1
        return raw[:cut]

    def uint(self, width: int) -> int:
        return int.from_bytes(self.take(width), "little")

    def string(self, length: int, encoding: str) -> str | Text:
        keep = min(length, self.limits.max_text * 4, max(0, self.text_budget))
        raw = bytes(self.take(keep)) if keep else b""
        self.skip(length - keep)
        value = raw.decode(encoding, errors="replace")
        self.text_budget -= len(value)
        if keep < length or len(value) > self.limits.max_text:
            return Text(value[:self.limits.max_text], length)
        return value

    def argument(self, kind: str | None) -> Any:
        if kind is None:
            return None
        if kind == "uint1":
            return self.uint(1)
        if kind == "uint2":
            return self.uint(2)
        if kind == "int4":
            return int.from_bytes(self.take(4), "little", signed=True)
        if kind == "uint4":
            return self.uint(4)
        if kind == "uint8":
            return self.uint(8)
        if kind == "long1":
            return self._long(self.uint(1))
        if kind == "long4":
            return self._long(self.uint(4))
        if kind == "float8":
            return struct.unpack(">d", self.take(8))[0]
        if kind in ("bytes1", "string1"):
            return self._blob_or_str(self.uint(1), kind)
        if kind in ("bytes4", "string4"):
            return self._blob_or_str(self.uint(4), kind)
        if kind in ("bytes8", "bytearray8"):
            length = self.uint(8)
            self.skip(length)
            return Blob(length, "bytearray" if kind == "bytearray8" else "bytes")
        if kind == "unicodestring1":
            return self.string(self.uint(1), "utf-8")
        if kind == "unicodestring4":
            return self.string(self.uint(4), "utf-8")
        if kind == "unicodestring8":
            return self.string(self.uint(8), "utf-8")
        if kind in ("stringnl", "stringnl_noescape", "unicodestringnl"):
            return self.line().decode("latin-1" if kind != "unicodestringnl" else "raw_unicode_escape",
                                      errors="replace")
        if kind == "stringnl_noescape_pair":
            return self.line().decode("utf-8", "replace"), self.line().decode("utf-8", "replace")
        if kind in ("decimalnl_short", "decimalnl_long"):
            return self._decimal(self.line())
        if kind == "floatnl":
            try:
                return float(self.line())
            except ValueError:
                return 0.0
        raise FormatError(f"unknown pickle argument kind {kind}")

    def _long(self, length: int) -> int:
        if length > 64:  # a long of more than 512 bits says nothing we need
            self.skip(length)
            return 0
        return int.from_bytes(self.take(length), "little", signed=True)

    def _blob_or_str(self, length: int, kind: str) -> Any:
        if kind.startswith("string"):  # Python 2 str: text we may need (keys of old pickles)
            return self.string(length, "latin-1")
        self.skip(length)
        return Blob(length)

    @staticmethod
    def _decimal(raw: bytes) -> int | bool:
        value = raw.rstrip(b"L")
        if value == b"00":
            return False
        if value == b"01":
            return True
        try:
            return int(value[:40])
        except ValueError:
            return 0

    # -- the machine -----------------------------------------------------------------------
    def push(self, value: Any) -> None:
        if len(self.stack) >= self.limits.max_stack:
            raise FormatError(f"stack deeper than {self.limits.max_stack}")
        self.stack.append(value)

    def pop(self) -> Any:
        if not self.stack or self.stack[-1] is MARK:
            raise FormatError("pop from an empty stack (malformed pickle)")
        return self.stack.pop()

    def pop_mark(self) -> list[Any]:
        if not self.marks:
            raise FormatError("no MARK to pop to (malformed pickle)")
        base = self.marks.pop()
        items = self.stack[base + 1:]
        del self.stack[base:]
        return items

    def mark(self) -> None:
        if len(self.marks) >= self.limits.max_marks:
            raise FormatError(f"more than {self.limits.max_marks} nested MARKs")
        self.marks.append(len(self.stack))
        self.push(MARK)

    def note_global(self, module: str, name: str) -> Global:
        ref = Global(str(module)[:200], str(name)[:200])
        if ref.qualified not in self.seen_globals and len(self.seen_globals) < 4096:
            self.seen_globals.add(ref.qualified)
            self.scan.globals.append(ref.qualified)
        return ref

    def memo_put(self, index: int) -> None:
        if not self.stack or self.stack[-1] is MARK:
            raise FormatError("memoize with an empty stack")
        if len(self.memo) >= self.limits.max_memo and index not in self.memo:
            raise FormatError(f"more than {self.limits.max_memo} memo entries")
        self.memo[index] = self.stack[-1]

    def set_items(self, target: Any, pairs: list[Any]) -> None:
        store = _item_store(target)
        if store is None:
            return
        for key, value in zip(pairs[0::2], pairs[1::2], strict=False):
            if len(store) < self.limits.max_items:
                store[_hashable(key)] = value

    def append_items(self, target: Any, values: list[Any]) -> None:
        store = _append_store(target)
        if store is None:
            return
        room = self.limits.max_items - len(store)
        if room > 0:
            store.extend(values[:room])

    def run(self) -> PickleScan:
        scan = self.scan
        try:
            while True:
                if scan.ops >= self.limits.max_ops:
                    raise FormatError(f"more than {self.limits.max_ops} opcodes; stopped reading")
                if self.pos >= self.end:
                    raise EOFError
                code = self.buf[self.pos]
                self.pos += 1
                entry = _OPS.get(code)
                if entry is None:
                    raise FormatError(f"unknown opcode 0x{code:02X} at byte {self.pos - 1}")
                name, kind = entry
                arg = self.argument(kind)
                scan.ops += 1
                if name == "STOP":
                    scan.root = self.pop() if self.stack and self.stack[-1] is not MARK else None
                    scan.complete = True
                    break
                self.step(name, arg)
        except EOFError:
            scan.truncated = True
            scan.problems.append("the pickle ends before its STOP opcode (truncated)")
            scan.root = self.partial_root()
        except FormatError as exc:
            scan.problems.append(str(exc))
            scan.root = self.partial_root()
        except (RecursionError, MemoryError, OverflowError, ValueError) as exc:
            scan.problems.append(f"unreadable pickle: {type(exc).__name__}")
            scan.root = self.partial_root()
        scan.end = self.pos
        return scan

    def step(self, name: str, arg: Any) -> None:
        if name in ("PROTO",):
            self.scan.protocol = arg
        elif name == "FRAME":
            pass
        elif name in ("INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4",
                      "FLOAT", "BINFLOAT", "STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE",
                      "SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "BINBYTES",
                      "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8"):
            self.push(arg)
        elif name == "NONE":
            self.push(None)
        elif name == "NEWTRUE":
            self.push(True)
        elif name == "NEWFALSE":
            self.push(False)
        elif name in ("NEXT_BUFFER",):
            self.push(Blob(-1, "out-of-band buffer"))
        elif name == "READONLY_BUFFER":
            pass
        elif name == "EMPTY_LIST":
            self.push([])
        elif name == "EMPTY_DICT":
            self.push({})
        elif name == "EMPTY_TUPLE":
            self.push(())
        elif name == "EMPTY_SET":
            self.push([])
        elif name == "MARK":
            self.mark()
        elif name == "POP":
            if self.stack and self.stack[-1] is MARK:
                self.pop_mark()
            else:
                self.pop()
        elif name == "POP_MARK":
            self.pop_mark()
        elif name == "DUP":
            value = self.pop()
            self.push(value)
            self.push(value)
        elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
            count = int(name[-1])
            values = [self.pop() for _ in range(count)][::-1]
            self.push(tuple(_hashable(v) for v in values))
        elif name == "TUPLE":
            self.push(tuple(_hashable(v) for v in self.pop_mark()[:self.limits.max_items]))
        elif name == "LIST":
            self.push(self.pop_mark()[:self.limits.max_items])
        elif name == "DICT":
            values = self.pop_mark()
            built: dict[Any, Any] = {}
            self.set_items(built, values)
            self.push(built)
        elif name == "FROZENSET":
            self.push(tuple(_hashable(v) for v in self.pop_mark()[:self.limits.max_items]))
        elif name == "APPEND":
            value = self.pop()
            self.append_items(self._top(), [value])
        elif name in ("APPENDS", "ADDITEMS"):
            values = self.pop_mark()
            self.append_items(self._top(), values)
        elif name == "SETITEM":
            value, key = self.pop(), self.pop()
            self.set_items(self._top(), [key, value])
        elif name == "SETITEMS":
            values = self.pop_mark()
            self.set_items(self._top(), values)
        elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
            self.memo_put(int(arg) if not isinstance(arg, str) else _int(arg))
        elif name == "MEMOIZE":
            self.memo_put(len(self.memo))
        elif name in ("GET", "BINGET", "LONG_BINGET"):
            index = int(arg) if not isinstance(arg, str) else _int(arg)
            if index not in self.memo:
                raise FormatError(f"memo entry {index} read before it was written")
            self.push(self.memo[index])
        elif name == "GLOBAL":
            module, attr = arg
            self.push(self.note_global(module, attr))
        elif name == "STACK_GLOBAL":
            attr, module = self.pop(), self.pop()
            self.push(self.note_global(str(module), str(attr)))
        elif name in ("EXT1", "EXT2", "EXT4"):
            self.push(self.note_global("copyreg-extension", str(arg)))
        elif name == "REDUCE":
            args, func = self.pop(), self.pop()
            self.push(Call(func, args))
        elif name == "NEWOBJ":
            args, cls = self.pop(), self.pop()
            self.push(Call(cls, args))
        elif name == "NEWOBJ_EX":
            _kwargs, args, cls = self.pop(), self.pop(), self.pop()
            self.push(Call(cls, args))
        elif name == "INST":
            module, attr = arg
            self.push(Call(self.note_global(module, attr), tuple(self.pop_mark())))
        elif name == "OBJ":
            values = self.pop_mark()
            self.push(Call(values[0] if values else None, tuple(values[1:])))
        elif name == "BUILD":
            state = self.pop()
            target = self._top()
            if isinstance(target, Call):
                target.state = state
        elif name in ("PERSID", "BINPERSID"):
            pid = arg if name == "PERSID" else self.pop()
            self.push(Persistent(pid))
        else:
            raise FormatError(f"opcode {name} is not handled")

    def _top(self) -> Any:
        if not self.stack or self.stack[-1] is MARK:
            raise FormatError("no object to add items to (malformed pickle)")
        return self.stack[-1]

    def partial_root(self) -> Any:
        """The outermost object of a pickle that stopped early, with pending items folded in.

        Items pushed after an unclosed MARK would have been added by the SETITEMS or APPENDS
        that never came; fold them into the object below the mark so a truncated dict still
        shows its first keys.
        """
        while self.marks:
            base = self.marks.pop()
            pending = self.stack[base + 1:]
            del self.stack[base:]
            if not self.stack:
                self.stack.append(tuple(_hashable(v) for v in pending))
                continue
            target = self.stack[-1]
            if _item_store(target) is not None and not isinstance(target, list):
                self.set_items(target, pending[:len(pending) - len(pending) % 2])
            elif _append_store(target) is not None:
                self.append_items(target, pending)
        return self.stack[0] if self.stack else None


def _item_store(target: Any) -> dict[Any, Any] | None:
    if isinstance(target, dict):
        return target
    if isinstance(target, Call):
        if target.items is None:
            target.items = {}
        return target.items
    return None


def _append_store(target: Any) -> list[Any] | None:
    if isinstance(target, list):
        return target
    if isinstance(target, Call):
        if target.appends is None:
            target.appends = []
        return target.appends
    return None


def _hashable(value: Any) -> Any:
    """Dict keys and tuple members must hash; a list or dict among them becomes its repr."""
    try:
        hash(value)
    except TypeError:
        return f"<{type(value).__name__}>"
    return value


def _int(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        return -1


def scan_pickle(buf: memoryview | bytes, start: int = 0, end: int | None = None,
                limits: Limits | None = None) -> PickleScan:
    """Walk one pickle starting at ``start`` (up to ``end``) and return what it would build."""
    view = memoryview(buf) if not isinstance(buf, memoryview) else buf
    stop = len(view) if end is None else min(end, len(view))
    return _Reader(view, start, stop, limits or Limits()).run()


# --- reading the inert result -------------------------------------------------------------

_NUMPY_RECONSTRUCT = {"numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct"}
_NUMPY_FROMBUFFER = {"numpy.core.numeric._frombuffer", "numpy._core.numeric._frombuffer"}
_TORCH_REBUILD = {"torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor",
                  "torch._utils._rebuild_tensor_v3", "torch._utils._rebuild_qtensor"}
_TORCH_PARAMETER = {"torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state"}
_MAPPING_CLASSES = {"collections.OrderedDict", "builtins.dict", "__builtin__.dict"}


def call_name(value: Any) -> str | None:
    """``module.name`` of the callable a Call applies, when it is a plain global."""
    if isinstance(value, Call) and isinstance(value.func, Global):
        return value.func.qualified
    return None


def as_mapping(value: Any) -> dict[Any, Any] | None:
    """The dict a value would be: a dict, or an OrderedDict (or dict subclass) built by a Call."""
    if isinstance(value, dict):
        return value
    if isinstance(value, Call):
        if value.items is not None:
            return value.items
        if call_name(value) in _MAPPING_CLASSES and isinstance(value.args, tuple) and value.args:
            pairs = value.args[0]
            if isinstance(pairs, list):
                return {_hashable(p[0]): p[1] for p in pairs if isinstance(p, tuple) and len(p) == 2}
        if call_name(value) in _MAPPING_CLASSES:
            return {}
    return None


def array_shape(value: Any) -> tuple[int, ...] | None:
    """Shape of a pickled numpy array or PyTorch tensor, read from its reconstruction call."""
    name = call_name(value)
    if name in _NUMPY_RECONSTRUCT and isinstance(value.state, tuple) and len(value.state) >= 2:
        shape = value.state[1]
        return _int_tuple(shape)
    if name in _NUMPY_FROMBUFFER and isinstance(value.args, tuple) and len(value.args) >= 3:
        return _int_tuple(value.args[2])  # protocol 5: (buffer, dtype, shape, order)
    if name in _TORCH_REBUILD and isinstance(value.args, tuple) and len(value.args) >= 3:
        return _int_tuple(value.args[2])
    if name in _TORCH_PARAMETER and isinstance(value.args, tuple) and value.args:
        return array_shape(value.args[0])
    return None


def _int_tuple(value: Any) -> tuple[int, ...] | None:
    if isinstance(value, tuple) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return tuple(value)
    return None


def kind_of(value: Any) -> str:
    """A short type name for evidence: ``ndarray``, ``tensor``, ``dict``, ``str``, ``call:x.y``."""
    name = call_name(value)
    if name in _NUMPY_RECONSTRUCT or name in _NUMPY_FROMBUFFER:
        return "ndarray"
    if name in _TORCH_REBUILD or name in _TORCH_PARAMETER:
        return "tensor"
    if as_mapping(value) is not None:
        return "dict"
    if isinstance(value, (str, Text)):
        return "str"
    if isinstance(value, Blob):
        return value.kind
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return type(value).__name__
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, Global):
        return f"global:{value.qualified}"
    if isinstance(value, Persistent):
        return "persistent"
    if name is not None:
        return f"call:{name}"
    return type(value).__name__ if value is not None else "none"


def string_keys(mapping: dict[Any, Any]) -> list[str]:
    return [str(k) for k in mapping if isinstance(k, (str, Text))]


def plain(value: Any, depth: int = 3, items: int = 8) -> Any:
    """A small JSON-safe rendering of a value for evidence (bounded in depth and width)."""
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return value
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, str):
        return value[:200]
    if isinstance(value, Text):
        return str(value)[:200]
    shape = array_shape(value)
    if shape is not None:
        return {"array_shape": list(shape)}
    if depth <= 0:
        return kind_of(value)
    mapping = as_mapping(value)
    if mapping is not None:
        out = {str(k)[:100]: plain(v, depth - 1, items) for k, v in list(mapping.items())[:items]}
        if len(mapping) > items:
            out["…"] = f"{len(mapping) - items} more"
        return out
    if isinstance(value, (list, tuple)):
        if len(value) > items:
            return {"list_of": len(value), "first": plain(value[0], depth - 1, items)}
        return [plain(v, depth - 1, items) for v in value]
    return kind_of(value)
