"""Secrets kept in files of the data folder: made once, readable by their owner only."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def read_or_create_secret(path: Path) -> str:
    """The secret in ``path``; a random one is written there first (mode 0600) if absent.

    Several processes sharing a data folder may start at once: the file is created with
    ``O_EXCL``, so exactly one writes it and every process reads the same secret.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first
        else:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32))
    return path.read_text().strip()
