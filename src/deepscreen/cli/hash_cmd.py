"""``deepscreen hash``: print a file's hashes and nothing else, computed locally.

This is the victim-side half of a hash bank: hash your own photos on your own machine and
submit only the hashes (``--csv`` writes exactly what ``deepscreen bank import`` reads).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ..banks import PDQ_MIN_QUALITY, ItemHashes, entries_for, hash_item
from ..banks.csvio import CSV_COLUMNS, write_new_entries
from ..errors import MediaError
from ..media import decode, open_media
from ..scan import iter_files
from .app import EXIT_ERROR, app
from .common import ConfigOption, HomeOption, load_config


@app.command("hash")
def hash_files(
    paths: Annotated[list[Path], typer.Argument(
        help="Files or folders (recursive) to hash.", show_default=False)],
    json_lines: Annotated[bool, typer.Option(
        "--json", help="One JSON object per file (sha256, md5, pdq, per-frame vpdq).")] = False,
    csv_out: Annotated[bool, typer.Option(
        "--csv", help="ThreatExchange-style CSV, ready for 'deepscreen bank import'. "
                      "File names are left out.")] = False,
    config: ConfigOption = None,
    home: HomeOption = None,
) -> None:
    """Print SHA-256, MD5 and PDQ (images) or per-frame vPDQ (video) of files.

    Nothing leaves your machine and nothing is screened: use it to hash your own photos and
    share only the hashes.

    \b
    Examples:
      deepscreen hash photo.jpg                     # a table of hashes
      deepscreen hash photos/ --csv > hashes.csv    # to submit or import
      deepscreen hash clip.mp4 --json               # per-frame PDQ with times
    """
    if json_lines and csv_out:
        typer.echo("deepscreen: error: choose one of --json and --csv", err=True)
        raise typer.Exit(EXIT_ERROR)
    limits = load_config(config, home).limits
    table = Table(header_style="bold")
    for column in ("file", "kind", "sha256", "md5", "pdq", "quality"):
        table.add_column(column, overflow="fold")
    if csv_out:
        sys.stdout.write(",".join(CSV_COLUMNS) + "\n")
    failed = False
    for path in iter_files(paths):
        try:
            item = decode(open_media(path, limits))
        except MediaError as exc:
            typer.echo(f"deepscreen: error: {exc}", err=True)
            failed = True
            continue
        hashes = hash_item(item)
        if hashes.pdq_note:
            typer.echo(f"deepscreen: note: {path}: {hashes.pdq_note}", err=True)
        if csv_out:
            # No file name: a victim submits hashes, not the names of their photos.
            write_new_entries(sys.stdout, entries_for(hashes), header=False)
        elif json_lines:
            typer.echo(json.dumps({"file": str(path), **hashes.to_dict()}))
        else:
            table.add_row(str(path), hashes.kind, hashes.sha256, hashes.md5, *_pdq_cells(hashes))
    if not (csv_out or json_lines):
        Console().print(table)
    if failed:
        raise typer.Exit(EXIT_ERROR)


def _pdq_cells(hashes: ItemHashes) -> tuple[str, str]:
    if hashes.pdq is not None:
        return hashes.pdq.hex, str(hashes.pdq.quality)
    if hashes.frames:
        usable = sum(f.quality >= PDQ_MIN_QUALITY for f in hashes.frames)
        return f"{len(hashes.frames)} frames (vPDQ; --json lists them)", f"{usable} usable"
    return "-", "-"
