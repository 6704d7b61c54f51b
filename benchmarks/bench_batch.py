"""Per-study overhead of ``csi-research run``: batch wall time per study against ``run_study`` alone.

Goal: a study's wall time in the batch is at most 3x the time ``run_study`` needs to compute it
(the rest being notebook start-up, imports, figures and the HTML export). The batch runs on
copies of the project's studies in a temporary folder (nothing under studies/ is written).
Run: ``python benchmarks/bench_batch.py [--workers N] [--full] [--only ID ...]``.
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
    """The project's study files, with their data paths made absolute, in ``target``."""
    for study in sorted((REPO / "studies").glob("*/study.yaml")):
        if only and study.parent.name not in only:
            continue
        lines = []
        for line in study.read_text(encoding="utf-8").splitlines():
            if line.startswith("data:"):
                line = f"data: {(study.parent / line.split(':', 1)[1].strip()).resolve()}"
            lines.append(line)
        (target / study.parent.name).mkdir(parents=True)
        (target / study.parent.name / "study.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


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
    args = parser.parse_args()
    from csi_research.batch import run_batch

    quick = not args.full
    with tempfile.TemporaryDirectory(prefix="csi-bench-") as tmp:
        root = copy_studies(Path(tmp) / "studies", args.only)
        start = time.perf_counter()
        result = run_batch(root, quick=quick, workers=args.workers, progress=False, comparison=False)
        wall = time.perf_counter() - start
        print(f"batch: {len(result.studies)} studies in {wall:.1f} s wall "
              f"(workers={args.workers or 'default'}, quick={quick})")
        print(f"{'study':<16}{'status':<10}{'in batch s':>11}{'run_study s':>13}{'ratio':>8}")
        total_batch = total_compute = 0.0
        for run in result.studies:
            compute = compute_seconds(root / run.name / "study.yaml", quick)
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
