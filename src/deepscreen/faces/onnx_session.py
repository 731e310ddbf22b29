"""One way to open an onnxruntime session for the face models: CPU, bounded threads."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort


def open_session(path: Path, threads: int = 1) -> ort.InferenceSession:
    """An inference session on ``path`` using ``threads`` intra-op threads.

    Deepscreen parallelises over files with one worker process per core, so each session
    defaults to one thread; letting every session spawn a thread per core would oversubscribe
    the machine. Raises ``FileNotFoundError`` when the model file is absent.
    """
    if threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle worker threads would otherwise spin for a while after each run, burning a core
    # that the video decoder and the other detection threads need.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3  # warnings about unused initialisers are noise here
    return ort.InferenceSession(str(path), sess_options=options,
                                providers=["CPUExecutionProvider"])
