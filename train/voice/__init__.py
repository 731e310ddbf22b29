"""Training code for the synthetic-voice detector (signal ``voice``).

``sources`` gathers real and synthetic speech from public repositories into the data manifest,
``generators`` makes the project's own fakes (vocoder re-synthesis, Piper, classical TTS),
``dataset`` turns every manifest file into feature windows under several conditions (codecs,
band limits), ``train`` fits the models and ``export`` writes the shipped ONNX file.
"""
