"""What ``deepscreen scan`` was asked to screen: paths, folders, a file list, standard input."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from ..scan import iter_files


@dataclass
class Inputs:
    """The files to screen, in order, and what could not be turned into files."""

    files: list[Path] = field(default_factory=list)
    stdin: bool = False  # '-' was given: one item is read from standard input
    missing: list[str] = field(default_factory=list)  # named paths that do not exist
    empty: list[str] = field(default_factory=list)  # named folders with nothing to screen

    @property
    def count(self) -> int:
        return len(self.files) + int(self.stdin)


def collect(paths: Sequence[str], file_list: Path | None = None,
            exclude: Sequence[str] = ()) -> Inputs:
    """Expand ``paths`` (and the lines of ``file_list``) into files, excluding ``exclude``.

    A file list holds one path per line (blank lines are skipped); ``-`` reads it from
    standard input.
    """
    inputs = Inputs()
    named = list(paths)
    if file_list is not None:
        named += _read_file_list(file_list)
    for raw in named:
        if raw == "-":
            inputs.stdin = True
        elif not os.path.lexists(raw):
            inputs.missing.append(raw)
        else:
            found = list(iter_files([raw], exclude))
            if not found and os.path.isdir(raw):
                inputs.empty.append(raw)
            inputs.files.extend(found)
    return inputs


def _read_file_list(path: Path) -> list[str]:
    try:
        text = (sys.stdin.read() if str(path) == "-"
                else path.read_text(encoding="utf-8", errors="surrogateescape"))
    except OSError as exc:
        raise ConfigError(f"--file-list {path}: {exc.strerror or exc}") from exc
    return [line.rstrip("\r") for line in text.split("\n") if line.strip()]
