"""Simulate, write, then load + validate a survey of 1,000,000 respondents × 30 items.

Each step runs in its own Python process so that its peak resident memory (ru_maxrss, which
includes the interpreter and imported libraries) is its own. Goal: every step ≤ 15 s, ≤ 3 GiB.

    .venv/bin/python benchmarks/bench_survey.py [--n 1000000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path


def _step(name: str, folder: Path, n: int) -> dict:
    from csi_research.core.errors import CSIWarning
    from csi_research.data.simulate import simulate_survey
    from csi_research.data.survey import load_survey

    warnings.simplefilter("ignore", CSIWarning)  # straight-liner notices are expected here
    start = time.perf_counter()
    if name == "simulate":
        sim = simulate_survey("yunchuan", n=n, seed=1)
        extra = {"rows": len(sim.frame), "columns": sim.frame.shape[1]}
    elif name == "write_csv":
        sim = simulate_survey("yunchuan", n=n, seed=1)
        start = time.perf_counter()
        sim.to_csv(folder / "survey.csv")
        extra = {"mb": round((folder / "survey.csv").stat().st_size / 2**20, 1)}
    elif name == "write_parquet":
        sim = simulate_survey("yunchuan", n=n, seed=1)
        start = time.perf_counter()
        sim.frame.to_parquet(folder / "survey.parquet", index=False)
        extra = {"mb": round((folder / "survey.parquet").stat().st_size / 2**20, 1)}
    else:
        survey = load_survey(folder / ("survey.csv" if name == "load_csv" else "survey.parquet"))
        extra = {"rows": len(survey.frame), "straight_liners": len(survey.quality.straight_liners)}
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux → GiB
    return {"step": name, "seconds": round(seconds, 2), "peak_gib": round(peak, 2), **extra}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        print(json.dumps(_step(args.step, Path(args.folder), args.n)))
        return
    print(f"survey benchmark: {args.n:,} respondents × 30 items (goal ≤ 15 s and ≤ 3 GiB per step)")
    with tempfile.TemporaryDirectory() as folder:
        for step in ("simulate", "write_csv", "write_parquet", "load_csv", "load_parquet"):
            out = subprocess.run(
                [sys.executable, __file__, "--step", step, "--folder", folder, "--n", str(args.n)],
                check=True, capture_output=True, text=True,
            )
            result = json.loads(out.stdout.strip().splitlines()[-1])
            ok = "ok" if result["seconds"] <= 15 and result["peak_gib"] <= 3 else "OVER GOAL"
            seconds, peak = result.pop("seconds"), result.pop("peak_gib")
            details = ", ".join(f"{k}={v}" for k, v in result.items() if k != "step")
            print(f"{step:14s} {seconds:7.2f} s  peak {peak:5.2f} GiB  {ok}  ({details})")


if __name__ == "__main__":
    main()
