"""Output helpers: fresh run folders, atomic never-overwriting writes, deterministic JSON."""

from __future__ import annotations

import json
import os
import re
import tempfile
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from csi_research.core import output
from csi_research.core.output import dumps_json, frame_records, new_run_dir, new_run_id, write_atomic


def strict_loads(text: str):
    """json.loads that refuses NaN/Infinity tokens (which are not JSON)."""
    def refuse(token):
        raise AssertionError(f"non-JSON token {token} in output")
    return json.loads(text, parse_constant=refuse)


# ---------------------------------------------------------------- run folders
def test_run_id_is_a_sortable_timestamp_with_a_random_suffix():
    assert re.fullmatch(r"20261103-040506-000-[0-9a-f]{4}", new_run_id(datetime(2026, 11, 3, 4, 5, 6)))
    assert re.fullmatch(r"\d{8}-\d{6}-\d{3}-[0-9a-f]{4}", new_run_id())
    assert new_run_id(datetime(2026, 11, 3, 4, 5, 6)) < new_run_id(datetime(2026, 11, 3, 4, 5, 7))
    # later runs of the same second sort after earlier ones (resume reads the latest run by name)
    at = [datetime(2026, 11, 3, 4, 5, 6, 9000), datetime(2026, 11, 3, 4, 5, 6, 10000),
          datetime(2026, 11, 3, 4, 5, 6, 998000), datetime(2026, 11, 3, 4, 5, 7, 1000)]
    ids = [new_run_id(t) for t in at]
    assert ids == sorted(ids)
    assert len({new_run_id() for _ in range(20)}) == 20  # same second, different ids


def test_same_run_id_twice_gives_two_folders(tmp_path):
    parent = tmp_path / "study" / "output"  # created on demand
    first = new_run_dir(parent, "20260101-000000")
    (first / "results.json").write_text("{}", encoding="utf-8")
    second = new_run_dir(parent, "20260101-000000")
    third = new_run_dir(parent, "20260101-000000")
    assert [p.name for p in (first, second, third)] == ["20260101-000000", "20260101-000000-2",
                                                        "20260101-000000-3"]
    assert all(p.is_dir() and p.parent == parent for p in (first, second, third))
    assert list(second.iterdir()) == [] and list(third.iterdir()) == []
    assert (first / "results.json").read_text(encoding="utf-8") == "{}"  # earlier run untouched


def test_default_run_id_is_a_timestamp(tmp_path):
    assert re.fullmatch(r"\d{8}-\d{6}-\d{3}-[0-9a-f]{4}(-\d+)?", new_run_dir(tmp_path).name)


def test_concurrent_calls_never_share_a_folder(tmp_path):
    with ThreadPoolExecutor(max_workers=8) as pool:
        folders = list(pool.map(lambda _: new_run_dir(tmp_path, "same"), range(24)))
    assert len(set(folders)) == 24
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in folders)


@pytest.mark.parametrize("run_id", ["../escape", "a/b", ".."])
def test_run_id_must_be_a_plain_name(tmp_path, run_id):
    with pytest.raises(ValueError, match="plain folder name"):
        new_run_dir(tmp_path / "out", run_id)
    assert not (tmp_path / "escape").exists()


# ---------------------------------------------------------------- atomic writes
def test_write_text_as_utf8_and_bytes_as_given(tmp_path):
    text = write_atomic(tmp_path / "deep" / "er" / "report.md", "满意度 CSI 78.4\n")
    raw = write_atomic(tmp_path / "blob.bin", b"\x00\xff\x10")
    assert text.read_bytes() == "满意度 CSI 78.4\n".encode()
    assert raw.read_bytes() == b"\x00\xff\x10"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blob.bin", "deep"]
    assert [p.name for p in text.parent.iterdir()] == ["report.md"]  # no temporary file left


