"""The figure font: extracted once from the noto-cjk-sans-otc package into a per-user cache, checked
before reuse, written atomically, and registered ahead of any same-named system font."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

import pytest
from matplotlib import font_manager, ft2font

from csi_research.core import fonts


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty per-user cache (and temporary folder) for this test only."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    return tmp_path / "cache" / "csi_research" / "fonts"


def leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".tmp")]


def test_the_font_package_is_ofl_licensed():
    meta = metadata.metadata(fonts.PACKAGE)
    assert meta["License-Expression"] == "OFL-1.1"


def test_extracts_one_face_once_and_reuses_it(cache):
    path = fonts.font_file()
    assert path.parent.parent == cache
    assert fonts.is_complete(path)
    assert path.read_bytes()[:4] == b"OTTO"  # a single OpenType face, not a collection ("ttcf")
    font = ft2font.FT2Font(str(path))
    assert (font.family_name, font.num_faces) == (fonts.FAMILY, 1)
    # the glyphs the figures need, Chinese and symbols alike
    assert all(font.get_char_index(ord(c)) for c in "客户满意度指数目标R²−≥✓–×")
    before = path.stat()
    assert fonts.font_file() == path
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # not rewritten
    assert leftovers(cache) == []


def test_extraction_is_deterministic(cache, tmp_path):
    first = fonts.font_file().read_bytes()
    fonts.font_file().unlink()
    assert fonts.font_file().read_bytes() == first


@pytest.mark.parametrize("damage", [
    lambda data: data[: len(data) // 2],  # truncated (an interrupted copy, a full disk)
    lambda data: data[:100],              # header only
    lambda data: b"",                     # empty
    lambda data: b"not a font" * 100,     # something else
])
def test_damaged_cache_file_is_extracted_again(cache, damage):
    path = fonts.font_file()
    good = path.read_bytes()
    path.write_bytes(damage(good))
    assert not fonts.is_complete(path)
    assert fonts.font_file() == path
    assert path.read_bytes() == good
    assert leftovers(cache) == []


def test_concurrent_processes_share_one_complete_file(cache):
    code = "from csi_research.core import fonts; print(fonts.font_file())"
    env = {**os.environ, "XDG_CACHE_HOME": str(cache.parent.parent)}
    runs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
            for _ in range(3)]
    paths = {run.communicate(timeout=120)[0].strip() for run in runs}
    assert [run.returncode for run in runs] == [0, 0, 0]
    (path,) = paths
    assert Path(path).parent.parent == cache
    assert fonts.is_complete(Path(path))
    assert leftovers(cache) == []


def test_unwritable_cache_falls_back_to_the_temporary_folder(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would go")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    path = fonts.font_file()
    assert path.is_relative_to(tmp_path / "tmp")
    assert fonts.is_complete(path)


def test_cache_folder_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert fonts.cache_dir() == tmp_path / "csi_research" / "fonts"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # the XDG spec says: ignore it
    assert fonts.cache_dir() == Path.home() / ".cache" / "csi_research" / "fonts"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert fonts.cache_dir() == Path.home() / ".cache" / "csi_research" / "fonts"


def test_matplotlib_uses_the_package_font():
    from csi_research.render import plots  # registers at import

    assert plots.FONT_FAMILY[0] == fonts.FAMILY
    found = Path(font_manager.findfont(font_manager.FontProperties(family=fonts.FAMILY),
                                       fallback_to_default=False))
    assert found == fonts.font_file()
    assert found.is_relative_to(fonts.cache_dir()) or found.is_relative_to(tempfile.gettempdir())


def test_a_same_named_system_font_does_not_win():
    """A system Noto Sans CJK SC (here: the package's own collection, registered first as a system
    font would be) must not be chosen over the registered single-face file."""
    ours = str(fonts.font_file())
    manager = copy.copy(font_manager.fontManager)
    manager.ttflist = [entry for entry in font_manager.fontManager.ttflist if entry.fname != ours]
    import noto_cjk_sans_otc

    manager.addfont(str(noto_cjk_sans_otc.FONT_PATH))
    assert any(e.name == fonts.FAMILY and e.fname != ours for e in manager.ttflist)
    assert fonts.register(manager) == fonts.FAMILY
    found = manager.findfont(font_manager.FontProperties(family=fonts.FAMILY), fallback_to_default=False)
    assert str(found) == ours
    registered = sum(entry.fname == ours for entry in manager.ttflist)
    assert fonts.register(manager) == fonts.FAMILY  # idempotent: registered once
    assert sum(entry.fname == ours for entry in manager.ttflist) == registered
