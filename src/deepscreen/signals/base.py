"""The signal interface: one module, one job, one Finding per item."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

from ..findings import Finding

if TYPE_CHECKING:
    from ..config import ScanConfig
    from ..media import FrameListener, Item, MediaKind


class Signal(ABC):
    """A detector that looks at one item and returns one :class:`Finding`.

    Subclasses set ``name`` (stable, used by policies), ``version`` (bumped whenever its
    algorithm, model or thresholds change, so a report says exactly what produced it),
    ``kinds`` (media kinds it handles) and ``needs_pixels`` (False for signals that read only
    bytes or metadata and so still run on items that failed to decode).

    ``inspect`` must not raise for bad media; the pipeline turns an unexpected exception
    into a ``signal-error`` finding, but that is a bug to fix, not a path to rely on.
    """

    name: ClassVar[str]
    version: ClassVar[str]
    kinds: ClassVar[frozenset[MediaKind]]
    needs_pixels: ClassVar[bool] = True
    # Also run on an item refused before screening for exceeding a resource limit (a
    # decompression bomb: too many pixels or frames, an archive bomb, too large): only
    # for signals whose work stays small whatever the file holds, like exact digests.
    # The others abstain on such items, so a bomb costs milliseconds, not a parser's time.
    runs_on_refused: ClassVar[bool] = False
    # Runs unless the configuration names the signals to run. A signal whose model is not
    # yet good enough to be judged by default says why in ``opt_in_reason`` and runs only
    # when named (``signals:`` in the config, ``--signals`` on the command line).
    enabled_by_default: ClassVar[bool] = True
    opt_in_reason: ClassVar[str] = ""
    description: ClassVar[str] = ""

    def __init__(self, config: ScanConfig) -> None:
        self.config = config
        self.options: dict[str, Any] = config.options_for(self.name)

    @abstractmethod
    def inspect(self, item: Item) -> Finding:
        """Judge one item (already decoded when ``needs_pixels``)."""

    @classmethod
    def catalogue(cls) -> list[dict[str, Any]]:
        """The rules the signal applies, one dict each (name, version, description...), for
        ``deepscreen signals``. Most signals have none."""
        return []

    def prefetch(self, item: Item) -> FrameListener | None:
        """Optionally start work on video frames while the item is still decoding.

        Return a listener to receive the frames (then :meth:`inspect` of the same item may
        use what it computed), or None. The default does nothing.
        """
        return None

    def abstain(self, reason: str, **evidence: Any) -> Finding:
        return Finding.abstain(self.name, self.version, reason, evidence)

    def finding(self, **kwargs: Any) -> Finding:
        return Finding(signal=self.name, version=self.version, **kwargs)

    def close(self) -> None:  # noqa: B027 - optional hook; most signals hold nothing
        """Release files or sessions the signal holds."""
