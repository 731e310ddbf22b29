"""``deepscreen bank ...``: create hash banks, fill them from files, hashes or CSV, export them."""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from ..banks import (
    PDQ_DEFAULT_THRESHOLD,
    SIGNAL_TYPES,
    BankStore,
    NewEntry,
    entries_for,
    hash_item,
    open_store,
)
from ..banks.csvio import read_entries, write_entries
from ..banks.hashing import PDQ_MIN_QUALITY
from ..banks.vpdq import DEFAULT_COMPARED_MATCH_PERCENT, DEFAULT_QUERY_MATCH_PERCENT
from ..errors import DeepscreenError
from ..media import Limits, decode, open_media
from .app import EXIT_ERROR, app
from .common import ConfigOption, HomeOption, load_config

bank_app = typer.Typer(
    help="Manage hash banks of known content (SHA-256, MD5, PDQ, vPDQ).\n\n"
         "Example:  deepscreen bank create ncii && deepscreen bank add ncii photo.jpg",
    no_args_is_help=True)
app.add_typer(bank_app, name="bank")


@contextmanager
def _store(config: Path | None, home: Path | None) -> Iterator[BankStore]:
    """Open the configured store; any bank error becomes a message and exit status 2."""
    store = None
    try:
        store = open_store(load_config(config, home))
        yield store
    except DeepscreenError as exc:
        typer.echo(f"deepscreen: error: {exc}", err=True)
        raise typer.Exit(EXIT_ERROR) from None
    except SQLAlchemyError as exc:  # locked, read-only or unreachable database
        typer.echo(f"deepscreen: error: bank database: {exc.__class__.__name__}: "
                   f"{str(exc).splitlines()[0]}", err=True)
        raise typer.Exit(EXIT_ERROR) from None
    finally:
        if store is not None:
            store.close()


@bank_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Bank name: lower-case letters, digits, . _ -")],
    threshold: Annotated[int, typer.Option(
        "--threshold", "-t", help="Largest PDQ Hamming distance that counts as a match.")
    ] = PDQ_DEFAULT_THRESHOLD,
    label: Annotated[str | None, typer.Option(
        "--label", "-l", help="Label a match adds to the finding (default: bank:NAME).",
        show_default=False)] = None,
    description: Annotated[str, typer.Option("--description", "-d")] = "",
    video_percent: Annotated[float, typer.Option(
        "--video-percent", help="Share of a video's unique frames that must match (vPDQ).")
    ] = DEFAULT_QUERY_MATCH_PERCENT,
    video_compared_percent: Annotated[float, typer.Option(
        "--video-compared-percent", help="Share of the banked video's frames that must match.")
    ] = DEFAULT_COMPARED_MATCH_PERCENT,
    config: ConfigOption = None,
    home: HomeOption = None,
) -> None:
    """Create an empty bank.

    \b
    Example:
      deepscreen bank create ncii --threshold 31 --description "reported by victims"
    """
    with _store(config, home) as store:
        bank = store.create_bank(name, pdq_threshold=threshold, label=label,
                                 description=description, video_query_percent=video_percent,
                                 video_compared_percent=video_compared_percent)
    typer.echo(f"created bank {bank.name!r} (label {bank.label}, PDQ threshold "
               f"{bank.pdq_threshold})")


@bank_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Bank to add to.")],
    items: Annotated[list[str], typer.Argument(
        help="Files to hash locally, or raw hash values with --type.", show_default=False)],
    signal_type: Annotated[str | None, typer.Option(
        "--type", help=f"Treat the arguments as raw hash values of this type "
                       f"({', '.join(SIGNAL_TYPES)}).", show_default=False)] = None,
    source: Annotated[str | None, typer.Option("--source", help="Where the content came from.",
                                               show_default=False)] = None,
    case_id: Annotated[str | None, typer.Option("--case-id", help="Case or report id.",
                                                show_default=False)] = None,
    added_by: Annotated[str | None, typer.Option(
        "--added-by", help="Who added it (default: your user name).", show_default=False)
    ] = None,
    config: ConfigOption = None,
    home: HomeOption = None,
) -> None:
    """Add files (hashed here: SHA-256, MD5, PDQ or vPDQ) or raw hash values to a bank.

    \b
    Examples:
      deepscreen bank add ncii photo.jpg clip.mp4 --case-id 4711
      deepscreen bank add ncii --type pdq f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22
    """
    meta = {k: v for k, v in {"source": source, "case_id": case_id,
                              "added_by": added_by or _user()}.items() if v}
    with _store(config, home) as store:
        limits = load_config(config, home).limits
        entries: list[NewEntry] = []
        for raw in items:
            if signal_type is not None:
                entries.append(NewEntry(signal_type, raw, dict(meta)))
            elif Path(raw).is_file():
                entries.extend(_file_entries(Path(raw), limits, meta))
            else:
                raise DeepscreenError(f"{raw[:80]!r} is not a file; to add a raw hash value "
                                      f"pass --type ({', '.join(SIGNAL_TYPES)})")
        count = store.add_entries(name, entries)
    typer.echo(f"added {count} entr{'y' if count == 1 else 'ies'} to bank {name!r}")


