"""How ``deepscreen scan`` shows its results: a table on a terminal, one line per file in
the clamscan shape when piped, JSON Lines with ``--json``; and the summary block.

Every string that comes from a file (its name, its metadata, a finding's summary) is shown
through :mod:`.text`, so no upload can forge output or break the terminal.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import IO, Protocol

from rich.console import Console
from rich.table import Table

from ..errors import MediaError
from ..findings import Finding
from ..policy import ACTIONS
from ..report import Report
from ..styles import VERDICT_STYLES
from .text import markup_safe, safe_text

ERROR_SCHEMA = "deepscreen.error/1"


class Output(Protocol):
    def item(self, report: Report) -> None: ...

    def error(self, source: str, error: MediaError) -> None: ...

    def finish(self) -> None: ...


@dataclass
class Summary:
    """Counts for the summary block (clamscan's ``SCAN SUMMARY``)."""

    started: float = field(default_factory=time.monotonic)
    verdicts: Counter[str] = field(default_factory=Counter)
    errors: int = 0

    def count(self, report: Report) -> None:
        """Count a report and, for an archive, every member screened inside it."""
        for screened in report.walk():
            self.verdicts[screened.action] += 1

    @property
    def scanned(self) -> int:
        return sum(self.verdicts.values())

    def lines(self) -> list[str]:
        elapsed = time.monotonic() - self.started
        minutes, seconds = divmod(int(elapsed), 60)
        names = {"allow": "Allowed", "label": "Labelled", "quarantine": "Quarantined",
                 "block": "Blocked"}
        return ["----------- SCAN SUMMARY -----------", f"Scanned files: {self.scanned}",
                *(f"{names[action]}: {self.verdicts[action]}" for action in ACTIONS),
                f"Errors: {self.errors}", f"Time: {elapsed:.3f} sec ({minutes} m {seconds} s)"]


def reasons_of(report: Report) -> str:
    return "; ".join(f"{r.reason} ({r.rule})" for r in report.verdict.reasons)


def finding_line(finding: Finding) -> str:
    """One finding as plain text (untrusted parts made safe)."""
    if finding.abstained:
        return f"{finding.signal} {finding.version}: abstained: {safe_text(finding.abstained)}"
    score = "" if finding.score is None else f"score {finding.score:.3f} "
    labels = f"[{', '.join(safe_text(x) for x in finding.labels)}] " if finding.labels else ""
    return f"{finding.signal} {finding.version}: {score}{labels}{safe_text(finding.summary)}"


class LineOutput:
    """``path: OK`` or ``path: QUARANTINE reasons``, one line per file, printed as it is
    screened: what scripts that parse clamscan output expect, and never a wrapped table."""

    def __init__(self, out: IO[str], err: IO[str], *, verbose: bool = False,
                 infected_only: bool = False) -> None:
        self._out, self._err = out, err
        self._verbose, self._infected_only = verbose, infected_only

    def item(self, report: Report) -> None:
        for screened in report.walk():  # an archive, then each member (``a.zip!b.jpg``)
            self._line(screened)

    def _line(self, report: Report) -> None:
        if report.action == "allow" and self._infected_only:
            return
        verdict = "OK" if report.action == "allow" else f"{report.action.upper()} {reasons_of(report)}"
        print(f"{safe_text(report.item.source)}: {safe_text(verdict, 2000)}", file=self._out,
              flush=True)
        if self._verbose:
            for finding in report.findings:
                print(f"  {finding_line(finding)}", file=self._out)

    def error(self, source: str, error: MediaError) -> None:
        print(f"{safe_text(source)}: ERROR {safe_text(error)}", file=self._out, flush=True)

    def finish(self) -> None:
        pass


class JsonOutput:
    """One JSON object per item (schema ``deepscreen.report/1``; an archive's members are
    inside its object), errors as ``deepscreen.error/1`` objects. JSON escapes every string
    itself."""

    def __init__(self, out: IO[str], *, infected_only: bool = False) -> None:
        self._out, self._infected_only = out, infected_only

    def item(self, report: Report) -> None:
        if report.action == "allow" and self._infected_only:
            return
        print(report.to_json(), file=self._out, flush=True)

    def error(self, source: str, error: MediaError) -> None:
        print(json.dumps({"schema": ERROR_SCHEMA, "source": source,
                          "error": {"code": error.code, "message": str(error)}},
                         ensure_ascii=False), file=self._out, flush=True)

    def finish(self) -> None:
        pass


class TableOutput:
    """A table (item, kind, verdict, reasons) for a person at a terminal, printed at the end;
    errors go to standard error as they happen."""

    def __init__(self, console: Console, errors: Console, *, verbose: bool = False,
                 infected_only: bool = False) -> None:
        self._console, self._errors = console, errors
        self._verbose, self._infected_only = verbose, infected_only
        self._reports: list[Report] = []

    def item(self, report: Report) -> None:
        for screened in report.walk():  # an archive's members get rows of their own
            if not (screened.action == "allow" and self._infected_only):
                self._reports.append(screened)

    def error(self, source: str, error: MediaError) -> None:
        self._errors.print(f"[red]deepscreen: error:[/] {markup_safe(source)}: "
                           f"{markup_safe(error)}")

    def finish(self) -> None:
        if self._reports:
            self._console.print(self._table())

    def _table(self) -> Table:
        table = Table(show_lines=self._verbose or len(self._reports) < 20, header_style="bold")
        table.add_column("item", overflow="fold")
        table.add_column("kind")
        table.add_column("verdict")
        table.add_column("reasons", overflow="fold")
        for r in self._reports:
            lines = [f"{markup_safe(x.reason)} [dim]({markup_safe(x.rule)}: "
                     f"{markup_safe(', '.join(x.signals))})[/]" for x in r.verdict.reasons]
            if self._verbose:
                lines += [f"[dim]{markup_safe(finding_line(f))}[/]" for f in r.findings]
            style = VERDICT_STYLES.get(r.action)
            verdict = f"[{style.terminal}]{r.action}[/]" if style else markup_safe(r.action)
            table.add_row(markup_safe(r.item.source),
                          markup_safe(f"{r.item.kind}/{r.item.format}"), verdict,
                          "\n".join(lines) or "[dim]no signal fired[/]")
        return table
