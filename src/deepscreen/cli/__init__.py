"""The ``deepscreen`` command: a thin shell over :mod:`deepscreen.scan` and the banks.

Exit codes follow antivirus scanners: 0 everything allowed, 1 something was labelled,
quarantined or blocked, 2 an error (unreadable path, bad policy or config).
"""

from __future__ import annotations

import importlib
import logging
import os
import sys

import typer

from ..errors import DeepscreenError
from .app import EXIT_CLEAN, EXIT_ERROR, EXIT_FOUND, app, reflow, reflow_help
from .text import safe_text

__all__ = ["EXIT_CLEAN", "EXIT_ERROR", "EXIT_FOUND", "app", "load_commands", "main", "reflow"]

# Each command lives in its own module and attaches itself to ``app`` on import.
COMMAND_MODULES = ("scan_cmd", "hash_cmd", "bank_cmd", "info_cmd", "train_cmd", "eval_cmd",
                   "serve_cmd", "worker_cmd", "submit_cmd")


def load_commands() -> None:
    """Import every command module (each attaches itself to ``app``), then reflow help."""
    for name in COMMAND_MODULES:
        try:
            importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
    reflow_help(app)


def main() -> None:
    # A file name that is not valid UTF-8 reaches us as lone surrogates; printing one must
    # show it escaped, never crash the run half way through.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    logging.basicConfig(level=logging.WARNING, format="deepscreen: %(levelname)s: %(message)s")
    load_commands()
    try:
        app()
    except DeepscreenError as exc:
        typer.echo(f"deepscreen: error: {safe_text(str(exc))}", err=True)
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt:
        typer.echo("deepscreen: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:
        # Exit 1 means "something was found" to every script that follows the ClamAV
        # convention: a crash must never read as a finding. The traceback goes to the log.
        logging.getLogger("deepscreen").debug("unexpected error", exc_info=True)
        typer.echo(f"deepscreen: internal error: {type(exc).__name__}: {safe_text(str(exc))} "
                   "(run with DEEPSCREEN_DEBUG=1 for the traceback)", err=True)
        if os.environ.get("DEEPSCREEN_DEBUG"):
            raise
        sys.exit(EXIT_ERROR)
