"""Signal ``tooling``: files of face-swap tools, recognised from their structure.

A thin adapter over :mod:`deepscreen.tooling`: it maps the item's bytes (memory-mapped, never
copied whole), name, SHA-256 and archive listing to the rules in ``tooling/rules.yaml`` and
turns the matches into one finding. It reads bytes only, so it runs on items that did not
decode (a ``.onnx`` or a pickle is "unsupported" media but still a tool's file), and on
archives: with ``item.archive_listing`` when the media layer provides one, otherwise by
listing a ZIP or TAR itself within bounds.

Options (``signal_options: {tooling: {...}}``):
``rules`` extra rule files (list of paths), ``builtin_rules`` (default true),
``faceset`` face-set detection in archives (default true), ``faceset_detect_faces`` run the
face detector on sampled members (default true), ``max_inflate_bytes``,
``max_archive_members``, ``max_member_bytes``, ``max_pickle_ops``.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import replace
from functools import cache
from typing import Any, ClassVar, get_args

from ..errors import DeepscreenError
from ..findings import Finding
from ..media import Item, MediaKind
from ..tooling import (
    FormatError,
    Identification,
    MatchContext,
    ReadOptions,
    RuleError,
    RuleSet,
    file_view,
    identify,
    load_rules,
)
from ..tooling.pickles import Limits as PickleLimits
from .base import Signal
from .registry import register

log = logging.getLogger(__name__)

# "archive" is a media kind once the media layer screens archives; until then archives are
# "unknown" items and this signal lists them itself.
_KINDS: set[MediaKind] = {kind for kind in get_args(MediaKind)
                          if kind in ("image", "video", "audio", "unknown", "archive")}
_OPTIONS = {"rules", "builtin_rules", "faceset", "faceset_detect_faces", "max_inflate_bytes",
            "max_archive_members", "max_member_bytes", "max_pickle_ops"}
CAVEAT = ("a tool's file is evidence of face-swap tooling, not of any particular misuse; "
          "structure can be forged, and files re-saved by other software lose it")


@cache
def _builtin_rules() -> RuleSet:
    return load_rules()


@register
class ToolingSignal(Signal):
    """Recognises DeepFaceLab, faceswap and one-shot swap models, workspaces and face sets."""

    name: ClassVar[str] = "tooling"
    version: ClassVar[str] = "1"
    kinds = frozenset(_KINDS)
    needs_pixels: ClassVar[bool] = False
    description: ClassVar[str] = (
        "face-swap tools' files: DeepFaceLab faces/models/workspaces, faceswap faces/"
        "alignments/models, one-shot swap models (inswapper, SimSwap, GHOST, FaceFusion), "
        "face enhancers, face sets (rules listed below)"
    )

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        unknown = set(self.options) - _OPTIONS
        if unknown:
            raise DeepscreenError(f"tooling: unknown option(s) {', '.join(sorted(unknown))}; "
                                  f"known: {', '.join(sorted(_OPTIONS))}")
        extra = self.options.get("rules") or []
        if isinstance(extra, str):
            extra = [extra]
        builtin = bool(self.options.get("builtin_rules", True))
        try:
            self.rules = _builtin_rules() if builtin and not extra else load_rules(extra, builtin=builtin)
        except RuleError as exc:
            raise DeepscreenError(f"tooling: {exc}") from exc
        self.read_options = _read_options(self.options)
        self.faceset = bool(self.options.get("faceset", True))
        self.detect_faces = bool(self.options.get("faceset_detect_faces", True))
        self._detector: Any = None
        self._detector_failed = False
        self.rules_digest = hashlib.sha256(self.rules.version.encode()).hexdigest()[:12]

    @classmethod
    def catalogue(cls) -> list[dict[str, Any]]:
        return [rule.catalogue() for rule in _builtin_rules().rules]

    def _face_detector(self) -> Any:
        if self._detector is None and not self._detector_failed and self.detect_faces:
            try:
                from ..faces.detect import FaceDetector
                self._detector = FaceDetector(min_face_px=24)
            except Exception as exc:  # a missing model must not stop screening; say so once
                log.warning("tooling: face detector unavailable, face sets judged without it: %s", exc)
                self._detector_failed = True
        return self._detector

    def inspect(self, item: Item) -> Finding:
        listing = getattr(item, "archive_listing", None)
        context = MatchContext(face_detector=self._face_detector if self.detect_faces else None,
                               faceset_enabled=self.faceset)
        try:
            with file_view(item.data, None if item.data is not None else item.path) as buf:
                result = identify(buf, self.rules, name=_leaf_name(item.name), sha256=item.sha256,
                                  listing=list(listing) if listing is not None else None,
                                  options=self.read_options, context=context)
        except (OSError, FormatError, ValueError) as exc:
            return self.abstain(f"cannot read the item's bytes: {exc}")
        for problem in result.rule_errors:
            log.error("tooling rule failed: %s", problem)
        return self._finding(result)

    def _finding(self, result: Identification) -> Finding:
        read = result.read_summary()
        base = {"rules": len(self.rules.rules), "rules_digest": self.rules_digest, "caveat": CAVEAT}
        if result.rule_errors:
            base["rule_errors"] = result.rule_errors
        if not result.matches:
            return self.finding(score=0.0, labels=(), evidence={**base, "read": read},
                                summary=f"no face-swap tool structure ({read['format']} checked)")
        evidence = {**base, "matches": [m.to_evidence() for m in result.matches], "read": read}
        return self.finding(score=result.score, labels=result.labels, evidence=evidence,
                            summary=_summary(result))

    def close(self) -> None:
        self._detector = None


def _read_options(options: dict[str, Any]) -> ReadOptions:
    opts = ReadOptions()
    try:
        if "max_inflate_bytes" in options:
            opts = replace(opts, max_inflate_bytes=int(options["max_inflate_bytes"]))
        archive = opts.archive
        if "max_archive_members" in options:
            archive = replace(archive, max_members=int(options["max_archive_members"]))
        if "max_member_bytes" in options:
            archive = replace(archive, max_member_bytes=int(options["max_member_bytes"]))
        pickle_limits = PickleLimits()
        if "max_pickle_ops" in options:
            pickle_limits = replace(pickle_limits, max_ops=int(options["max_pickle_ops"]))
    except (TypeError, ValueError) as exc:
        raise DeepscreenError(f"tooling: a size option is not a number: {exc}") from exc
    return replace(opts, archive=archive, pickle=pickle_limits)


def _leaf_name(name: str) -> str:
    """The member's own file name, for name hints (``a.zip!model/x_SAEHD_data.dat``)."""
    return name.replace("\\", "/").rsplit("!", 1)[-1].rsplit("/", 1)[-1]


def _summary(result: Identification) -> str:
    """The strongest tool match in words, then the others, then any unsafe pickle."""
    tools = [m for m in result.matches if m.rule.matcher != "unsafe_pickle"]
    parts = []
    if tools:
        top = tools[0]
        text = f"{top.rule.tool}: {top.rule.name}"
        values = top.evidence.get("values")
        if isinstance(values, dict) and values:
            text += " (" + ", ".join(f"{k} {v!r}"[:80] for k, v in list(values.items())[:2]) + ")"
        elif "file" in top.evidence:
            text += f" ({top.evidence['file']})"
        if len(tools) > 1:
            text += "; also " + ", ".join(m.rule.name for m in tools[1:4])
        parts.append(text)
    unsafe = sorted({g for m in result.matches if m.rule.matcher == "unsafe_pickle"
                     for names in m.evidence["unsafe_globals"].values() for g in names})
    if unsafe:
        parts.append(f"a pickle in it calls {', '.join(unsafe[:3])} when loaded (not run here)")
    return "; ".join(parts)
