"""Look up one hash value in every bank, with the same matcher the scanners use."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..banks import signal_type as hash_type

if TYPE_CHECKING:
    from .context import ServiceContext


def lookup_hash(ctx: ServiceContext, signal_type: str, value: str) -> list[dict[str, Any]]:
    """Matches for one value; raises :class:`~deepscreen.errors.BankError` if it is malformed."""
    hashes = hash_type(signal_type).query(value)
    with ctx.matcher_lock:
        matches = ctx.matcher.match(hashes)
    return [match.to_dict() for match in matches]
