"""Training code for the ``synthetic`` signal: data, the NPR patch model, baselines, export.

Run from the repository root with the ``train`` extra installed::

    python -m train.synthetic.sources      # fetch-backed sets into $DEEPSCREEN_DATA, manifest rows
    python -m train.manifest rebuild --set synth-taef2-train   # generated sets (see generators.py)
    python -m train.synthetic.train        # train the patch model (resumable checkpoint)
    python -m train.synthetic.export       # ONNX + JSON into src/deepscreen/models/
"""
