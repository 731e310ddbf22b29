"""`deepscreen bank ...` and `deepscreen hash` as a user runs them."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deepscreen.cli import app, load_commands

from media_factory import image_bytes, video_bytes

load_commands()
runner = CliRunner()


def cli(home: Path, *args: str, stdin: str | None = None):
    result = runner.invoke(app, [*args, "--home", str(home)] if args[0] != "hash" else list(args),
                           input=stdin, env={"COLUMNS": "200"})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "photo.png"
    path.write_bytes(image_bytes("PNG", 320, 240, seed=1))
    return path


def test_bank_round_trip_create_add_export_import_list_remove(tmp_path: Path, photo: Path
                                                             ) -> None:
    home = tmp_path / "home"
    assert cli(home, "bank", "create", "ncii", "--threshold", "24",
               "--description", "victim reports").exit_code == 0
    added = cli(home, "bank", "add", "ncii", str(photo), "--case-id", "c-9", "--source", "form")
    assert added.exit_code == 0 and "added 3 entries" in added.output
    md5 = "0f" * 16
    assert cli(home, "bank", "add", "ncii", "--type", "md5", md5).exit_code == 0

    exported = tmp_path / "ncii.csv"
    assert cli(home, "bank", "export", "ncii", "-o", str(exported)).exit_code == 0
    rows = list(csv.DictReader(exported.open()))
    assert [r["signal_type"] for r in rows] == ["pdq", "md5", "sha256", "md5"]
    assert json.loads(rows[0]["metadata"])["case_id"] == "c-9"
    assert rows[3]["signal_str"] == md5

    assert cli(home, "bank", "create", "copy", "--label", "partner").exit_code == 0
    imported = cli(home, "bank", "import", "copy", str(exported))
    assert imported.exit_code == 0 and "imported 4 entries" in imported.output
    listing = cli(home, "bank", "list")
    assert "ncii" in listing.output and "partner" in listing.output and "24" in listing.output

    entries = cli(home, "bank", "list", "copy")
    assert md5 in entries.output
    assert cli(home, "bank", "remove", "copy", "--entry", "8").exit_code == 0
    after = cli(home, "bank", "export", "copy").output
    assert md5 not in after and after.count("\n") == 4  # header + 3 rows
    assert cli(home, "bank", "remove", "copy").exit_code == 0
    assert "copy" not in cli(home, "bank", "list").output


@pytest.mark.parametrize(("args", "message"), [
    (("bank", "add", "nope", "--type", "md5", "0f" * 16), "unknown bank 'nope'"),
    (("bank", "add", "ncii", "--type", "pdq", "123"), "malformed pdq value"),
    (("bank", "add", "ncii", "deadbeef"), "is not a file"),
    (("bank", "create", "ncii"), "already exists"),
    (("bank", "create", "Bad Name"), "bad bank name"),
    (("bank", "remove", "ncii", "--entry", "99"), "no entry 99"),
    (("bank", "export", "nope"), "unknown bank"),
    (("bank", "import", "ncii", "missing.csv"), "cannot read"),
    (("bank", "add", "ncii", "--type", "sha256", "ab" * 32, "--config", "missing.yaml"),
     "does not exist"),
])
def test_bad_input_exits_2_with_a_message(tmp_path: Path, args, message) -> None:
    home = tmp_path / "home"
    cli(home, "bank", "create", "ncii")
    result = cli(home, *args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_malformed_csv_row_imports_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    cli(home, "bank", "create", "ncii")
    bad = tmp_path / "bad.csv"
    bad.write_text(f"signal_type,signal_str\npdq,{'a' * 64}\npdq,nothex\n")
    result = cli(home, "bank", "import", "ncii", str(bad))
    assert result.exit_code == 2 and f"{bad}:3: malformed pdq value" in result.output
    assert "| 0 " in cli(home, "bank", "list").output.replace("│", "|")


def test_hash_prints_json_lines_and_csv(tmp_path: Path, photo: Path) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(video_bytes(seconds=2.0))
    lines = [json.loads(x) for x in cli(tmp_path, "hash", str(photo), str(clip),
                                        "--json").output.splitlines()]
    assert lines[0]["kind"] == "image" and len(lines[0]["pdq"]["hash"]) == 64
    assert lines[1]["kind"] == "video" and [f["time_s"] for f in lines[1]["vpdq"]] == [0.0, 1.0]
    rows = list(csv.DictReader(io.StringIO(cli(tmp_path, "hash", str(photo), "--csv").output)))
    assert [r["signal_type"] for r in rows] == ["pdq", "md5", "sha256"]
    assert all("photo.png" not in json.dumps(r) for r in rows)  # names stay on the device
    table = cli(tmp_path, "hash", str(photo)).output
    assert lines[0]["sha256"][:10] in table
    missing = cli(tmp_path, "hash", str(tmp_path / "nope.jpg"))
    assert missing.exit_code == 2 and "cannot read" in missing.output


def test_victim_flow_hash_locally_import_then_scan_blocks(tmp_path: Path, photo: Path) -> None:
    """End to end in real processes: hashes leave the device, the platform blocks the photo."""
    env = {"DEEPSCREEN_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin", "COLUMNS": "200"}

    def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "deepscreen", *args], input=stdin,
                              capture_output=True, env=env, timeout=300)

    hashes = run("hash", "--csv", str(photo))
    assert hashes.returncode == 0, hashes.stderr.decode()
    assert run("bank", "create", "ncii").returncode == 0
    imported = run("bank", "import", "ncii", "-", stdin=hashes.stdout)
    assert imported.returncode == 0, imported.stderr.decode()
    scanned = run("scan", "--json", str(photo))
    assert scanned.returncode == 1
    report = json.loads(scanned.stdout)
    assert report["verdict"]["action"] == "block"
    bad = run("bank", "import", "ncii", "-", stdin=b"pdq,zz\n")
    assert bad.returncode == 2 and b"Traceback" not in bad.stderr


def test_adding_a_file_over_the_size_limit_is_refused(tmp_path: Path, photo: Path) -> None:
    home = tmp_path / "home"
    config = tmp_path / "small.yaml"
    config.write_text("limits: {max_bytes: 100}\n")
    cli(home, "bank", "create", "ncii")
    result = cli(home, "bank", "add", "ncii", str(photo), "--config", str(config))
    assert result.exit_code == 2 and "nothing to add" in result.output
    assert "over the limit" in result.output
