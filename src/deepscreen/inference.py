"""One way to open an onnxruntime session for every shipped model: bounded threads, and the
execution providers the configuration names (CPU unless told otherwise)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ConfigError

if TYPE_CHECKING:
    import onnxruntime as ort

DEFAULT_PROVIDERS = ("CPUExecutionProvider",)


def check_providers(providers: Sequence[str]) -> tuple[str, ...]:
    """``providers`` if this onnxruntime build has every one of them, else a
    :class:`ConfigError` naming the missing ones and what is available.

    CUDA needs the ``onnxruntime-gpu`` wheel, OpenVINO ``onnxruntime-openvino``; the plain
    ``onnxruntime`` wheel has the CPU provider only. List the CPU provider last as a fallback
    for operators a faster provider does not implement.
    """
    if not providers:
        raise ConfigError("onnx_providers: name at least one execution provider")
    import onnxruntime as ort  # here, not at import: reading a config must stay cheap

    available = ort.get_available_providers()
    missing = [p for p in providers if p not in available]
    if missing:
        raise ConfigError(f"onnx_providers: {', '.join(missing)} not available in this "
                          f"onnxruntime build (available: {', '.join(available)})")
    return tuple(providers)


def open_session(path: Path, threads: int = 1,
                 providers: Sequence[str] = DEFAULT_PROVIDERS) -> ort.InferenceSession:
    """An inference session on ``path`` using ``threads`` intra-op threads.

    Deepscreen parallelises over files with one worker process per core, so each session
    defaults to one thread; letting every session spawn a thread per core would oversubscribe
    the machine. Raises ``FileNotFoundError`` when the model file is absent.
    """
    if threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    import onnxruntime as ort

    chosen = check_providers(providers)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle worker threads would otherwise spin for a while after each run, burning a core
    # that the video decoder and the other detection threads need.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3  # warnings about unused initialisers are noise here
    return ort.InferenceSession(str(path), sess_options=options, providers=list(chosen))
