"""Deepscreen: screen images, video and audio; route each to allow, label, quarantine or block.

    >>> import deepscreen
    >>> report = deepscreen.scan("photo.jpg")
    >>> report.action, report.labels
"""

from .config import ScanConfig
from .errors import BankError, DeepscreenError, MediaError, PolicyError
from .findings import Finding
from .media import Limits
from .policy import Policy, Verdict
from .report import SCHEMA, Report
from .scan import Scanner, scan, scan_paths
from .version import __version__

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
