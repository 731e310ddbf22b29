"""Bank storage, ThreatExchange CSV, and the matcher's on-disk index cache."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from deepscreen.banks import BankMatcher, BankStore, ItemHashes, NewEntry, PdqHash, default_url
from deepscreen.banks.csvio import read_entries, write_entries
from deepscreen.errors import BankError

PDQ = "d8" * 32
SHA = "ab" * 32
MD5 = "cd" * 16


@pytest.fixture
def store(tmp_path: Path) -> Iterator[BankStore]:
    s = BankStore(default_url(tmp_path))
    yield s
    s.close()


def _item(pdq: str | None = None, sha256: str = "00" * 32, md5: str = "00" * 16,
          quality: int = 100) -> ItemHashes:
    return ItemHashes("image", sha256, md5, pdq=PdqHash(pdq, quality) if pdq else None,
                      dihedral=(pdq,) if pdq else ())


def test_create_list_and_defaults(store: BankStore) -> None:
    bank = store.create_bank("ncii", description="victim reports")
    assert (bank.label, bank.pdq_threshold, bank.video_query_percent) == ("bank:ncii", 31, 80.0)
    store.create_bank("partner", pdq_threshold=20, label="partner-csam")
    assert [b.name for b in store.list_banks()] == ["ncii", "partner"]
    assert store.get_bank("partner").label == "partner-csam"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"name": "Bad Name"}, "bad bank name"),
    ({"name": "x", "pdq_threshold": 300}, "outside 0..128"),
    ({"name": "x", "video_query_percent": 120}, "outside 0..100"),
])
def test_bad_bank_settings_are_refused(store: BankStore, kwargs, message) -> None:
    with pytest.raises(BankError, match=message):
        store.create_bank(**kwargs)


def test_duplicate_and_unknown_banks(store: BankStore) -> None:
    store.create_bank("ncii")
    with pytest.raises(BankError, match="already exists"):
        store.create_bank("ncii")
    with pytest.raises(BankError, match=r"unknown bank 'nope'.*ncii"):
        store.add_entries("nope", [])


def test_entries_generation_and_removal(store: BankStore) -> None:
    store.create_bank("ncii")
    assert store.add_entries("ncii", [NewEntry("pdq", PDQ.upper(), {"case_id": "7"}),
                                      NewEntry("sha256", SHA)]) == 2
    entries = list(store.entries("ncii"))
    assert [(e.signal_type, e.value) for e in entries] == [("pdq", PDQ), ("sha256", SHA)]
    assert entries[0].metadata == {"case_id": "7"}
    assert store.get_bank("ncii").generation == 1
    store.remove_entry("ncii", entries[0].id)
    assert store.get_bank("ncii").generation == 2
    assert store.get_bank("ncii").entry_count == 1
    with pytest.raises(BankError, match="no entry"):
        store.remove_entry("ncii", entries[0].id)
    store.remove_bank("ncii")
    assert store.list_banks() == []


def test_a_bad_entry_adds_nothing(store: BankStore) -> None:
    store.create_bank("ncii")
    with pytest.raises(BankError, match="malformed pdq"):
        store.add_entries("ncii", [NewEntry("sha256", SHA), NewEntry("pdq", "123")])
    assert store.get_bank("ncii").entry_count == 0


def test_bad_database_url_is_a_clear_error() -> None:
    with pytest.raises(BankError, match="bad bank database URL"):
        BankStore("not a url")


def test_matcher_finds_exact_and_pdq_and_sees_changes(store: BankStore, tmp_path: Path) -> None:
    store.create_bank("ncii")
    store.create_bank("strict", pdq_threshold=4)
    store.add_entries("ncii", [NewEntry("pdq", PDQ, {"source": "report"}),
                               NewEntry("md5", MD5)])
    store.add_entries("strict", [NewEntry("pdq", PDQ)])
    matcher = BankMatcher(store, tmp_path)
    near = f"{int(PDQ, 16) ^ 0b111111:064x}"  # 6 bits away: within 31, outside 4
    matches = matcher.match(_item(near, md5=MD5))
    assert [(m.bank, m.signal_type, m.distance) for m in matches] == [
        ("ncii", "md5", 0), ("ncii", "pdq", 6)]
    assert matches[1].metadata == {"source": "report"}
    assert matches[1].variant == "original"
    # The cache folder sits next to the database and follows the generation.
    cache = tmp_path / "banks.sqlite.index"
    assert len(list(cache.glob("ncii-*-g1"))) == 1
    store.add_entries("strict", [NewEntry("pdq", near)])
    assert {m.bank for m in matcher.match(_item(near))} == {"ncii", "strict"}
    assert list(cache.glob("strict-*-g1")) == [] and len(list(cache.glob("strict-*-g2"))) == 1
    # A fresh matcher (a new CLI run) loads from the cache and answers the same.
    again = BankMatcher(store, tmp_path).match(_item(near, md5=MD5))
    assert [(m.bank, m.entry_id) for m in again] == [(m.bank, m.entry_id) for m in
                                                     matcher.match(_item(near, md5=MD5))]
    # A removed bank stops matching and its cache folder goes.
    store.remove_bank("strict")
    assert {m.bank for m in matcher.match(_item(near))} == {"ncii"}
    assert list(cache.glob("strict-*")) == []


def test_low_quality_pdq_never_matches(store: BankStore, tmp_path: Path) -> None:
    store.create_bank("ncii")
    store.add_entries("ncii", [NewEntry("pdq", PDQ)])
    assert BankMatcher(store, tmp_path).match(_item(PDQ, quality=20)) == []


def test_csv_round_trip_in_threatexchange_form(store: BankStore) -> None:
    store.create_bank("ncii")
    vpdq = f'["{PDQ},100,0.000","{PDQ[::-1]},90,1.000"]'
    store.add_entries("ncii", [NewEntry("pdq", PDQ, {"tags": ["a", "b"]}),
                               NewEntry("md5", MD5, {"content_type": "video"}),
                               NewEntry("vpdq", vpdq), NewEntry("sha256", SHA)])
    out = io.StringIO()
    assert write_entries(out, store.entries("ncii"), "ncii") == 4
    lines = out.getvalue().splitlines()
    assert lines[0] == "collab,signal_type,signal_str,category,tags,metadata"
    assert lines[1].startswith(f"ncii,pdq,{PDQ},POSITIVE_CLASS,a b,")
    assert lines[2].startswith(f"ncii,video_md5,{MD5},")
    back = list(read_entries(io.StringIO(out.getvalue())))
    assert [(e.signal_type, e.value) for e in back] == [
        ("pdq", PDQ), ("md5", MD5), ("vpdq", vpdq), ("sha256", SHA)]
    assert back[0].metadata["tags"] == ["a", "b"] and back[0].metadata["collab"] == "ncii"


def test_csv_import_accepts_headerless_and_local_file_lines() -> None:
    text = f"# comment\npdq,{PDQ}\nvideo_md5,{MD5},\"{{\"\"case\"\": 1}}\"\n\nsha256 {SHA}\n"
    entries = list(read_entries(io.StringIO(text)))
    assert [(e.signal_type, e.value, e.metadata) for e in entries] == [
        ("pdq", PDQ, {"content_type": "photo"}),
        ("md5", MD5, {"case": 1, "content_type": "video"}),
        ("sha256", SHA, {}),
    ]


@pytest.mark.parametrize(("text", "message"), [
    ("tmk,abc\n", "x.csv:1: unknown signal type 'tmk'"),
    (f"pdq,{PDQ}\npdq,xyz\n", "x.csv:2: malformed pdq"),
    (f"pdq,{PDQ},[1]\n", "metadata must be a JSON object"),
    (f"pdq,{PDQ},{{bad\n", "metadata is not JSON"),
    ("a,b,c,d\n", "expected signal_type,signal_str"),
    ("signal_type,value\n", "no signal_str"),
])
def test_malformed_csv_rows_name_file_and_line(text: str, message: str) -> None:
    with pytest.raises(BankError, match=message):
        list(read_entries(io.StringIO(text), "x.csv"))
