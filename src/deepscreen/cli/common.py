"""Options and helpers shared by several commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..config import ScanConfig

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="YAML config: home, limits, signals, signal_options.",
                 exists=True, dir_okay=False, show_default=False),
]
HomeOption = Annotated[
    Path | None,
    typer.Option("--home", envvar="DEEPSCREEN_HOME", show_default=False,
                 help="Data directory with the hash banks [default: ~/.local/share/deepscreen]."),
]


def load_config(config: Path | None, home: Path | None, **overrides: object) -> ScanConfig:
    return ScanConfig.load(config, home=home, **overrides)
