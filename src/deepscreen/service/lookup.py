"""Look up one hash value in every bank, with the same matcher the scanners use."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..banks import ItemHashes, PdqHash, normalize_value
from ..banks.hashing import parse_vpdq

if TYPE_CHECKING:
    from .context import ServiceContext


def lookup_hash(ctx: ServiceContext, signal_type: str, value: str) -> list[dict[str, Any]]:
    """Matches for one value; raises :class:`~deepscreen.errors.BankError` if it is malformed."""
    canonical = normalize_value(signal_type, value)
    if signal_type == "sha256":
        hashes = ItemHashes(kind="unknown", sha256=canonical, md5="")
    elif signal_type == "md5":
        hashes = ItemHashes(kind="unknown", sha256="", md5=canonical)
    elif signal_type == "pdq":
        # A submitted PDQ has no quality attached; treat it as usable (the submitter vouches).
        hashes = ItemHashes(kind="image", sha256="", md5="", pdq=PdqHash(canonical, 100))
    else:
        hashes = ItemHashes(kind="video", sha256="", md5="", frames=parse_vpdq(canonical))
    with ctx.matcher_lock:
        matches = ctx.matcher.match(hashes)
    return [match.to_dict() for match in matches]
