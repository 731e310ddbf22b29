"""docs/configuration.md is the reference the settings code generates, and it is complete."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from deepscreen.config import ScanConfig
from deepscreen.config_reference import REGENERATE, field_comments, render
from deepscreen.media.limits import Limits

COMMITTED = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def test_committed_reference_matches_the_code() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == render(), (
        f"docs/configuration.md is out of date; regenerate it with: {REGENERATE}")


def test_every_setting_is_described() -> None:
    import pytest

    settings = pytest.importorskip("deepscreen.service.settings")
    for cls in (Limits, settings.ServiceSettings):
        comments = field_comments(cls)
        undocumented = [f.name for f in fields(cls) if not comments.get(f.name)]
        assert undocumented == [], f"{cls.__name__}: add a comment beside {undocumented}"
    page = render()
    for f in fields(ScanConfig):
        assert f"| `{f.name}` |" in page
    assert "| `DEEPSCREEN_BODY_IDLE_TIMEOUT_S` | 30.0 |" in page


def test_comments_are_read_from_the_line_or_just_above() -> None:
    class Example:
        # Above, on
        # two lines.
        first: int = 1
        second: int = 2  # beside
        third: int = 3

    comments = field_comments(Example)
    assert comments == {"first": "Above, on two lines.", "second": "beside", "third": ""}
