"""Deepscreen: screen images, video and audio; route each to allow, label, quarantine or block.

    >>> import deepscreen
    >>> report = deepscreen.scan("photo.jpg")
    >>> report.action, report.labels
"""

__version__ = "0.1.0"

from .config import ScanConfig  # noqa: E402
from .errors import BankError, DeepscreenError, MediaError, PolicyError  # noqa: E402
from .findings import Finding  # noqa: E402
from .media import Limits  # noqa: E402
from .policy import Policy, Verdict  # noqa: E402
from .report import SCHEMA, Report  # noqa: E402
from .scan import Scanner, scan, scan_paths  # noqa: E402

__all__ = [
    "SCHEMA",
    "BankError",
    "DeepscreenError",
    "Finding",
    "Limits",
    "MediaError",
    "Policy",
    "PolicyError",
    "Report",
    "ScanConfig",
    "Scanner",
    "Verdict",
    "__version__",
    "scan",
    "scan_paths",
]
