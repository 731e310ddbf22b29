"""Layer names of a Keras model, from a ``.keras`` ZIP's config.json or a legacy HDF5 header.

faceswap saves its models with Keras (``<plugin>.keras``, ``.h5`` before faceswap 3). The
graph's layer names tell which tool built it. Keras 3 files are ZIPs whose ``config.json``
is plain JSON; HDF5 files keep the JSON model config as an attribute of the root group,
which h5py and Keras write next to the file's start, before the weights. Without parsing
HDF5 (and without importing h5py) the JSON's ``"name"`` fields are found in a bounded window
at the start of the file; a config stored further in is not seen (documented limit).
"""

from __future__ import annotations

import json
import re
from typing import Any

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
HDF5_WINDOW = 4 << 20
MAX_LAYERS = 20_000
_NAME = re.compile(rb'"name":\s*"([^"\\]{1,128})"')


def is_hdf5(head: bytes | memoryview) -> bool:
    # The superblock may sit at 0, 512, 1024, 2048, ... (a user block before it); files that
    # Keras writes have it at 0.
    return bytes(head[:8]) == HDF5_SIGNATURE


def hdf5_layer_names(buf: memoryview) -> set[str] | None:
    """Layer names from the JSON model config in the first 4 MiB, or None if there is none."""
    window = bytes(buf[:HDF5_WINDOW])
    if b'"class_name"' not in window or b'"config"' not in window:
        return None
    names = set()
    for match in _NAME.finditer(window):
        names.add(match.group(1).decode("utf-8", "replace"))
        if len(names) >= MAX_LAYERS:
            break
    return names


def config_layer_names(config: Any) -> set[str]:
    """Every ``"name"`` string in a Keras config tree (layers, nested models, inbound nodes),
    walked iteratively with a node budget."""
    names: set[str] = set()
    stack = [config]
    visited = 0
    while stack and visited < 2_000_000 and len(names) < MAX_LAYERS:
        node = stack.pop()
        visited += 1
        if isinstance(node, dict):
            name = node.get("name")
            if isinstance(name, str):
                names.add(name[:128])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return names


def parse_json(raw: bytes) -> Any:
    """JSON from a file, or None when it is not JSON (or nests past the parser's limit)."""
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
