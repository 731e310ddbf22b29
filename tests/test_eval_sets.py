"""Per-set evaluation reports and the policy's flag share (`deepscreen eval --csv` with sets)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from deepscreen.cli import app, load_commands
from deepscreen.errors import DeepscreenError
from deepscreen.evaluate import (
    FAKE,
    OVERALL,
    REAL,
    FileResult,
    FlagShare,
    LabelledFile,
    load_labelled_csv,
    summarise_sets,
)


def test_csv_set_column_data_root_and_repeated_files(tmp_path: Path) -> None:
    table = tmp_path / "bench" / "suite.csv"
    table.parent.mkdir()
    table.write_text("# a comment before the header\npath,label,set\n"
                     "data:faces-x/a.jpg,real,web\n"
                     "local/b.jpg,fake,swaps\n"
                     "data:faces-x/a.jpg,real,swaps\n"  # the same real in a second set
                     "/abs/c.mp4,0\n")
    rows = load_labelled_csv(table, tmp_path / "data")
    assert [(str(r.path), r.label, r.set) for r in rows] == [
        (str(tmp_path / "data" / "faces-x" / "a.jpg"), REAL, "web"),
        (str(table.parent / "local" / "b.jpg"), FAKE, "swaps"),
        (str(tmp_path / "data" / "faces-x" / "a.jpg"), REAL, "swaps"),
        ("/abs/c.mp4", REAL, "")]
    with pytest.raises(DeepscreenError, match="DEEPSCREEN_DATA"):
        load_labelled_csv(table)  # data: paths need a data root
    table.write_text("x.jpg,real,a\nx.jpg,fake,b\n")
    with pytest.raises(DeepscreenError, match="both real and fake"):
        load_labelled_csv(table)


def test_flag_share_counts_every_verdict_but_allow() -> None:
    results = [FileResult("r1", REAL, "image", 0.1, action="allow"),
               FileResult("r2", REAL, "image", 0.9, action="quarantine"),
               FileResult("r3", REAL, "image", None, abstained="no face found", action="allow"),
               FileResult("r4", REAL, "image", 0.5, action="label"),
               FileResult("r5", REAL, error="unreadable"),  # no verdict at all: not counted
               FileResult("f1", FAKE, "video", 0.95, action="block"),
               FileResult("f2", FAKE, "image", 0.2, action="allow")]
    flags = FlagShare.of(results)
    assert (flags.real, flags.real_flagged, flags.fake, flags.fake_flagged) == (4, 2, 2, 1)
    assert flags.real_share == 0.5 and flags.fake_share == 0.5
    assert flags.to_dict()["real_flagged_share"] == 0.5
    assert FlagShare.of([]).to_dict()["fake_flagged_share"] is None


def _result(path: str, label: int, score: float | None, action: str = "allow") -> FileResult:
    return FileResult(path, label, "image", score, None if score is not None else "no face",
                      action=action)


def test_summarise_sets_reports_each_set_and_the_whole() -> None:
    # Set "mixed": reals 0.1, 0.3, fakes 0.2, 0.8 -> AUC 0.75. Set "portraits": reals only,
    # 0.05 and 0.9 (flagged) and one abstention, scored against every fake of the run.
    # The real 0.1 is listed in both sets.
    results = [_result("a", REAL, 0.1), _result("b", REAL, 0.3), _result("c", FAKE, 0.2),
               _result("d", FAKE, 0.8, "quarantine"), _result("e", REAL, 0.05),
               _result("f", REAL, 0.9, "label"), _result("g", REAL, None)]
    files = [LabelledFile(Path(p), label, name) for p, label, name in (
        ("a", REAL, "mixed"), ("b", REAL, "mixed"), ("c", FAKE, "mixed"), ("d", FAKE, "mixed"),
        ("e", REAL, "portraits"), ("f", REAL, "portraits"), ("g", REAL, "portraits"),
        ("a", REAL, "portraits"))]
    reports = summarise_sets(files, results)
    assert list(reports) == ["mixed", "portraits", OVERALL]
    mixed = reports["mixed"]
    assert mixed.metrics.auc == pytest.approx(0.75) and mixed.versus == ""
    assert (mixed.flags.real, mixed.flags.real_flagged) == (2, 0)
    assert (mixed.flags.fake, mixed.flags.fake_flagged) == (2, 1)
    portraits = reports["portraits"]
    assert portraits.files == 4 and portraits.metrics.abstained == 1
    assert "vs all 2 fake" in portraits.versus
    # reals 0.05, 0.9, 0.1 against fakes 0.2, 0.8: 0.9 beats both, 0.05 and 0.1 lose both.
    assert portraits.metrics.auc == pytest.approx(4 / 6)
    assert (portraits.flags.real, portraits.flags.real_flagged, portraits.flags.fake) == (4, 1, 0)
    whole = reports[OVERALL]
    assert whole.files == 7 and whole.flags.real == 5 and whole.flags.real_flagged == 1
    assert whole.metrics.n_real == 4 and whole.metrics.n_fake == 2


def test_eval_cli_reports_sets_and_flags_in_json_and_table(tmp_path: Path) -> None:
    """No face in noise pictures: every item abstains, so only the policy decides the flags."""
    rng = np.random.default_rng(3)
    data = tmp_path / "data"
    for name in ("faces-a/1.png", "faces-a/2.png", "faces-b/3.png"):
        (data / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(data / name)
    table = tmp_path / "suite.csv"
    table.write_text("path,label,set\ndata:faces-a/1.png,real,a\ndata:faces-a/2.png,fake,a\n"
                     "data:faces-b/3.png,real,b\ndata:faces-a/1.png,real,b\n")
    load_commands()
    runner = CliRunner()
    result = runner.invoke(app, ["eval", "--csv", str(table), "--data-root", str(data), "--json",
                                 "-j", "1"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["version"] == 2 and summary["files"] == 3  # 1.png screened once
    assert set(summary["sets"]) == {"a", "b", OVERALL}
    assert summary["sets"]["b"]["flags"]["real"] == 2
    assert summary["flags"]["real_flagged"] == 0  # the default policy allows abstentions
    assert "metrics" in summary and "results" in summary  # version-1 keys unchanged
    # The markdown report the dev suite's numbers are quoted from.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    from face_dev_report import abstentions, sets_table

    markdown = sets_table(summary)
    assert "| a | 1 | 1 | 2 |" in markdown and "| **(all)** |" in markdown
    assert "- no face found: 3" in abstentions(summary)
    # A policy that labels everything flags every item, real or fake.
    strict = tmp_path / "label-all.yaml"
    strict.write_text("version: 1\nname: label-all\ndefault_action: label\nrules: []\n")
    result = runner.invoke(app, ["eval", "--csv", str(table), "--data-root", str(data), "--json",
                                 "-j", "1", "--policy", str(strict)])
    assert result.exit_code == 0, result.output
    flags = json.loads(result.stdout)["sets"]["a"]["flags"]
    assert flags["real_flagged_share"] == 1.0 and flags["fake_flagged_share"] == 1.0
    text = runner.invoke(app, ["eval", "--csv", str(table), "-j", "1", "--policy", str(strict)],
                         env={"DEEPSCREEN_DATA": str(data), "COLUMNS": "120"})
    assert text.exit_code == 0, text.output
    assert "per set" in text.stdout and "real flagged" in text.stdout
    assert "100.0% (2/2)" in text.stdout  # set b: both reals labelled
