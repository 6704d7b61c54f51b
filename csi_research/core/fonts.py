"""The font of every figure: Noto Sans CJK SC from the ``noto-cjk-sans-otc`` package (SIL OFL-1.1).

The package ships Noto Sans CJK as an OpenType *collection* (one .ttc file, ten faces). Matplotlib
before 3.11 sees only a collection's first face (Japanese), and collections of CFF outlines like
this one can break PDF and PostScript output (matplotlib issue #20870), so the Simplified-Chinese
face is extracted once into a per-user cache as a single-face OpenType file and registered with
matplotlib's font manager. No system font is consulted, so
figures look the same on every machine. The face covers Latin, digits and the symbols the
figures use (R², −, ≥, ✓), so it serves English figures as well.

Cache: ``$XDG_CACHE_HOME/csi_research/fonts`` (default ``~/.cache/csi_research/fonts``), else a
per-user folder in the temporary directory when the cache cannot be written. A cached file is
reused only after checking that it is complete; it is written to a temporary name and moved into
place with :func:`os.replace`, so processes extracting at the same time never see a partial file.
"""

from __future__ import annotations

import functools
import importlib
import os
import struct
import tempfile
import threading
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from csi_research.core.errors import CSIError

FAMILY = "Noto Sans CJK SC"
PACKAGE = "noto-cjk-sans-otc"
LICENSE = "SIL Open Font License 1.1 (OFL-1.1)"
FILE_NAME = "NotoSansCJKsc-Regular.otf"
_SOURCE_MODULE = "noto_cjk_sans_otc"
# sfnt tables every usable outline font has; the outlines are in "CFF " (OpenType) or "glyf"
_REQUIRED_TABLES = frozenset({b"cmap", b"head", b"hhea", b"hmtx", b"maxp", b"name", b"OS/2", b"post"})
_lock = threading.Lock()  # one extraction / registration at a time within a process


