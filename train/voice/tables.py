"""Markdown tables for the voice model card from the training reports (train/checkpoints/*.json).

    python -m train.voice.tables            # every method's report found, ablation first
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .train import REPORTS


def _auc(block: dict[str, Any]) -> str:
    if "auc" not in block:
        return "-"
    ci = block.get("ci95")
    return f"{block['auc']:.3f}" + (f" ({ci[0]:.3f}-{ci[1]:.3f})" if ci else "")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def ablation(reports: dict[str, dict[str, Any]]) -> str:
    lines = ["| method | calibration AUC | dev AUC, neural fakes, all conditions | dev reals flagged | "
             "unseen Tortoise AUC | train s |", "|---|---|---|---|---|---|"]
    for name, r in reports.items():
        tortoise = r["per_fake_set"].get("voice-tortoise-fake", {})
        lines.append(f"| {name} | {_auc(r['calibration'])} | {_auc(r['dev_overall_neural'])} | "
                     f"{_pct(r['real_flagged_dev'])} | {_auc(tortoise)} | {r['train_seconds']} |")
    return "\n".join(lines)


def per_condition(r: dict[str, Any]) -> str:
    lines = ["| condition | AUC (neural fakes vs reals) | reals flagged | neural fakes caught |",
             "|---|---|---|---|"]
    for condition, block in r["per_condition"].items():
        lines.append(f"| {condition} | {_auc(block)} | {_pct(block['real_flagged'])} | "
                     f"{_pct(block['fake_caught'])} |")
    return "\n".join(lines)


def per_source(r: dict[str, Any]) -> str:
    lines = ["| development set | files | AUC against all dev reals | caught / flagged at the threshold |",
             "|---|---|---|---|"]
    for name, block in r["per_fake_set"].items():
        files = block.get("fake", 0) // max(1, len(r["per_condition"]))
        lines.append(f"| {name} (synthetic) | {files} | {_auc(block)} | {_pct(block['caught'])} caught |")
    for name, block in r["per_real_set"].items():
        lines.append(f"| {name} (real) | {block['files']} | | {_pct(block['flagged'])} flagged |")
    return "\n".join(lines)


def per_system(r: dict[str, Any]) -> str:
    lines = ["| system (development fakes) | files | caught at the threshold (all conditions) |",
             "|---|---|---|"]
    for name, block in sorted(r["per_fake_system"].items(), key=lambda kv: kv[0]):
        lines.append(f"| {name} | {block['files']} | {_pct(block['caught'])} |")
    return "\n".join(lines)


def main() -> int:
    reports = {p.stem.removeprefix("voice_").removesuffix("_report"): json.loads(p.read_text())
               for p in sorted(Path(REPORTS).glob("voice_*_report.json"))}
    print(ablation(reports), end="\n\n")
    for name, r in reports.items():
        print(f"### {name}\n\n{per_condition(r)}\n\n{per_source(r)}\n\n{per_system(r)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
