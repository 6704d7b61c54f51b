"""What every bad-input and fault test checks besides the error itself: nothing was lost.

``Snapshot`` records the bytes of every file under some folders before the action; ``unchanged``
asserts afterwards that no file was modified or removed (new files are allowed: a failed run may
leave its own error report in a new folder, but must never replace an existing file). Logs that
may only grow (a run's ``INCOMPLETE`` marker) are named in ``appended``: they must still start
with their earlier bytes.
"""

from __future__ import annotations

from pathlib import Path


def _contents(root: Path) -> dict[Path, bytes]:
    paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    return {p: p.read_bytes() for p in paths}


class Snapshot:
    """The bytes of every file under ``roots`` (files or folders) at construction time."""

    def __init__(self, *roots: str | Path) -> None:
        self.before: dict[Path, bytes] = {}
        for root in roots:
            self.before.update(_contents(Path(root)))

    def unchanged(self, appended: tuple[str, ...] = ()) -> None:
        """Assert that every recorded file still holds its bytes; files named in ``appended`` may grow."""
        def kept(path: Path, data: bytes) -> bool:
            if not path.is_file():
                return False
            now = path.read_bytes()
            return now.startswith(data) if path.name in appended else now == data

        changed = [str(p) for p, data in self.before.items() if not kept(p, data)]
        assert not changed, f"files modified or removed: {changed}"
