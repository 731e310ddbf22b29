"""`deepscreen scan` as a user runs it: exit codes, JSON Lines, stdin, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from hostile_strings import HOSTILE, RAW_FORBIDDEN

from media_factory import image_bytes

CLI = [sys.executable, "-m", "deepscreen"]


def run(*args: str, stdin: bytes | None = None, home: Path) -> subprocess.CompletedProcess:
    env = {"DEEPSCREEN_HOME": str(home), "PATH": "/usr/bin:/bin", "COLUMNS": "200"}
    return subprocess.run([*CLI, *args], input=stdin, capture_output=True, env=env, timeout=300)


def test_piped_output_is_one_clamscan_line_per_file_then_a_summary(tmp_path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "photo.png").write_bytes(image_bytes("PNG"))
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff broken")
    result = run("scan", str(folder), "--signals", "hashes", home=tmp_path)
    assert result.returncode == 1, result.stderr.decode()
    lines = result.stdout.decode().splitlines()
    assert lines[0] == f"{folder / 'broken.jpg'}: QUARANTINE cannot decode image: " \
        "image file is truncated (11 bytes not processed) (unscannable)" or \
        lines[0].startswith(f"{folder / 'broken.jpg'}: QUARANTINE ")
    assert lines[1] == f"{folder / 'photo.png'}: OK"
    assert lines[2] == "----------- SCAN SUMMARY -----------"
    assert "Scanned files: 2" in lines and "Allowed: 1" in lines and "Quarantined: 1" in lines
    assert "Errors: 0" in lines and lines[-1].startswith("Time: ")
    quiet = run("scan", str(folder), "--signals", "hashes", "--no-summary", "-i", home=tmp_path)
    assert quiet.stdout.decode().splitlines() == [lines[0]]  # only what was not allowed


def run_on_terminal(*args: str, home: Path) -> tuple[int, str]:
    """The CLI with a terminal (a pty) as its standard output: exit status and output."""
    import os
    import pty

    pid, fd = pty.fork()
    if pid == 0:  # the child
        os.environ.update({"DEEPSCREEN_HOME": str(home), "COLUMNS": "160"})
        os.execv(sys.executable, [*CLI, *args])
    out = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace")


def test_on_a_terminal_the_output_is_a_table(tmp_path) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(image_bytes("PNG"))
    status, text = run_on_terminal("scan", str(photo), "--signals", "hashes", home=tmp_path)
    assert status == 0, text
    assert "┏━" in text and "item" in text and "allow" in text and "SCAN SUMMARY" in text


def test_exclude_file_list_hidden_files_and_empty_folders(tmp_path) -> None:
    folder = tmp_path / "in"
    (folder / ".git").mkdir(parents=True)
    (folder / "empty").mkdir()
    (folder / ".hidden.png").write_bytes(image_bytes("PNG", seed=1))
    (folder / ".git" / "x.png").write_bytes(image_bytes("PNG", seed=2))
    (folder / "notes.txt").write_bytes(b"text")
    listed = tmp_path / "listed.png"
    listed.write_bytes(image_bytes("PNG", seed=3))
    file_list = tmp_path / "list.txt"
    file_list.write_text(f"{listed}\n\n")
    result = run("scan", str(folder), str(folder / "empty"), "--exclude", "*.txt",
                 "--exclude", ".git", "--file-list", str(file_list), "--signals", "hashes",
                 "--no-summary", home=tmp_path)
    lines = result.stdout.decode().splitlines()
    assert lines == [f"{folder / '.hidden.png'}: OK", f"{listed}: OK"]  # hidden files count
    assert f"{folder / 'empty'} holds no files to screen" in " ".join(result.stderr.decode().split())
    assert result.returncode == 0


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
    result = run("scan", str(tmp_path / "nope[/].jpg"), home=tmp_path)  # markup in the name
    assert result.returncode == 2
    assert f"{tmp_path / 'nope[/].jpg'}: ERROR no such file".encode() in result.stdout
    assert b"Traceback" not in result.stderr


def test_config_typos_are_usage_errors_exit_2_naming_the_key(tmp_path) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(image_bytes("PNG"))
    cases = {"limits: {max_byte: 10}\n": "limits.max_byte: unknown limit (did you mean max_bytes?)",
             "limits: {max_bytes: lots}\n": "limits.max_bytes: 'lots' is not a whole number",
             "limits: {max_bytes: -3}\n": "limits.max_bytes: must be positive",
             "limit: {max_bytes: 3}\n": "unknown key 'limit' (did you mean limits?)",
             "signals: hashes\n": "signals: must be a list",
             "- a list\n": "must be a mapping",
             "home: [1\n": "cannot read config"}
    for text, message in cases.items():
        config = tmp_path / "c.yaml"
        config.write_text(text)
        result = run("scan", str(photo), "-c", str(config), home=tmp_path)
        err = result.stderr.decode()
        assert result.returncode == 2, (text, err)
        assert message in err and "Traceback" not in err, (text, err)
        assert len(err.strip().splitlines()) == 1, err


def test_an_unexpected_failure_exits_2_never_1(tmp_path) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(image_bytes("PNG"))
    # The HTML report cannot be written: an OSError the command does not expect.
    result = run("scan", str(photo), "--signals", "hashes", "--report",
                 str(tmp_path / "no" / "such" / "dir" / "r.html"), home=tmp_path)
    err = result.stderr.decode()
    assert result.returncode == 2, err
    assert "internal error: FileNotFoundError" in err and "Traceback" not in err


def test_version_and_help_defaults(tmp_path) -> None:
    from deepscreen import __version__

    version = run("--version", home=tmp_path)
    assert version.returncode == 0 and version.stdout.decode().strip() == f"deepscreen {__version__}"
    help_text = run("scan", "--help", home=tmp_path).stdout.decode()
    flat = " ".join(help_text.split())
    assert "[default: 1]" in flat  # --frame-interval: rich markup used to swallow these
    assert "[default: 1 GiB]" in flat and "[default: 0; x>=0]" in flat


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


def _hostile_png(path: Path) -> None:
    """A PNG whose generator parameters and software field hold every hostile string."""
    import io

    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    text = " | ".join(v for k, v in HOSTILE.items() if k != "huge")
    info.add_text("parameters", f"{text}\nNegative prompt: {text}\nSteps: 20, Sampler: Euler, "
                                f"Model: {HOSTILE['rich markup']}, Extra: {HOSTILE['huge']}")
    info.add_text("Software", HOSTILE["ansi escapes"] + HOSTILE["right-to-left override"])
    buffer = io.BytesIO()
    Image.frombytes("RGB", (64, 64), bytes(range(256)) * 48).save(buffer, "PNG", pnginfo=info)
    path.write_bytes(buffer.getvalue())


def test_hostile_names_and_metadata_never_break_or_forge_the_output(tmp_path) -> None:
    import os

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a[" / "][red]x[").mkdir(parents=True)  # a path that reads "a[/][red]x[/red].png"
    names = ["a[/][red]x[/red].png", "holiday [final].png", "evil\x1b[2Jname.png",
             "invoice\u202egpj.png", "bell\x07.png"]
    for name in names:
        _hostile_png(folder / name)
    raw_name = os.fsencode(folder) + b"/not-utf8-\xff.png"  # bytes that are not UTF-8
    _hostile_png(Path(os.fsdecode(raw_name)))
    for extra in ([], ["-v"], ["--json"], ["-v", "--json"]):
        result = run("scan", str(folder), "--signals", "generator,xmp", *extra, home=tmp_path)
        out, err = result.stdout.decode("utf-8"), result.stderr.decode("utf-8")
        assert result.returncode == 1, err  # labelled (generator metadata), not a crash
        assert "Traceback" not in err and "MarkupError" not in err
        if "--json" in extra:
            reports = [json.loads(line) for line in out.splitlines()]
            assert len(reports) == 6 and {r["verdict"]["action"] for r in reports} == {"label"}
            continue
        lines = [line for line in out.splitlines() if ": LABEL " in line]
        assert len(lines) == 6, out
        for forbidden in RAW_FORBIDDEN:
            assert forbidden not in out, repr(forbidden)
        assert f"{folder}/holiday [final].png: LABEL" in out  # brackets shown as they are
        assert f"{folder}/invoice\\u202egpj.png: LABEL" in out  # the override made visible
        assert f"{folder}/not-utf8-\\xff.png: LABEL" in out
        assert max(len(line) for line in out.splitlines()) < 5000  # 1 MB values cut short
    status, table = run_on_terminal("scan", str(folder), "--signals", "generator,xmp", "-v",
                                    home=tmp_path)
    assert status == 1 and "MarkupError" not in table and "Traceback" not in table, table
    assert "\x1b[2J" not in table and "\u202e" not in table and "\x07" not in table
    assert "holiday [final].png" in table


def test_limit_flags_override_only_the_limits_given() -> None:
    from deepscreen.cli.scan_cmd import _scan_config
    from deepscreen.config import ScanConfig

    base = ScanConfig()
    assert _scan_config(base, frame_interval=None, max_bytes=None, html_report=False) is base
    both = _scan_config(base, frame_interval=2.5, max_bytes=1000, html_report=False)
    assert (both.limits.frame_interval_s, both.limits.max_bytes) == (2.5, 1000)
    one = _scan_config(base, frame_interval=None, max_bytes=7, html_report=False)
    assert (one.limits.frame_interval_s, one.limits.max_bytes) == (base.limits.frame_interval_s, 7)
    assert base.limits.max_bytes != 7  # the configuration given is left as it was
