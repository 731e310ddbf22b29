"""The IPTC digital-source-type vocabulary and what each term says about AI involvement.

C2PA actions and IPTC/XMP metadata both name the origin of a picture with a term from
https://cv.iptc.org/newscodes/digitalsourcetype/. The same term means the same thing in both
places, so both signals classify it here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class AiInvolvement(Enum):
    """How much of the media a source type says came from a generative model or algorithm."""

    GENERATED = "generated"  # the media as a whole was produced by a model or algorithm
    COMPOSITE = "composite"  # AI-made or synthetic parts were combined with other media
    NONE = "none"  # the term does not declare AI involvement (capture, scan, human edits)


@dataclass(frozen=True)
class SourceType:
    term: str
    involvement: AiInvolvement
    meaning: str


_VOCABULARY = (
    SourceType("trainedAlgorithmicMedia", AiInvolvement.GENERATED,
               "created by a model trained on sampled content (generative AI)"),
    SourceType("algorithmicMedia", AiInvolvement.GENERATED,
               "created purely by an algorithm, not from sampled training data"),
    SourceType("compositeWithTrainedAlgorithmicMedia", AiInvolvement.COMPOSITE,
               "combines captured or drawn content with generative-AI content (e.g. generative fill)"),
    SourceType("compositeSynthetic", AiInvolvement.COMPOSITE,
               "a composite that includes synthetic elements"),
    SourceType("digitalCapture", AiInvolvement.NONE,
               "captured from real life with a digital camera or recorder"),
    SourceType("computationalCapture", AiInvolvement.NONE,
               "captured from real life with computational processing (e.g. phone HDR)"),
    SourceType("negativeFilm", AiInvolvement.NONE, "digitised from a film negative"),
    SourceType("positiveFilm", AiInvolvement.NONE, "digitised from a film positive (slide)"),
    SourceType("print", AiInvolvement.NONE, "digitised from a print"),
    SourceType("minorHumanEdits", AiInvolvement.NONE, "captured, then lightly edited by a person"),
    SourceType("humanEdits", AiInvolvement.NONE, "edited by a person"),
    SourceType("compositeCapture", AiInvolvement.NONE, "a composite of captured elements"),
    SourceType("algorithmicallyEnhanced", AiInvolvement.NONE,
               "captured, then enhanced by an algorithm without adding new content"),
    SourceType("dataDrivenMedia", AiInvolvement.NONE,
               "rendered from data (e.g. a chart or a satellite image)"),
    SourceType("digitalArt", AiInvolvement.NONE, "drawn or modelled by a person with software"),
    SourceType("digitalCreation", AiInvolvement.NONE,
               "created by a person with software (retired term, now digitalArt)"),
    SourceType("virtualRecording", AiInvolvement.NONE, "recorded in a virtual environment"),
    SourceType("screenCapture", AiInvolvement.NONE, "a capture of a screen"),
    SourceType("composite", AiInvolvement.NONE, "a composite of several elements"),
    SourceType("softwareImage", AiInvolvement.NONE, "created by software (retired term)"),
)

SOURCE_TYPES: dict[str, SourceType] = {entry.term: entry for entry in _VOCABULARY}
_BY_LOWER = {term.lower(): entry for term, entry in SOURCE_TYPES.items()}


def source_type_term(value: str) -> str:
    """The bare term of a source-type URI (``.../trainedAlgorithmicMedia`` -> the last part).

    Metadata writers use the full IPTC URI, an ``https`` variant or the bare term; all name the
    same concept, so they are compared on the last path segment.
    """
    return value.strip().rstrip("/").rsplit("/", 1)[-1]


def lookup_source_type(value: str) -> SourceType | None:
    """The vocabulary entry for a URI or bare term, or ``None`` when the term is not IPTC's."""
    return _BY_LOWER.get(source_type_term(value).lower())