def _file_entries(path: Path, limits: Limits, meta: dict[str, str]) -> list[NewEntry]:
    item = decode(open_media(path, limits))
    hashes = hash_item(item)
    if hashes.pdq is not None and hashes.pdq.quality < PDQ_MIN_QUALITY:
        typer.echo(f"deepscreen: note: {path}: PDQ quality {hashes.pdq.quality} is below "
                   f"{PDQ_MIN_QUALITY}; adding exact hashes only", err=True)
    entries = entries_for(hashes, {**meta, "file": path.name})
    if not entries:  # an item over the size limit is not even hashed
        raise DeepscreenError(f"{path}: nothing to add ({item.decode_error or 'no hash'})")
    if hashes.pdq_note and hashes.pdq is None:
        typer.echo(f"deepscreen: note: {path}: {hashes.pdq_note}", err=True)
    return entries


def _user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


@bank_app.command("import")
def import_csv(
    name: Annotated[str, typer.Argument(help="Bank to add to.")],
    csv_file: Annotated[Path, typer.Argument(help="CSV file; '-' reads standard input.",
                                             allow_dash=True)],
    config: ConfigOption = None,
    home: HomeOption = None,
) -> None:
    """Import hashes from a ThreatExchange-style CSV (all rows or none).

    Columns: collab, signal_type, signal_str, category, tags, metadata (JSON); a file with
    just signal_type,signal_str[,metadata] rows works too.

    \b
    Example:
      deepscreen bank import ncii hashes.csv
    """
    with _store(config, home) as store:
        try:
            stream = sys.stdin if str(csv_file) == "-" else csv_file.open(newline="",
                                                                         encoding="utf-8")
        except OSError as exc:
            raise DeepscreenError(f"cannot read {csv_file}: {exc.strerror or exc}") from None
        with stream:
            try:
                count = store.add_entries(name, read_entries(stream, str(csv_file)))
            except UnicodeDecodeError:
                raise DeepscreenError(f"{csv_file} is not UTF-8 text") from None
    typer.echo(f"imported {count} entr{'y' if count == 1 else 'ies'} into bank {name!r}")


@bank_app.command("export")
def export_csv(
    name: Annotated[str, typer.Argument(help="Bank to export.")],
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write here instead of standard output.", dir_okay=False,
        show_default=False)] = None,
    config: ConfigOption = None,
    home: HomeOption = None,
) -> None:
    """Export a bank as ThreatExchange-style CSV.

    \b
    Example:
      deepscreen bank export ncii -o ncii.csv
    """
    with _store(config, home) as store:
        store.get_bank(name)  # unknown bank: fail before creating the output file
        if output is None:
            write_entries(sys.stdout, store.entries(name), name)
            return
        try:
            with output.open("w", newline="", encoding="utf-8") as out:
                count = write_entries(out, store.entries(name), name)
        except OSError as exc:
            raise DeepscreenError(f"cannot write {output}: {exc.strerror or exc}") from None
    typer.echo(f"exported {count} entr{'y' if count == 1 else 'ies'} to {output}", err=True)


@bank_app.command("list")
def list_banks(
    name: Annotated[str | None, typer.Argument(
        help="Show this bank's entries (with their ids) instead of all banks.",
        show_default=False)] = None,
    config: ConfigOption = None,
    home: HomeOption = None,
) -> None:
    """List banks with their labels, thresholds and sizes, or one bank's entries.

    \b
    Examples:
      deepscreen bank list
      deepscreen bank list ncii      entries with ids, for 'bank remove ncii --entry ID'
    """
    with _store(config, home) as store:
        if name is not None:
            _print_entries(store, name)
            return
        banks = store.list_banks()
        url = store.url
    if not banks:
        typer.echo(f"no banks in {url}; create one with 'deepscreen bank create NAME'")
        return
    table = Table(header_style="bold", title=url)
    for column in ("bank", "label", "entries", "PDQ threshold", "video %", "description"):
        table.add_column(column, overflow="fold")
    for b in banks:
        table.add_row(b.name, b.label, str(b.entry_count), str(b.pdq_threshold),
                      f"{b.video_query_percent:g}/{b.video_compared_percent:g}", b.description)
    Console().print(table)


def _print_entries(store: BankStore, name: str) -> None:
    table = Table(header_style="bold", title=f"bank {name}")
    for column in ("id", "type", "value", "metadata", "added"):
        table.add_column(column, overflow="fold")
    for entry in store.entries(name):
        value = entry.value if entry.signal_type != "vpdq" else (
            f"{entry.value.count(',') // 2 + 1} frames")
        table.add_row(str(entry.id), entry.signal_type, value,
                      json.dumps(entry.metadata, sort_keys=True), f"{entry.added_at:%Y-%m-%d}")
    Console().print(table)


@bank_app.command("remove")
def remove(
    name: Annotated[str, typer.Argument(help="Bank to remove (or remove from).")],
    entry: Annotated[int | None, typer.Option(
        "--entry", "-e", help="Remove only this entry id (see 'bank list NAME').",
        show_default=False)] = None,
    config: ConfigOption = None,
    home: HomeOption = None,
) -> None:
    """Remove a whole bank, or one entry from it.

    \b
    Examples:
      deepscreen bank remove ncii --entry 42
      deepscreen bank remove old-bank
    """
    with _store(config, home) as store:
        if entry is None:
            store.remove_bank(name)
            typer.echo(f"removed bank {name!r}")
        else:
            store.remove_entry(name, entry)
            typer.echo(f"removed entry {entry} from bank {name!r}")
