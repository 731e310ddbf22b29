"""Synthetic-voice detection: speech features (numpy), the ONNX model, scoring and timeline."""
