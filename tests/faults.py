"""What every bad-input and fault test checks besides the error itself: nothing was lost.

``Snapshot`` records the bytes of every file under some folders before the action; ``unchanged``
asserts afterwards that no file was modified or removed (new files are allowed: a failed run may
leave its own error report in a new folder, but must never replace an existing file).
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def _digests(root: Path) -> dict[Path, str]:
    paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


class Snapshot:
    """Digests of every file under ``roots`` (files or folders) at construction time."""

    def __init__(self, *roots: str | Path) -> None:
        self.before: dict[Path, str] = {}
        for root in roots:
            self.before.update(_digests(Path(root)))

    def unchanged(self) -> None:
        """Assert that every recorded file still exists with the same bytes."""
        changed = [str(p) for p, digest in self.before.items()
                   if not p.is_file() or hashlib.sha256(p.read_bytes()).hexdigest() != digest]
        assert not changed, f"files modified or removed: {changed}"
