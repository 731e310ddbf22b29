"""Markdown tables from a `deepscreen eval --json` run of the face dev suite.

    deepscreen eval --csv bench/face_dev_suite.csv --json --out dev.jsonl > dev.json
    python bench/face_dev_report.py dev.json            # per-set table and abstention reasons
    python bench/face_dev_report.py dev.json --benchmarks "run note"   # also BENCHMARKS.md

The per-set table is what BENCHMARKS.md and the model card quote: item-level AUC with its 95%
bootstrap interval, TPR at 1% FPR, and the share of real and of fake items the policy flagged.
A set of one class is scored against every item of the other class (the JSON says so).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Face dev suite (issue 18): per set"
COMMAND = ("DEEPSCREEN_DATA=... deepscreen eval --csv bench/face_dev_suite.csv --json "
           "--out dev.jsonl -j 1 > dev.json; python bench/face_dev_report.py dev.json")


def _share(flags: dict[str, Any], cls: str) -> str:
    total, flagged = flags[cls], flags[f"{cls}_flagged"]
    return "-" if not total else f"{100.0 * flagged / total:.1f}% ({flagged}/{total})"


def sets_table(summary: dict[str, Any]) -> str:
    lines = ["| set | real | fake | abstained | AUC | 95% CI | TPR@1%FPR | real flagged | "
             "fake flagged | note |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name, report in summary["sets"].items():
        m, flags = report["metrics"], report["flags"]
        auc = "-" if m["auc"] is None else f"{m['auc']:.3f}"
        ci = "-" if not m["auc_ci95"] else f"{m['auc_ci95'][0]:.3f}-{m['auc_ci95'][1]:.3f}"
        tpr = "-" if m["tpr_at_1pct_fpr"] is None else f"{m['tpr_at_1pct_fpr']:.3f}"
        bold = "**" if name == "(all)" else ""
        lines.append(f"| {bold}{name}{bold} | {flags['real']} | {flags['fake']} | "
                     f"{m['abstained']} | {auc} | {ci} | {tpr} | {_share(flags, 'real')} | "
                     f"{_share(flags, 'fake')} | {report['versus'] or m['note']} |")
    return "\n".join(lines)


def abstentions(summary: dict[str, Any]) -> str:
    """Why items were not scored, by reason with the numbers taken out (sizes vary)."""
    reasons: Counter[str] = Counter()
    for result in summary["results"]:
        if result["error"]:
            reasons[f"error: {result['error'].split(':')[0]}"] += 1
        elif result["abstained"]:
            reasons[result["abstained"].split(" (")[0]] += 1
    return "\n".join(f"- {reason}: {count}" for reason, count in reasons.most_common())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("summary", type=Path, help="the JSON `deepscreen eval --json` printed")
    parser.add_argument("--benchmarks", metavar="NOTE",
                        help="also write the section of BENCHMARKS.md, with this note on the run")
    args = parser.parse_args(argv)
    summary = json.loads(args.summary.read_text())
    if summary.get("version", 1) < 2 or not summary.get("sets"):
        raise SystemExit(f"{args.summary}: no per-set report (needs a CSV with a set column)")
    body = (sets_table(summary) + f"\n\nNot scored (of {summary['files']} files):\n"
            + (abstentions(summary) or "- none"))
    print(body)
    if args.benchmarks:
        sys.path.insert(0, str(ROOT / "bench"))
        from benchmarks_file import write_section

        card = json.loads((ROOT / "src/deepscreen/models/face_sbi.json").read_text())
        when = datetime.datetime.fromtimestamp(args.summary.stat().st_mtime, datetime.UTC)
        write_section(SECTION, f"{SECTION}\n\nCommand: `{COMMAND}`. Model `{card['version']}` "
                      f"(threshold {card['threshold']:.4f}), the default policy. Run "
                      f"{when:%Y-%m-%d %H:%M} UTC. {args.benchmarks}\n\n{body}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
