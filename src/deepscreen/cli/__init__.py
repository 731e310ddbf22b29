"""The ``deepscreen`` command: a thin shell over :mod:`deepscreen.scan` and the banks.

Exit codes follow antivirus scanners: 0 everything allowed, 1 something was labelled,
quarantined or blocked, 2 an error (unreadable path, bad policy or config).
"""

from __future__ import annotations

import importlib
import inspect
import logging
import sys

import typer

from ..errors import DeepscreenError

app = typer.Typer(
    name="deepscreen",
    help=(
        "Screen images, video and audio for known abuse content, provenance and manipulated "
        "faces, and route each item to allow, label, quarantine or block.\n\n"
        "Start with:  deepscreen scan photo.jpg clip.mp4 some/folder/\n\n"
        "Exit codes: 0 all allowed, 1 something labelled/quarantined/blocked, 2 error."
    ),
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)

# Each command lives in its own module and attaches itself to ``app`` on import.
COMMAND_MODULES = ("scan_cmd", "hash_cmd", "bank_cmd", "info_cmd", "train_cmd", "eval_cmd",
                   "serve_cmd", "worker_cmd", "submit_cmd")

EXIT_CLEAN, EXIT_FOUND, EXIT_ERROR = 0, 1, 2


def _load_commands() -> None:
    for name in COMMAND_MODULES:
        try:
            importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
    _reflow_help(app)


def reflow(text: str) -> str:
    """Help text as click means it: a paragraph's single line breaks become spaces, so the
    terminal wraps it at its own width; a paragraph that starts with \\b keeps its lines.

    Typer's rich help keeps every line break of a docstring, so prose written at the
    source's line length broke mid-sentence in an 80-column terminal.
    """
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(p if p.startswith("\b") else " ".join(p.split("\n"))
                       for p in paragraphs)


def _reflow_help(typer_app: typer.Typer) -> None:
    for command in typer_app.registered_commands:
        doc = command.help or inspect.getdoc(command.callback)
        if doc:
            command.help = reflow(doc)
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            _reflow_help(group.typer_instance)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="deepscreen: %(levelname)s: %(message)s")
    _load_commands()
    try:
        app()
    except DeepscreenError as exc:
        typer.echo(f"deepscreen: error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt:
        typer.echo("deepscreen: interrupted", err=True)
        sys.exit(130)
