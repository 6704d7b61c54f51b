"""Writing results without ever losing an earlier one.

Every run gets a fresh folder (created exclusively, so two runs can never share one) and every
file is written to a temporary name first and renamed into place, so a crash leaves either the
whole file or nothing.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def new_run_id(now: datetime | None = None) -> str:
    """A sortable run id, e.g. ``20261123-142501``."""
    return (now or datetime.now()).strftime("%Y%m%d-%H%M%S")


def new_run_dir(parent: str | Path, run_id: str | None = None) -> Path:
    """Create ``parent/<run_id>`` (suffixing ``-2``, ``-3``... if taken) and return it."""
    parent = Path(parent)
    base = run_id or new_run_id()
    if Path(base).name != base or base in (".", ".."):
        raise ValueError(f"run id {base!r} must be a plain folder name (no path separators)")
    parent.mkdir(parents=True, exist_ok=True)
    for k in range(1, 10_000):
        candidate = parent / (base if k == 1 else f"{base}-{k}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise RuntimeError(f"{parent}: no free run folder name for {base}")


def write_atomic(path: str | Path, content: str | bytes) -> Path:
    """Write ``content`` to ``path`` through a temporary file in the same folder; refuse to overwrite.

    The finished file is hard-linked into place, which fails if ``path`` exists by then: a
    check followed by a rename would let a concurrent writer's file be replaced.
    """
    path = Path(path)
    if not isinstance(content, str | bytes):
        raise TypeError(f"{path}: content must be str or bytes, not {type(content).__name__}")
    if path.exists():
        raise FileExistsError(f"{path} exists already; results are never overwritten")
    path.parent.mkdir(parents=True, exist_ok=True)
    data = content.encode("utf-8") if isinstance(content, str) else content
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        _place(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


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
