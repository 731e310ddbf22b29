"""``deepscreen signals`` and ``deepscreen policy``: what will run and how it decides."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..policy import Policy
from ..signals import available_signals
from .app import app

policy_app = typer.Typer(help="Show or check a screening policy.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")


@app.command("signals")
def list_signals() -> None:
    """List the signals this installation runs, with their versions and media kinds, then
    the rules of signals that apply rules (the tooling signal's rules.yaml)."""
    console = Console()
    table = Table(header_style="bold")
    for column in ("signal", "version", "kinds", "reads", "runs", "what it tells"):
        table.add_column(column, overflow="fold")
    signals = available_signals()
    for name, cls in signals.items():
        runs = "by default" if cls.enabled_by_default else "when named"
        table.add_row(name, cls.version, ", ".join(sorted(cls.kinds)),
                      "pixels" if cls.needs_pixels else "bytes/metadata", runs, cls.description)
    console.print(table)
    opt_in = [(name, cls.opt_in_reason) for name, cls in signals.items()
              if not cls.enabled_by_default]
    for name, reason in opt_in:
        console.print(f"[bold]{name}[/] runs only when named (--signals or signals: in a "
                      f"config): {escape(reason)}")
    for name, cls in signals.items():
        rules = cls.catalogue()
        if not rules:
            continue
        listing = Table(title=f"{name} rules", header_style="bold")
        for column in ("rule", "version", "confidence", "labels", "what it matches"):
            listing.add_column(column, overflow="fold")
        for rule in rules:
            listing.add_row(escape(rule["name"]), escape(str(rule["version"])),
                            f"{rule['confidence']:.2f}", escape(", ".join(rule["labels"])),
                            escape(rule["description"]))
        console.print(listing)


@policy_app.command("show")
def policy_show(
    path: Annotated[Path | None, typer.Argument(exists=True, dir_okay=False,
                                                help="Policy file [default: the built-in one].")] = None,
) -> None:
    """Print a policy's rules in the order they are checked."""
    policy = Policy.load(path) if path else Policy.default()
    table = Table(title=f"policy {policy.name}: default {policy.default_action}, "
                        f"unscannable {policy.unscannable_action}, "
                        f"unsupported {policy.unsupported_action}", header_style="bold")
    for column in ("rule", "when", "action", "reason"):
        table.add_column(column, overflow="fold")
    for rule in policy.rules:
        w = rule.when
        parts = [f"label any of {list(w.labels_any)}" if w.labels_any else "",
                 f"labels all of {list(w.labels_all)}" if w.labels_all else "",
                 f"signal {w.signal}" if w.signal else "",
                 f"score >= {w.min_score}" if w.min_score is not None else "",
                 f"score <= {w.max_score}" if w.max_score is not None else "",
                 f"kind in {list(w.kinds)}" if w.kinds else ""]
        table.add_row(rule.name, ", ".join(p for p in parts if p), rule.action, rule.reason)
    Console().print(table)


@policy_app.command("check")
def policy_check(path: Annotated[Path, typer.Argument(exists=True, dir_okay=False)]) -> None:
    """Validate a policy file; exit 2 with the problem if it is not valid."""
    policy = Policy.load(path)
    typer.echo(f"{path}: valid policy {policy.name!r} with {len(policy.rules)} rule(s)")
