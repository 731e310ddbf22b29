"""Training code for Deepscreen's shipped models (needs the ``train`` extra: torch, onnx).

Nothing under ``src/deepscreen`` imports this package except ``deepscreen train``, lazily.
"""
