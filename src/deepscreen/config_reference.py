"""The configuration reference (docs/configuration.md), generated from the settings code.

Every knob is a dataclass field: the scan config file's keys (:class:`ScanConfig`), its
``limits`` (:class:`Limits`), and the service's ``DEEPSCREEN_*`` variables
(:class:`ServiceSettings`). Each field's description is the comment written next to it in the
source (on its line, or the comment lines just above it), so the reference cannot drift from
the code: ``tests/test_config_reference.py`` fails when the committed page is out of date.

    python -m deepscreen.config_reference docs/configuration.md
"""

from __future__ import annotations

import ast
import inspect
import io
import sys
import textwrap
import tokenize
from dataclasses import MISSING, Field, fields
from pathlib import Path
from typing import Any

from .config import ScanConfig
from .media.limits import Limits

REGENERATE = "python -m deepscreen.config_reference docs/configuration.md"
DEFAULT_PATH = Path("docs/configuration.md")


def field_comments(cls: type) -> dict[str, str]:
    """Field name -> the comment beside it in ``cls``'s source (same line, or just above)."""
    source = textwrap.dedent(inspect.getsource(cls))
    comments: dict[int, str] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            comments[token.start[0]] = token.string.lstrip("#").strip()
    lines = source.splitlines()
    found: dict[str, str] = {}
    definition = ast.parse(source).body[0]
    if not isinstance(definition, ast.ClassDef):
        raise TypeError(f"the source of {cls.__name__} does not start with its class statement")
    for node in definition.body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        end = node.end_lineno or node.lineno
        inline = [comments[n] for n in range(node.lineno, end + 1) if n in comments
                  and not lines[n - 1].lstrip().startswith("#")]
        above: list[str] = []
        number = node.lineno - 1
        while number in comments and lines[number - 1].lstrip().startswith("#"):
            above.insert(0, comments[number])
            number -= 1
        found[node.target.id] = " ".join(above + inline)
    return found


def _default(f: Field[Any]) -> str:
    if f.default is not MISSING:
        value = f.default
    elif f.default_factory is not MISSING:
        value = f.default_factory()
    else:
        return "required"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None or value == ():
        return "unset"
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1 << 20:
        for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20)):
            if value % size == 0:
                return f"{value // size} {unit}"
    if isinstance(value, Path):
        return str(value).replace(str(Path.home()), "~")
    return str(value)


def _table(rows: list[tuple[str, str, str]]) -> list[str]:
    out = ["| name | default | what |", "|---|---|---|"]
    out += [f"| `{name}` | {default} | {what.replace('|', '/')} |" for name, default, what in rows]
    return out


def render() -> str:
    """The whole reference page as Markdown."""
    scan_comments = field_comments(ScanConfig)
    limit_comments = field_comments(Limits)
    scan_rows = [(f.name, "" if f.name == "limits" else _default(f),
                  scan_comments.get(f.name) or _SCAN_KEYS.get(f.name, ""))
                 for f in fields(ScanConfig)]
    limit_rows = [(f.name, _default(f), limit_comments.get(f.name, "")) for f in fields(Limits)]
    lines = ["# Configuration reference", "",
             f"Generated from the settings code by `{REGENERATE}`; do not edit by hand.", "",
             "## Scan config file", "",
             "A YAML file given with `--config` (CLI) or `DEEPSCREEN_CONFIG` (service). Every "
             "key is optional; a key that is not listed here is an error naming it (exit "
             "status 2).", "", *_table(scan_rows), "",
             "### `limits`", "",
             "Bounds on every item, all positive numbers (`--max-bytes` and "
             "`--frame-interval` set two of them from the command line).", "",
             *_table(limit_rows), ""]
    try:
        from .service.settings import ServiceSettings
    except ModuleNotFoundError:  # the service extra is not installed
        return "\n".join(lines)
    service_comments = field_comments(ServiceSettings)
    service_rows = [(f"DEEPSCREEN_{f.name.upper()}", _default(f),
                     service_comments.get(f.name, "")) for f in fields(ServiceSettings)]
    lines += ["## Service environment", "",
              "`deepscreen serve`, `deepscreen worker` and `deepscreen submit` read these "
              "variables (nothing else in the service reads the environment). Lists are "
              "comma-separated. More in [service.md](service.md).", "",
              *_table(service_rows), ""]
    return "\n".join(lines)


_SCAN_KEYS = {
    "limits": "bounds on every item: the table below",
    "home": "data folder: hash banks (banks.sqlite), index caches; default "
            "$DEEPSCREEN_HOME or ~/.local/share/deepscreen",
    "signals": "the signals to run, by name (`deepscreen signals` lists them); unset: all",
    "signal_options": "per-signal settings, e.g. `c2pa: {trust_anchors: anchors.pem}`, "
                      "`hashes: {url: postgresql://...}`, `faces: {threads: 2}`",
}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else DEFAULT_PATH
    path.write_text(render(), encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
