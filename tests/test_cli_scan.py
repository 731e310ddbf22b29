"""`deepscreen scan` as a user runs it: exit codes, JSON Lines, stdin, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from media_factory import image_bytes

CLI = [sys.executable, "-m", "deepscreen"]


def run(*args: str, stdin: bytes | None = None, home: Path) -> subprocess.CompletedProcess:
    env = {"DEEPSCREEN_HOME": str(home), "PATH": "/usr/bin:/bin", "COLUMNS": "200"}
    return subprocess.run([*CLI, *args], input=stdin, capture_output=True, env=env, timeout=300)


def test_clean_image_exits_0_with_a_table(tmp_path) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(image_bytes("PNG"))
    result = run("scan", str(photo), home=tmp_path)
    assert result.returncode == 0, result.stderr.decode()
    out = result.stdout.decode()
    assert "photo.png" in out and "allow" in out


def test_json_lines_one_object_per_item_and_exit_1_for_unscannable(tmp_path) -> None:
    folder = tmp_path / "uploads"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.png").write_bytes(image_bytes("PNG"))
    (folder / "sub" / "b.jpg").write_bytes(b"\xff\xd8\xff broken")
    (folder / "sub" / "c.txt").write_bytes(b"just text")
    result = run("scan", str(folder), "--json", home=tmp_path)
    lines = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert [Path(x["item"]["source"]).name for x in lines] == ["a.png", "b.jpg", "c.txt"]
    assert [x["verdict"]["action"] for x in lines] == ["allow", "quarantine", "quarantine"]
    assert all(x["schema"] == "deepscreen.report/1" for x in lines)
    assert result.returncode == 1


def test_stdin_is_one_item(tmp_path) -> None:
    result = run("scan", "-", "--json", stdin=image_bytes("JPEG"), home=tmp_path)
    assert result.returncode == 0, result.stderr.decode()
    report = json.loads(result.stdout)
    assert report["item"]["source"] == "<stdin>" and report["item"]["format"] == "jpeg"


def test_missing_path_is_an_error_exit_2_without_traceback(tmp_path) -> None:
    result = run("scan", str(tmp_path / "nope.jpg"), home=tmp_path)
    assert result.returncode == 2
    assert b"no such file" in result.stderr and b"Traceback" not in result.stderr


def test_bad_policy_is_an_error_exit_2(tmp_path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text("rules:\n  - name: x\n    when: {label: a}\n    action: nuke\n")
    photo = tmp_path / "photo.png"
    photo.write_bytes(image_bytes("PNG"))
    result = run("scan", str(photo), "--policy", str(policy), home=tmp_path)
    assert result.returncode == 2
    assert b"not one of" in result.stderr and b"Traceback" not in result.stderr


def test_custom_policy_changes_the_verdict(tmp_path) -> None:
    policy = tmp_path / "strict.yaml"
    policy.write_text("version: 1\ndefault_action: label\nrules: []\n")
    photo = tmp_path / "photo.png"
    photo.write_bytes(image_bytes("PNG"))
    result = run("scan", str(photo), "--policy", str(policy), "--json", home=tmp_path)
    assert json.loads(result.stdout)["verdict"]["action"] == "label"
    assert result.returncode == 1


def test_help_teaches_with_examples(tmp_path) -> None:
    result = run("scan", "--help", home=tmp_path)
    assert result.returncode == 0
    assert b"Examples" in result.stdout and b"Exit status" in result.stdout


def test_help_prose_reflows_to_the_terminal_and_examples_keep_their_lines() -> None:
    from deepscreen.cli import reflow

    doc = """First line.

    A sentence written at the source's
    line length.

    \b
    Examples:
      deepscreen scan a.jpg
    """
    assert reflow(doc) == ("First line.\n\nA sentence written at the source's line length.\n\n"
                           "\b\nExamples:\n  deepscreen scan a.jpg")


def test_train_help_reads_as_sentences_in_80_columns() -> None:
    result = subprocess.run([sys.executable, "-m", "deepscreen", "train", "--help"],
                            capture_output=True, text=True, env={"COLUMNS": "80", "PATH": ""},
                            check=True)
    prose = [line.strip() for line in result.stdout.splitlines()
             if line.strip() and not line.lstrip().startswith(("deepscreen", "PYTHONPATH", "│",
                                                               "╭", "╰", "Usage"))]
    # A line the terminal wrapped is full; a docstring line break left in would end short.
    assert all(len(line) > 60 or line.endswith((".", ":")) for line in prose), prose
