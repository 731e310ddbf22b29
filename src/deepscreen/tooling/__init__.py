"""Recognise face-swap tools' files from their structure: models, workspaces, extracted faces.

DeepFaceLab, faceswap and the one-shot swappers (inswapper, SimSwap, GHOST, FaceFusion's
models) write files with distinctive structure: a pickled face record in a JPEG APP15
segment, an ``iTXt`` record in a PNG, an ONNX graph with ``source`` and ``target`` inputs,
a workspace of ``data_src/aligned`` folders. This package reads that structure without
running or unpickling anything (:mod:`.pickles` is a symbolic opcode reader,
:mod:`.onnx_wire` reads ONNX's wire format and skips the weights) and matches it against
rules kept as data in ``rules.yaml``. The ``tooling`` signal is a thin adapter over
:func:`identify`. Formats and their sources: docs/tooling.md.
"""

from __future__ import annotations

from .buffer import FormatError, file_view
from .context import MatchContext
from .facts import Facts, ReadOptions, read_facts
from .identify import Identification, Match, identify
from .rules import Rule, RuleError, RuleSet, load_rules

__all__ = ["Facts", "FormatError", "Identification", "Match", "MatchContext", "ReadOptions",
           "Rule", "RuleError", "RuleSet", "file_view", "identify", "load_rules", "read_facts"]
