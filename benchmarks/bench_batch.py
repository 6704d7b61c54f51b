"""Per-study overhead of ``csi-research run``: batch wall time per study against ``run_study`` alone.

Goal: a study's wall time in the batch is at most 3x the time ``run_study`` needs to compute it
(the rest being notebook start-up, imports, figures and the HTML export). The batch runs on
copies of the project's studies in a temporary folder (nothing under studies/ is written).
Studies run forked from warm zygotes; ``--cold`` measures the slow path instead (a new Python and
kernel per study, as without fork). ``run_study`` is timed before and after the batch (best of
four, in this process) so a change in the machine's load during the batch shows less in the ratio.
Run: ``python benchmarks/bench_batch.py [--workers N] [--full] [--cold] [--only ID ...]``.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOAL = 3.0


def copy_studies(target: Path, only: list[str] | None) -> Path:
    """The project's study files, with the files they name (data, service records, ...) made absolute."""
    for study in sorted((REPO / "studies").glob("*/study.yaml")):
        if only and study.parent.name not in only:
            continue
        lines = [absolute(line, study.parent) for line in study.read_text(encoding="utf-8").splitlines()]
        (target / study.parent.name).mkdir(parents=True)
        (target / study.parent.name / "study.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def absolute(line: str, folder: Path) -> str:
    """A top-level ``key: relative/path`` line with the path made absolute when it names a file."""
    key, sep, rest = line.partition(":")
    value = rest.split("#", 1)[0].strip()
    if not sep or line[:1].isspace() or not value or value.startswith(("{", "[", '"')):
        return line
    path = (folder / value).resolve()
    return f"{key}: {path}" if "/" in value and path.is_file() else line


def compute_seconds(study_yaml: Path, quick: bool) -> float:
    """``run_study`` alone, in this process, best of two (the first call also warms lazy imports)."""
    import csi_research as csi

    best = float("inf")
    for _ in range(2):
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            csi.run_study.quiet(study_yaml, quick=quick)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--full", action="store_true", help="full bootstrap (default: quick)")
    parser.add_argument("--only", nargs="+", metavar="ID")
    parser.add_argument("--cold", action="store_true", help="no warm zygotes: a new process per study")
    args = parser.parse_args()
    import contextlib

    from csi_research.run import batch
    from csi_research.run.batch import run_batch

    if args.cold:
        batch._warm_workers = lambda *a, **k: contextlib.nullcontext()

    quick = not args.full
    with tempfile.TemporaryDirectory(prefix="csi-bench-") as tmp:
        root = copy_studies(Path(tmp) / "studies", args.only)
        before = {p.name: compute_seconds(p / "study.yaml", quick) for p in sorted(root.iterdir())}
        start = time.perf_counter()
        result = run_batch(root, quick=quick, workers=args.workers, progress=False, comparison=False)
        wall = time.perf_counter() - start
        print(f"batch: {len(result.studies)} studies in {wall:.1f} s wall "
              f"(workers={args.workers or 'default'}, quick={quick}, "
              f"{'cold: a process and kernel per study' if args.cold else 'warm zygotes'})")
        print(f"{'study':<16}{'status':<10}{'in batch s':>11}{'run_study s':>13}{'ratio':>8}")
        total_batch = total_compute = 0.0
        for run in result.studies:
            compute = min(before[run.name], compute_seconds(root / run.name / "study.yaml", quick))
            ratio = run.seconds / compute
            total_batch += run.seconds
            total_compute += compute
            flag = "" if ratio <= GOAL else f"  > {GOAL:g}x"
            print(f"{run.name:<16}{run.status:<10}{run.seconds:>11.2f}{compute:>13.2f}{ratio:>8.1f}{flag}")
        print(f"{'total':<26}{total_batch:>11.2f}{total_compute:>13.2f}{total_batch / total_compute:>8.1f}"
              f"   (goal: ratio <= {GOAL:g}; batch wall {wall:.1f} s incl. cluster start-up)")
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