def cache_dir() -> Path:
    """The per-user font cache: ``$XDG_CACHE_HOME/csi_research/fonts`` or ``~/.cache/csi_research/fonts``."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"  # XDG: relative = unset
    return base / "csi_research" / "fonts"


def _temp_dir() -> Path:
    user = os.getuid() if hasattr(os, "getuid") else "user"  # Windows' temp folder is per-user already
    return Path(tempfile.gettempdir()) / f"csi_research-{user}" / "fonts"


@functools.cache
def _version() -> str:
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:  # vendored without metadata: one cache entry for all
        return "unversioned"


def is_complete(path: Path) -> bool:
    """True when ``path`` is a single-face sfnt font whose tables all lie inside the file.

    Reads only the table directory (a few hundred bytes): a truncated or half-written file has
    tables running past its end, an empty or foreign file has no valid header.
    """
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            header = fh.read(12)
            if len(header) < 12 or header[:4] not in (b"OTTO", b"\x00\x01\x00\x00"):
                return False
            (count,) = struct.unpack(">H", header[4:6])
            directory = fh.read(16 * count)
    except OSError:
        return False
    if count == 0 or len(directory) < 16 * count:
        return False
    tags, end = set(), 0
    for k in range(count):
        tag, _checksum, offset, length = struct.unpack(">4sIII", directory[16 * k : 16 * k + 16])
        tags.add(tag)
        end = max(end, offset + length)
    return _REQUIRED_TABLES <= tags and bool(tags & {b"CFF ", b"glyf"}) and end <= size


def _family_name(font: Any) -> str | None:
    return font["name"].getDebugName(1)


def _extract(source: Path, target: Path) -> None:
    """Write the FAMILY face of the collection ``source`` to ``target`` atomically."""
    from fontTools.ttLib import TTCollection  # a matplotlib dependency; imported only when extracting

    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if hasattr(os, "getuid") and target.parent.stat().st_uid != os.getuid():
        raise PermissionError(f"{target.parent} belongs to another user")  # e.g. planted in a shared /tmp
    # recalcTimestamp=False keeps the source's head.modified: the same input gives the same bytes
    collection = TTCollection(str(source), recalcTimestamp=False)
    try:
        face = next((f for f in collection.fonts if _family_name(f) == FAMILY), None)
        if face is None:
            raise CSIError(f"{source} has no face named {FAMILY!r}: is {PACKAGE} the expected package?")
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                face.save(out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)  # atomic: a concurrent reader sees the old file or the whole new one
        finally:
            Path(tmp).unlink(missing_ok=True)
    finally:
        collection.close()


def _source() -> resources.abc.Traversable:
    try:
        module = importlib.import_module(_SOURCE_MODULE)
    except ImportError:
        raise CSIError(
            f"the font package {PACKAGE} is missing (a dependency of csi_research): pip install {PACKAGE}"
        ) from None
    return module.FONT_PATH


def font_file() -> Path:
    """The single-face font file, extracted into the cache when it is absent or incomplete."""
    name = Path(f"{PACKAGE}-{_version()}") / FILE_NAME
    failures = []
    for folder in (cache_dir(), _temp_dir()):
        path = folder / name
        if is_complete(path):
            return path
        try:
            with resources.as_file(_source()) as source:
                _extract(source, path)
        except OSError as exc:  # not writable: try the next folder
            failures.append(f"{folder}: {exc}")
            continue
        if is_complete(path):
            return path
        failures.append(f"{path}: incomplete after extraction")
    raise CSIError(
        "cannot write the figure font anywhere (" + "; ".join(failures) + "): set XDG_CACHE_HOME "
        "to a writable folder"
    )


def _registered(manager: Any, path: Path) -> bool:
    return any(entry.fname == str(path) for entry in manager.ttflist)


def _add_first(manager: Any, path: Path) -> None:
    """Register ``path`` ahead of every other font: among equally good matches matplotlib takes the
    first, so a system font of the same family name (another Noto CJK version) cannot win."""
    before = len(manager.ttflist)
    manager.addfont(str(path))  # clears matplotlib's lookup cache
    added = manager.ttflist[before:]
    del manager.ttflist[before:]
    if not any(entry.name == FAMILY for entry in added):
        raise CSIError(f"{path} is not the {FAMILY} font")
    manager.ttflist[0:0] = added


def register(manager: Any = None) -> str:
    """Make the font available to matplotlib (idempotent, cheap once done); returns its family name.

    ``manager`` defaults to matplotlib's global ``font_manager.fontManager``.
    """
    if manager is None:
        from matplotlib import font_manager

        manager = font_manager.fontManager
    with _lock:
        path = font_file()
        if _registered(manager, path):
            return FAMILY
        try:
            _add_first(manager, path)
        except (RuntimeError, OSError, ValueError):  # complete-looking but unreadable: extract afresh once
            path.unlink(missing_ok=True)
            path = font_file()
            _add_first(manager, path)
    return FAMILY


FALLBACK = "DejaVu Sans"  # ships with matplotlib: for any glyph the CJK face lacks


def apply(*axes: Any) -> None:
    """Set the figure font on every text of ``axes``, and on the tick labels drawn later."""
    family = [register(), FALLBACK]  # again, in case matplotlib rebuilt its font list since import
    for ax in axes:
        ax.tick_params(axis="both", which="both", labelfontfamily=family)
        for text in _texts(ax):
            text.set_fontfamily(family)


def _texts(artist: Any) -> list[Any]:
    """Every text under ``artist`` but the axes' tick labels, which ``tick_params`` sets (made ever
    after too): walking an axis's ticks, as ``findobj`` does, would make the ticks of its current
    limits, which an axes turned off never draws and any other makes again once laid out."""
    from matplotlib.axis import Axis
    from matplotlib.text import Text

    found, stack = [], [artist]
    while stack:
        node = stack.pop()
        if isinstance(node, Text):
            found.append(node)
        stack.extend([node.label, node.offsetText] if isinstance(node, Axis) else node.get_children())
    return found