def test_write_refuses_to_overwrite_and_keeps_the_old_file(tmp_path):
    target = write_atomic(tmp_path / "results.json", "first")
    with pytest.raises(FileExistsError, match="never overwritten"):
        write_atomic(target, "second")
    assert target.read_text(encoding="utf-8") == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_bad_content_leaves_nothing_behind(tmp_path):
    with pytest.raises(TypeError, match="str or bytes"):
        write_atomic(tmp_path / "x.csv", None)
    assert list(tmp_path.iterdir()) == []


def test_failure_while_writing_leaves_no_temp_file(tmp_path, monkeypatch):
    """A disk that fills up half-way: neither the target nor a partial temporary file may remain."""
    real_fdopen = os.fdopen

    class DiskFull:
        def __init__(self, handle):
            self.handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

        def write(self, data):
            self.handle.write(data[: len(data) // 2])
            raise OSError(28, "No space left on device")

        def __getattr__(self, name):
            return getattr(self.handle, name)

    monkeypatch.setattr(output.os, "fdopen", lambda fd, mode: DiskFull(real_fdopen(fd, mode)))
    with pytest.raises(OSError, match="No space left"):
        write_atomic(tmp_path / "x.csv", "a,b\n1,2\n" * 100)
    assert list(tmp_path.iterdir()) == []


def test_file_appearing_during_the_write_is_not_replaced(tmp_path, monkeypatch):
    """Another process creates the target after the existence check: it must win, not be clobbered."""
    target = tmp_path / "results.json"
    real_mkstemp = tempfile.mkstemp

    def racing_mkstemp(*args, **kwargs):
        handle = real_mkstemp(*args, **kwargs)
        target.write_text("the other writer", encoding="utf-8")
        return handle

    monkeypatch.setattr(output.tempfile, "mkstemp", racing_mkstemp)
    with pytest.raises(FileExistsError):
        write_atomic(target, "mine")
    assert target.read_text(encoding="utf-8") == "the other writer"
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_without_hard_links_the_file_is_still_written(tmp_path, monkeypatch):
    def no_links(src, dst):
        raise PermissionError(1, "Operation not permitted")
    monkeypatch.setattr(output.os, "link", no_links)
    target = write_atomic(tmp_path / "a.txt", "ok")
    assert target.read_text(encoding="utf-8") == "ok"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]
    with pytest.raises(FileExistsError):
        write_atomic(target, "again")
    assert target.read_text(encoding="utf-8") == "ok"


def test_concurrent_writers_to_one_path_exactly_one_wins(tmp_path):
    target = tmp_path / "results.json"

    def attempt(k: int) -> bool:
        try:
            write_atomic(target, f"writer {k}")
        except FileExistsError:
            return False
        return True

    with ThreadPoolExecutor(max_workers=8) as pool:
        wins = list(pool.map(attempt, range(16)))
    assert sum(wins) == 1
    assert target.read_text(encoding="utf-8") == f"writer {wins.index(True)}"
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


# ---------------------------------------------------------------- JSON
def test_json_is_deterministic_and_sorted_at_every_level():
    a = {"b": 1, "a": {"z": [3, {"y": 1, "x": 2}], "c": 2.5}}
    b = {"a": {"c": 2.5, "z": [3, {"x": 2, "y": 1}]}, "b": 1}
    text = dumps_json(a)
    assert text == dumps_json(b)
    assert text.endswith("\n")
    assert text.index('"a"') < text.index('"b"')
    assert text.index('"c"') < text.index('"z"')
    assert text.index('"x"') < text.index('"y"')
    assert strict_loads(text) == a


def test_nan_and_infinities_become_null():
    obj = {"nan": float("nan"), "np_nan": np.nan, "f32": np.float32("nan"), "inf": float("inf"),
           "ninf": -np.inf, "na": pd.NA, "nat": pd.NaT, "ok": 1.5, "list": [1.0, np.nan]}
    loaded = strict_loads(dumps_json(obj))
    assert loaded == {"nan": None, "np_nan": None, "f32": None, "inf": None, "ninf": None, "na": None,
                      "nat": None, "ok": 1.5, "list": [1.0, None]}


def test_chinese_text_is_kept_as_utf8():
    text = dumps_json({"region_zh": "北岭", "label": "总体满意度"})
    assert "北岭" in text and "总体满意度" in text
    assert "\\u" not in text
    assert "北岭".encode() in text.encode("utf-8")


def test_numpy_pandas_and_paths_are_converted():
    obj = {
        "int": np.int64(3), "float": np.float64(0.25), "bool": np.bool_(True),
        "array": np.array([[1, 2], [3, 4]]), "path": Path("data") / "a.csv", "tuple": (1, "x"),
        1: "int key",
    }
    loaded = strict_loads(dumps_json(obj))
    assert loaded == {"int": 3, "float": 0.25, "bool": True, "array": [[1, 2], [3, 4]],
                      "path": "data/a.csv", "tuple": [1, "x"], "1": "int key"}
    assert type(loaded["int"]) is int and type(loaded["bool"]) is bool


def test_frames_become_records_with_informative_index():
    frame = pd.DataFrame({"index": [71.5, np.nan], "n": pd.array([120, None], dtype="Int64")},
                         index=pd.Index(["Image", "Loyalty"], name="construct"))
    assert strict_loads(dumps_json({"t": frame})) == {"t": [
        {"construct": "Image", "index": 71.5, "n": 120},
        {"construct": "Loyalty", "index": None, "n": None},
    ]}
    plain = pd.DataFrame({"a": [1, 2]})
    assert frame_records(plain) == [{"a": 1}, {"a": 2}]  # a RangeIndex carries nothing
    series = pd.Series([0.5], index=pd.Index(["SAT1"], name="item"), name="loading")
    assert frame_records(series) == [{"item": "SAT1", "loading": 0.5}]


def test_same_object_gives_same_bytes_across_calls():
    rng = np.random.default_rng(3)
    obj = {"draws": pd.DataFrame(rng.normal(size=(5, 3)), columns=["c", "a", "b"]), "seed": 3}
    assert dumps_json(obj) == dumps_json(obj)
    assert list(strict_loads(dumps_json(obj))["draws"][0]) == ["a", "b", "c"]


def test_written_json_round_trips(tmp_path):
    path = write_atomic(tmp_path / "results.json", dumps_json({"region": "临溪", "csi": np.float64(77.25)}))
    assert json.loads(path.read_text(encoding="utf-8")) == {"region": "临溪", "csi": 77.25}
    assert os.path.getsize(path) == len(dumps_json({"region": "临溪", "csi": 77.25}).encode("utf-8"))


def test_files_written_together_are_flushed_before_any_is_placed(tmp_path, monkeypatch):
    """write_atomic_all: every file flushed to disk before the first appears; a failed flush places none."""
    synced: list[int] = []
    real_fsync = output.os.fsync

    def recording_fsync(fd):
        assert not any(p.suffix != ".tmp" for p in tmp_path.rglob("*") if p.is_file())  # nothing placed yet
        synced.append(fd)
        return real_fsync(fd)

    monkeypatch.setattr(output.os, "fsync", recording_fsync)
    files = {tmp_path / "a.csv": "a\n1\n", tmp_path / "sub" / "b.bin": b"\x00\x01", tmp_path / "c.json": "{}"}
    assert output.write_atomic_all(files) == list(files)
    assert len(synced) == 3
    assert [p.read_bytes() for p in files] == [b"a\n1\n", b"\x00\x01", b"{}"]
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()) == \
        ["a.csv", "c.json", "sub/b.bin"]

    def failing_fsync(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(output.os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="Input/output"):
        output.write_atomic_all({tmp_path / "d.csv": "d", tmp_path / "e.csv": "e"})
    assert not (tmp_path / "d.csv").exists() and not (tmp_path / "e.csv").exists()
    assert not list(tmp_path.rglob("*.tmp"))  # no temporary file left behind
