"""Writing results without ever losing an earlier one.

Every run gets a fresh folder (created exclusively, so two runs can never share one) and every
file is written to a temporary name first and renamed into place, so a crash leaves either the
whole file or nothing.

A run folder holds an ``INCOMPLETE`` marker from the moment it is created until its run has
ended (successfully or with its error written down): a batch that is interrupted, or killed
outright, leaves the marker behind, and readers of results (:func:`csi_research.study.bundle.read_bundle`)
refuse anything under it. The marker is a log: one line per event (reserved, interrupted...),
each with its time, appended and never rewritten.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import socket
import tempfile
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

INCOMPLETE = "INCOMPLETE"


def new_run_id(now: datetime | None = None) -> str:
    """A run id sortable by time and unique across processes, e.g. ``20261123-142501-123-3fa9``.

    The millisecond it was made, then 4 random hex digits: later runs sort after earlier ones
    (``--resume`` reads a study's latest run by name), and two batches started in the same
    millisecond (in one process or two) still draw different ids; :func:`reserve_run_dirs`
    makes sure.
    """
    now = now or datetime.now()
    return f"{now.strftime('%Y%m%d-%H%M%S')}-{now.microsecond // 1000:03d}-{secrets.token_hex(2)}"


def claim_run_dir(parent: str | Path, run_id: str, note: str = "") -> Path:
    """Create exactly ``parent/<run_id>`` with an ``INCOMPLETE`` marker in it and return it.

    Unlike :func:`new_run_dir` there is no ``-2`` fallback: an existing folder raises
    ``FileExistsError`` (another run holds that id), so one run never splits across names. Any
    other ``OSError`` (read-only folder, a file in the way) propagates; nothing is left behind.
    """
    _check_run_id(run_id)
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    folder = parent / run_id
    folder.mkdir()  # exclusive: FileExistsError when the id is taken here
    try:
        mark_incomplete(folder, note or f"run {run_id} started by process {os.getpid()} on "
                                        f"{socket.gethostname()}; unfinished until this file is removed")
    except BaseException:
        folder.rmdir()  # our own empty folder: leave no unmarked run folder behind
        raise
    return folder


def reserve_run_dirs(
    parents: Sequence[str | Path], note: str = "", attempts: int = 100
) -> tuple[str, list[Path | OSError]]:
    """One fresh run id and a folder ``parent/<id>`` (see :func:`claim_run_dir`) in every parent.

    If any of the folders exists already, the id is taken: the folders made so far (ours, empty
    but for the marker) are removed and a new id is drawn, so a batch's folders always share one
    id that no other batch has. A parent that cannot hold a folder (permission denied, a file in
    the way) gets its ``OSError`` in place of a path: only that folder is lost, not the others.
    """
    for _ in range(attempts):
        run_id = new_run_id()
        made: list[Path | OSError] = []
        for parent in parents:
            try:
                made.append(claim_run_dir(parent, run_id, note))
            except FileExistsError as exc:
                if Path(parent).is_dir():  # the id is taken: give it back whole and draw another
                    _release([p for p in made if isinstance(p, Path)])
                    break
                made.append(exc)  # a file named like the parent folder is in the way
            except OSError as exc:
                made.append(exc)
        else:
            return run_id, made
    raise RuntimeError(f"no free run id after {attempts} attempts in {', '.join(map(str, parents))}")


def _release(folders: list[Path]) -> None:
    for folder in folders:
        (folder / INCOMPLETE).unlink(missing_ok=True)
        folder.rmdir()


def mark_incomplete(folder: str | Path, reason: str) -> Path:
    """Append ``<time>  <reason>`` to ``folder/INCOMPLETE`` (creating it): the run there is unfinished."""
    path = Path(folder) / INCOMPLETE
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(f"{datetime.now().isoformat(timespec='seconds')}  {reason}\n")
        handle.flush()
        os.fsync(handle.fileno())
    return path


def mark_finished(folder: str | Path) -> None:
    """Remove the ``INCOMPLETE`` marker: the run in ``folder`` has ended and its files are final."""
    (Path(folder) / INCOMPLETE).unlink(missing_ok=True)


def incomplete(folder: str | Path) -> str | None:
    """The ``INCOMPLETE`` marker's text if ``folder`` or the folder holding it has one, else None.

    A bundle lives in ``<run folder>/bundle``, so an unfinished run marks its bundle too.
    """
    folder = Path(folder)
    for place in (folder, folder.parent):
        marker = place / INCOMPLETE
        if marker.is_file():
            try:
                text = marker.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError):
                text = ""
            return f"{marker}: {text.splitlines()[-1] if text else 'unfinished run'}"
    return None


def new_run_dir(parent: str | Path, run_id: str | None = None) -> Path:
    """Create ``parent/<run_id>`` (suffixing ``-2``, ``-3``... if taken) and return it."""
    parent = Path(parent)
    base = run_id or new_run_id()
    _check_run_id(base)
    parent.mkdir(parents=True, exist_ok=True)
    for k in range(1, 10_000):
        candidate = parent / (base if k == 1 else f"{base}-{k}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise RuntimeError(f"{parent}: no free run folder name for {base}")


def _check_run_id(run_id: str) -> None:
    if Path(run_id).name != run_id or run_id in ("", ".", ".."):
        raise ValueError(f"run id {run_id!r} must be a plain folder name (no path separators)")


def write_atomic(path: str | Path, content: str | bytes) -> Path:
    """Write ``content`` to ``path`` through a temporary file in the same folder; refuse to overwrite.

    The finished file is hard-linked into place, which fails if ``path`` exists by then: a
    check followed by a rename would let a concurrent writer's file be replaced.
    """
    return write_atomic_all({path: content})[0]


def write_atomic_all(files: Mapping[str | Path, str | bytes]) -> list[Path]:
    """:func:`write_atomic` for several files, placed in the order given; their paths.

    Each is written to a temporary file first, as one file is, but the files are flushed to disk
    together (the waits of one ``fsync`` after another are most of the time a bundle's files take
    to write), and only then placed. A failure while writing or flushing places none of them; one
    while placing leaves those placed before it, each complete.
    """
    items = [(Path(path), content) for path, content in files.items()]
    for path, content in items:
        if not isinstance(content, str | bytes):
            raise TypeError(f"{path}: content must be str or bytes, not {type(content).__name__}")
    fds: list[int] = []
    temporary: list[str] = []
    try:
        for path, content in items:
            if path.exists():
                raise FileExistsError(f"{path} exists already; results are never overwritten")
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            fds.append(fd)
            temporary.append(tmp)
            with os.fdopen(os.dup(fd), "wb") as handle:  # ``fd`` stays open for the flush
                handle.write(content.encode("utf-8") if isinstance(content, str) else content)
        _sync(fds)
        for (path, _), tmp in zip(items, temporary, strict=True):
            _place(tmp, path)
    finally:
        for fd in fds:
            os.close(fd)
        for tmp in temporary:
            Path(tmp).unlink(missing_ok=True)
    return [path for path, _ in items]


def _sync(fds: list[int]) -> None:
    """``fsync`` each file, several at once: the file system commits concurrent ones together."""
    if len(fds) < 2:
        for fd in fds:
            os.fsync(fd)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(8, len(fds)), thread_name_prefix="csi-fsync") as pool:
        for done in [pool.submit(os.fsync, fd) for fd in fds]:
            done.result()  # an OSError of any file is the write's


def _place(tmp: str, path: Path) -> None:
    exists = FileExistsError(f"{path} exists already; results are never overwritten")
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise exists from None
    except OSError:  # no hard links on this file system (some network or FAT mounts): check, then rename
        if path.exists():
            raise exists from None
        os.replace(tmp, path)


def dumps_json(obj: Any) -> str:
    """Deterministic JSON: sorted keys, UTF-8 text, NaN and ±inf as null (JSON has no such numbers)."""
    return json.dumps(_clean(obj), sort_keys=True, ensure_ascii=False, indent=1, allow_nan=False) + "\n"


def frame_records(frame: pd.DataFrame | pd.Series) -> list[dict[str, Any]]:
    """A table as JSON records, index included when it carries information."""
    if isinstance(frame, pd.Series):
        frame = frame.to_frame()
    if not isinstance(frame.index, pd.RangeIndex):
        frame = frame.reset_index()
    return frame.to_dict(orient="records")


def _clean(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, pd.DataFrame | pd.Series):
        return _clean(frame_records(obj))
    if isinstance(obj, np.ndarray):
        return _clean(obj.tolist())
    if isinstance(obj, Path):
        return obj.as_posix()
    if obj is pd.NA or obj is pd.NaT:
        return None
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
