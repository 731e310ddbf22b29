"""Archives and PDF: members screened as items of their own, within bounds; bombs refused."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import struct
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deepscreen import Scanner
from deepscreen.banks import NewEntry, hash_item, open_store
from deepscreen.config import ScanConfig
from deepscreen.media import Limits, decode, open_media, sniff
from deepscreen.media.archive_tree import ArchiveTree, Nesting
from deepscreen.policy import Policy

from media_factory import image_bytes, overlapping_zip_bomb, texture


def zip_bytes(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def tar_bytes(members: dict[str, bytes], mode: str = "w") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def pdf_bytes(pages: list[np.ndarray]) -> bytes:
    """A PDF with one JPEG (DCTDecode) image per page, written by Pillow."""
    pictures = [Image.fromarray(p) for p in pages]
    buf = io.BytesIO()
    pictures[0].save(buf, format="PDF", save_all=True, append_images=pictures[1:])
    return buf.getvalue()


PHOTO = texture(256, 192, seed=21)


def _photo_png() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(PHOTO).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def banked(tmp_path: Path) -> ScanConfig:
    """A configuration whose bank holds PHOTO by PDQ."""
    config = ScanConfig(home=tmp_path / "home", signals=("hashes",))
    hashes = hash_item(decode(open_media(_photo_png())))
    store = open_store(config)
    store.create_bank("ncii")
    store.add_entries("ncii", [NewEntry("pdq", hashes.pdq.hex, {"case_id": "c-1"})])
    return config


def _scan(config: ScanConfig, data: bytes, name: str, policy: Policy | None = None):
    with Scanner(config, policy) as scanner:
        return scanner.scan(data, name=name)


def test_a_banked_photo_in_a_nested_zip_blocks_the_archive(banked: ScanConfig) -> None:
    inner = zip_bytes({"x.jpg": _jpeg(PHOTO)})
    outer = zip_bytes({"clean.png": image_bytes("PNG", seed=3), "inner.zip": inner,
                       "photos/": b""})
    report = _scan(banked, outer, "a.zip")
    assert report.action == "block"
    sources = [r.item.source for r in report.walk()]
    assert sources == ["a.zip", "a.zip!clean.png", "a.zip!inner.zip", "a.zip!inner.zip!x.jpg"]
    deepest = list(report.walk())[-1]
    assert deepest.action == "block" and deepest.item.member_path == ("inner.zip", "x.jpg")
    assert report.members[1].action == "block"  # the inner archive, by its member
    member_reason = next(r for r in report.verdict.reasons if r.rule == "member")
    assert member_reason.action == "block" and "a.zip!inner.zip" in member_reason.reason
    assert report.item.kind == "archive" and report.item.archive["entries"] == 3
    data = json.loads(report.to_json())
    assert data["schema"] == "deepscreen.report/1" and data["schema_version"] == "1.1"
    assert data["members"][1]["members"][0]["item"]["source"] == "a.zip!inner.zip!x.jpg"


def _jpeg(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


@pytest.mark.parametrize("mode", ["w", "w:gz", "w:bz2", "w:xz"])
def test_tar_members_are_screened(banked: ScanConfig, mode: str) -> None:
    data = tar_bytes({"dir/x.jpg": _jpeg(PHOTO), "y.png": image_bytes("PNG", seed=4)}, mode)
    report = _scan(banked, data, "t.tar")
    assert report.action == "block"
    assert [m.item.source for m in report.members] == ["t.tar!dir/x.jpg", "t.tar!y.png"]
    compression = {"w": "", "w:gz": "+gzip", "w:bz2": "+bzip2", "w:xz": "+xz"}[mode]
    assert report.item.archive["format"] == f"tar{compression}"


@pytest.mark.parametrize(("compress", "suffix"), [(gzip.compress, ".gz"), (bz2.compress, ".bz2"),
                                                  (lzma.compress, ".xz")])
def test_a_single_compressed_file_is_its_one_member(banked: ScanConfig, compress, suffix: str
                                                    ) -> None:
    report = _scan(banked, compress(_jpeg(PHOTO)), f"holiday.jpg{suffix}")
    assert report.action == "block"
    assert [m.item.source for m in report.members] == [f"holiday.jpg{suffix}!holiday.jpg"]


def test_gzip_member_takes_the_original_name_from_its_header(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with gzip.GzipFile(filename="../../secret/photo.png", mode="wb", fileobj=buf) as g:
        g.write(image_bytes("PNG"))
    report = _scan(ScanConfig(home=tmp_path, signals=()), buf.getvalue(), "upload.bin")
    assert [m.item.source for m in report.members] == ["upload.bin!photo.png"]
    assert report.action == "allow"


def test_pdf_embedded_images_are_members(banked: ScanConfig) -> None:
    data = pdf_bytes([texture(128, 96, seed=1), PHOTO])
    assert sniff(data).kind == "archive"
    report = _scan(banked, data, "doc.pdf")
    assert [m.item.source for m in report.members] == ["doc.pdf!page1-img1.jpg",
                                                          "doc.pdf!page2-img1.jpg"]
    assert [m.action for m in report.members] == ["allow", "block"]
    assert report.action == "block"


def test_pdf_flate_images_are_decoded_to_png_members(tmp_path: Path) -> None:
    from pypdf import PdfWriter
    from pypdf.generic import ArrayObject, DecodedStreamObject, DictionaryObject, NameObject, NumberObject

    writer = PdfWriter()
    page = writer.add_blank_page(200, 200)
    image = DecodedStreamObject()
    image.set_data(PHOTO.tobytes())
    image.update({NameObject("/Type"): NameObject("/XObject"),
                  NameObject("/Subtype"): NameObject("/Image"),
                  NameObject("/Width"): NumberObject(256), NameObject("/Height"): NumberObject(192),
                  NameObject("/ColorSpace"): NameObject("/DeviceRGB"),
                  NameObject("/BitsPerComponent"): NumberObject(8)})
    image = image.flate_encode()
    ref = writer._add_object(image)
    page[NameObject("/Resources")] = DictionaryObject({NameObject("/XObject"): DictionaryObject(
        {NameObject("/Im1"): ref, NameObject("/Im2"): ref})})
    page[NameObject("/Contents")] = writer._add_object(DecodedStreamObject())
    del ArrayObject
    buf = io.BytesIO()
    writer.write(buf)
    report = _scan(ScanConfig(home=tmp_path, signals=("hashes",)), buf.getvalue(), "doc.pdf")
    assert [m.item.source for m in report.members] == ["doc.pdf!page1-img1.png"]
    member = report.members[0]
    assert member.item.format == "png" and (member.item.width, member.item.height) == (256, 192)
    skipped = report.item.archive["skipped"]
    assert skipped == [{"name": "page1-img2.png",
                        "reason": "the same image as page1-img1.png: screened once"}]


def test_a_zip_bomb_is_refused_from_its_declared_ratio(tmp_path: Path) -> None:
    bomb = zip_bytes({"zeros.bin": b"\x00" * (20 << 20)})
    assert len(bomb) < 100_000
    report = _scan(ScanConfig(home=tmp_path, signals=()), bomb, "bomb.zip")
    assert report.action == "quarantine"
    assert report.error["code"] == "archive-bomb" and "zip bomb" in report.error["message"]
    assert report.members == ()
    assert report.verdict.reasons[0].rule == "unscannable"


def test_an_overlapping_entry_zip_bomb_is_refused(tmp_path: Path) -> None:
    report = _scan(ScanConfig(home=tmp_path, signals=()), overlapping_zip_bomb(200), "o.zip")
    assert report.error["code"] == "archive-bomb" and "overlap" in report.error["message"]
    assert report.action == "quarantine" and report.members == ()


def test_a_gzip_bomb_is_refused_while_decompressing(tmp_path: Path) -> None:
    bomb = gzip.compress(b"\x00" * (50 << 20))
    report = _scan(ScanConfig(home=tmp_path, signals=()), bomb, "z.gz")
    assert report.action == "quarantine"
    codes = [report.error and report.error["code"]] + [m.error and m.error["code"] for m in report.members]
    assert "archive-bomb" in codes
    assert any("decompression bomb" in r.reason for r in report.verdict.reasons)


def test_a_quine_is_refused_by_its_digest() -> None:
    data = zip_bytes({"a.png": image_bytes("PNG")})
    item = open_media(data)
    item.nesting = Nesting(ArchiveTree.root(item.limits), depth=1, path=("r.zip",),
                           ancestors=(item.sha256,))
    decode(item)
    assert item.decode_error is not None and item.decode_error.code == "archive-bomb"
    assert "contains itself" in str(item.decode_error)


def test_nesting_past_the_depth_limit_is_unscannable_with_the_reason(tmp_path: Path) -> None:
    data = image_bytes("PNG")
    for level in range(4):
        data = zip_bytes({f"l{level}.zip" if level else "x.png": data})
    report = _scan(ScanConfig(home=tmp_path, signals=(), limits=Limits(archive_max_depth=2)),
                   data, "deep.zip")
    assert report.action == "quarantine"
    deepest = list(report.walk())[-1]
    assert deepest.error["code"] == "archive-too-deep"
    assert "archive_max_depth" in report.verdict.reasons[0].reason


def test_member_count_limit_refuses_before_reading_the_directory(tmp_path: Path) -> None:
    data = zip_bytes({f"{i}.png": b"x" for i in range(30)})
    report = _scan(ScanConfig(home=tmp_path, signals=(), limits=Limits(archive_max_members=10)),
                   data, "many.zip")
    assert report.error["code"] == "archive-too-many-members"
    assert "archive_max_members" in report.error["message"] and report.members == ()


def test_total_size_limit_holds_over_the_whole_tree(tmp_path: Path) -> None:
    png = image_bytes("PNG", 256, 256)
    inner = zip_bytes({"a.png": png, "b.png": png}, zipfile.ZIP_STORED)
    data = zip_bytes({"one.zip": inner, "two.zip": inner}, zipfile.ZIP_STORED)
    limit = len(inner) * 2 + len(png) * 2  # room for the inner zips and half their members
    report = _scan(ScanConfig(home=tmp_path, signals=(), limits=Limits(archive_max_total_bytes=limit)),
                   data, "big.zip")
    assert report.action == "quarantine"
    assert report.error["code"] == "archive-too-large"
    assert "archive_max_total_bytes" in report.error["message"]


def test_links_and_devices_are_listed_not_followed(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        png = image_bytes("PNG")
        info = tarfile.TarInfo("ok.png")
        info.size = len(png)
        t.addfile(info, io.BytesIO(png))
        for name, kind in (("passwd", tarfile.SYMTYPE), ("hard", tarfile.LNKTYPE),
                           ("tty", tarfile.CHRTYPE), ("pipe", tarfile.FIFOTYPE)):
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = "/etc/passwd" if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE) else ""
            t.addfile(info)
    report = _scan(ScanConfig(home=tmp_path, signals=()), buf.getvalue(), "links.tar")
    assert [m.item.source for m in report.members] == ["links.tar!ok.png"]
    reasons = {s["name"]: s["reason"] for s in report.item.archive["skipped"]}
    assert "never followed" in reasons["passwd"] and "never followed" in reasons["hard"]
    assert "device" in reasons["tty"] and "FIFO" in reasons["pipe"]
    assert "archive-links" in report.labels and report.action == "allow"


def test_zip_symlinks_are_not_followed(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        link = zipfile.ZipInfo("link.jpg")
        link.create_system = 3
        link.external_attr = (0o120777 << 16)
        z.writestr(link, "/etc/passwd")
    report = _scan(ScanConfig(home=tmp_path, signals=()), buf.getvalue(), "l.zip")
    assert report.members == ()
    assert report.item.archive["skipped"][0]["name"] == "link.jpg"


def test_traversal_names_are_labels_only_and_nothing_is_written(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    data = zip_bytes({"../../evil.png": image_bytes("PNG"), "/abs/x.png": image_bytes("PNG", seed=2)})
    report = _scan(ScanConfig(home=tmp_path / "home", signals=()), data, "t.zip")
    assert [m.item.source for m in report.members] == ["t.zip!../../evil.png", "t.zip!/abs/x.png"]
    assert "archive-unsafe-names" in report.labels
    assert report.item.archive["unsafe_names"] == ["../../evil.png", "/abs/x.png"]
    assert list(work.iterdir()) == [] and not (tmp_path / "evil.png").exists()


def _encrypt_flag(data: bytes) -> bytes:
    """Set the 'encrypted' flag on every local and central header (the member data is left
    as it is: the flag alone is what a reader goes by)."""
    out = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = out.find(signature)
        while at >= 0:
            out[at + offset] |= 0x01
            at = out.find(signature, at + 4)
    return bytes(out)


def test_encrypted_members_are_reported_and_quarantined(tmp_path: Path) -> None:
    data = _encrypt_flag(zip_bytes({"secret.jpg": image_bytes("JPEG")}))
    report = _scan(ScanConfig(home=tmp_path, signals=()), data, "e.zip")
    assert report.members[0].error["code"] == "encrypted"
    assert "archive-encrypted" in report.labels
    assert report.action == "quarantine"


def test_archive_listing_is_the_layout_contract() -> None:
    data = zip_bytes({"workspace/data_src/aligned/0001.jpg": image_bytes("JPEG"),
                      "workspace/model/": b"", "workspace/model/SAEHD_data.dat": b"\x00" * 10})
    item = decode(open_media(data))
    assert item.kind == "archive"
    assert item.archive_listing == ["workspace/data_src/aligned/0001.jpg", "workspace/model/",
                                    "workspace/model/SAEHD_data.dat"]


def test_unsupported_types_have_their_own_reason_and_policy_switch(tmp_path: Path) -> None:
    config = ScanConfig(home=tmp_path, signals=())
    text = b"just some notes, not media\n" * 10
    report = _scan(config, text, "notes.txt")
    assert report.action == "quarantine"
    assert report.verdict.reasons[0].rule == "unsupported"
    assert report.verdict.reasons[0].reason.startswith("unsupported type")
    assert "unsupported" in report.labels
    lenient = Policy.from_mapping({"unsupported": "allow", "rules": []})
    assert _scan(config, text, "notes.txt", lenient).action == "allow"
    broken = _scan(config, b"\xff\xd8\xff" + b"\x00" * 100, "broken.jpg", lenient)
    assert broken.action == "quarantine" and broken.verdict.reasons[0].rule == "unscannable"
    assert "unsupported" not in broken.labels


def test_an_archive_of_clean_media_is_allowed_and_its_text_member_follows_the_policy(
        tmp_path: Path) -> None:
    data = zip_bytes({"a.png": image_bytes("PNG"), "readme.txt": b"hello"})
    config = ScanConfig(home=tmp_path, signals=())
    assert _scan(config, data, "a.zip").action == "quarantine"  # default: unknown held
    lenient = Policy.from_mapping({"unsupported": "allow", "rules": []})
    assert _scan(config, data, "a.zip", lenient).action == "allow"


def test_cli_scans_archive_members(tmp_path: Path) -> None:
    import subprocess
    import sys

    archive = tmp_path / "pack.zip"
    archive.write_bytes(zip_bytes({"a.png": image_bytes("PNG"), "b.jpg": image_bytes("JPEG")}))
    env = {**os.environ, "DEEPSCREEN_HOME": str(tmp_path / "home")}
    result = subprocess.run([sys.executable, "-m", "deepscreen", "scan", str(archive), "--json",
                             "--signals", "hashes"], capture_output=True, env=env, check=False)
    assert result.returncode == 0, result.stderr.decode()
    report = json.loads(result.stdout)
    assert [m["item"]["source"] for m in report["members"]] == [f"{archive}!a.png", f"{archive}!b.jpg"]


def test_a_tar_header_declaring_a_huge_name_is_refused_not_allocated(tmp_path: Path) -> None:
    header = tarfile.TarInfo("././@LongLink")
    header.type = tarfile.GNUTYPE_LONGNAME
    header.size = 200 << 20  # a 200 MiB "file name" that tarfile would read in one piece
    bomb = gzip.compress(header.tobuf(format=tarfile.GNU_FORMAT) + b"x" * 4096)
    report = _scan(ScanConfig(home=tmp_path, signals=()), bomb, "n.tar.gz")
    assert report.action == "quarantine"
    assert report.error["code"] == "archive-bomb" and "in one piece" in report.error["message"]


def test_a_central_directory_larger_than_the_count_says_is_refused(tmp_path: Path) -> None:
    data = bytearray(zip_bytes({f"{i:04d}" + "n" * 1000: b"" for i in range(60)}))
    end = data.rfind(b"PK\x05\x06")
    data[end + 8:end + 12] = struct.pack("<HH", 1, 1)  # the end record claims one entry
    report = _scan(ScanConfig(home=tmp_path, signals=(), limits=Limits(archive_max_members=10)),
                   bytes(data), "liar.zip")
    assert report.error["code"] == "archive-too-many-members"
    assert "central directory" in report.error["message"]


def test_pdf_trailing_junk_is_cut_at_the_last_eof_marker(tmp_path: Path) -> None:
    # Found by bench/fuzz.py (pdf #189: 4 MB appended): pypdf walked the junk backwards line
    # by line for seconds. Cut at the last %%EOF, the document reads as it is.
    data = pdf_bytes([texture(64, 48, seed=2)])
    config = ScanConfig(home=tmp_path, signals=())
    padded = _scan(config, data + b"A" * (2 << 20), "junk.pdf")
    assert [m.item.source for m in padded.members] == ["junk.pdf!page1-img1.jpg"]
    cut = _scan(config, data[:data.rindex(b"%%EOF")], "cut.pdf")
    assert cut.error["code"] == "decode-failed" and "%%EOF" in cut.error["message"]


def test_html_report_and_table_show_every_member(tmp_path: Path) -> None:
    from deepscreen.html_report import render_html_report

    data = zip_bytes({"a.png": image_bytes("PNG"), "inner.zip": zip_bytes({"b.png": image_bytes("PNG")})})
    report = _scan(ScanConfig(home=tmp_path, signals=()), data, "pack.zip")
    html = render_html_report([report])
    for source in ("pack.zip", "pack.zip!a.png", "pack.zip!inner.zip", "pack.zip!inner.zip!b.png"):
        assert f">{source}<" in html or f"{source}</h2>" in html
    assert "2 screened of 2 entries" in html
