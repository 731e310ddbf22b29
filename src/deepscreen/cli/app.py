"""The ``deepscreen`` Typer app and the exit codes every command shares.

Exit codes follow antivirus scanners: 0 everything allowed, 1 something was labelled,
quarantined or blocked, 2 an error (unreadable path, bad policy or config).
"""

from __future__ import annotations

import inspect
from typing import Annotated

import typer

from ..version import __version__

app = typer.Typer(
    name="deepscreen",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
    # Plain help, as click writes it: rich markup would swallow every "[default: ...]" and
    # any bracket in an option's help.
    rich_markup_mode=None,
)

EXIT_CLEAN, EXIT_FOUND, EXIT_ERROR = 0, 1, 2


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"deepscreen {__version__}")
        raise typer.Exit(EXIT_CLEAN)


@app.callback()
def _root(version: Annotated[bool, typer.Option(
        "--version", "-V", callback=_print_version, is_eager=True,
        help="Print the version and exit.")] = False) -> None:
    """Screen images, video and audio for known abuse content, provenance and manipulated
    faces, and route each item to allow, label, quarantine or block.

    Start with:  deepscreen scan photo.jpg clip.mp4 some/folder/

    Exit codes: 0 all allowed, 1 something labelled/quarantined/blocked, 2 error.
    """


def reflow(text: str) -> str:
    """Help text as click means it: a paragraph's single line breaks become spaces, so the
    terminal wraps it at its own width; a paragraph that starts with \\b keeps its lines.

    Typer's rich help keeps every line break of a docstring, so prose written at the
    source's line length broke mid-sentence in an 80-column terminal.
    """
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(p if p.startswith("\b") else " ".join(p.split("\n"))
                       for p in paragraphs)


def reflow_help(typer_app: typer.Typer) -> None:
    for command in typer_app.registered_commands:
        doc = command.help or inspect.getdoc(command.callback)
        if doc:
            command.help = reflow(doc)
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            reflow_help(group.typer_instance)
