"""Compare two checkouts' latest runs of every study, file by file, byte for byte.

    .venv/bin/python scripts/compare_runs.py BEFORE/studies AFTER/studies

For each study folder (and ``_comparison``) the newest run folder of each side is taken and every
file under it is compared: the bundle (results.json, tables, draws, sample, model, figures,
workbook), the reports, the run's inputs. Executed notebooks are compared without what differs on
every run: the timings papermill and the kernel stamp on them, and the random id papermill gives
the parameters cell it injects; everything else must be equal. ``--ignore-cell-ids`` also ignores
the cells' anchors in the HTML reports (``id="cell-id=…"``), for runs of versions whose reports
still carried that random id. Prints one line per differing file, a summary, and exits 1 when
anything differs (or a side misses a file), 0 otherwise.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

VOLATILE = ("papermill", "execution")  # per-run timings in notebook and cell metadata
ANCHOR = re.compile(rb'id="cell-id=[A-Za-z0-9_-]+"')


def latest_run(study: Path) -> Path | None:
    runs = sorted(p for p in (study / "output").glob("*") if p.is_dir())
    return runs[-1] if runs else None


def notebook_content(data: bytes) -> object:
    """A notebook without its timings: what its cells say and show."""
    notebook = json.loads(data)

    def strip(meta: dict) -> dict:
        return {k: v for k, v in meta.items() if k not in VOLATILE}

    notebook["metadata"] = strip(notebook.get("metadata", {}))
    for cell in notebook.get("cells", []):
        cell["metadata"] = strip(cell.get("metadata", {}))
        if "injected-parameters" in cell["metadata"].get("tags", []):
            cell.pop("id", None)
    return notebook


def same(a: Path, b: Path, ignore_cell_ids: bool = False) -> bool:
    left, right = a.read_bytes(), b.read_bytes()
    if left == right:
        return True
    if a.suffix == ".html" and ignore_cell_ids:
        return ANCHOR.sub(b"", left) == ANCHOR.sub(b"", right)
    if a.suffix == ".ipynb":
        return notebook_content(left) == notebook_content(right)
    if a.name == "inputs.json":  # the run's record of its inputs: hashes of files that must not differ
        return json.loads(left) == json.loads(right)
    return False


def files(run: Path) -> set[str]:
    return {p.relative_to(run).as_posix() for p in run.rglob("*") if p.is_file()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path, help="the studies/ folder of the first checkout")
    parser.add_argument("after", type=Path, help="the studies/ folder of the second checkout")
    parser.add_argument("--ignore-cell-ids", action="store_true", help="ignore the cells' anchors in reports")
    args = parser.parse_args(argv)
    studies = sorted({p.name for p in args.before.iterdir() if (p / "output").is_dir()}
                     | {p.name for p in args.after.iterdir() if (p / "output").is_dir()})
    compared = differing = 0
    for name in studies:
        a, b = latest_run(args.before / name), latest_run(args.after / name)
        if a is None or b is None:
            print(f"{name}: a run on one side only ({a or '-'} / {b or '-'})")
            differing += 1
            continue
        left, right = files(a), files(b)
        for only in sorted(left ^ right):
            print(f"{name}: {only}: only in {'before' if only in left else 'after'}")
            differing += 1
        for file in sorted(left & right):
            compared += 1
            if not same(a / file, b / file, args.ignore_cell_ids):
                print(f"{name}: {file}: differs")
                differing += 1
    print(f"{len(studies)} studies, {compared} files compared, {differing} differ")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
