"""Time multi-group FIML invariance against lavaan in the same run.

The data and steps of tests/test_multigroup_fiml.py: Holzinger–Swineford with MAR holes
(tests/data/hs_holes_mar.csv), configural → strict by school (2 groups) and by age (3 groups). lavaan
0.6 fits the same steps with ``missing = "ml"`` in an ``Rscript`` started here, timed inside R (its
start-up and package loading excluded) when R with lavaan is installed; the toolkit itself never
needs R. Prints both times, the ratio and the largest χ² difference (so a faster fit at a worse
optimum would show).

Run: .venv/bin/python benchmarks/bench_multigroup_fiml.py
"""

from __future__ import annotations

import shutil
import subprocess
import time
import warnings
from pathlib import Path

import pandas as pd

from csi_research.stats.multigroup import invariance

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "hs_holes_mar.csv"
CFA = {"visual": ["x1", "x2", "x3"], "textual": ["x4", "x5", "x6"], "speed": ["x7", "x8", "x9"]}
STEPS = ("configural", "metric", "scalar", "strict")
R_SCRIPT = """
suppressPackageStartupMessages(library(lavaan))
hs <- read.csv("{data}")
m <- "visual =~ x1 + x2 + x3\\n textual =~ x4 + x5 + x6\\n speed =~ x7 + x8 + x9"
eq <- list("", "loadings", c("loadings", "intercepts"), c("loadings", "intercepts", "residuals"))
for (g in c("school", "age3")) {{
  chisq <- numeric(0)
  t <- system.time(for (e in eq) chisq <- c(chisq, fitMeasures(cfa(m, hs, group = g, group.equal = e,
                                                                  missing = "ml"), "chisq")))
  cat(g, t[["elapsed"]], sprintf("%.12g", chisq), "\\n")
}}
"""


def lavaan_times() -> dict[str, tuple[float, list[float]]] | None:
    if shutil.which("Rscript") is None:
        return None
    out = subprocess.run(["Rscript", "-e", R_SCRIPT.format(data=DATA)], capture_output=True, text=True,
                         timeout=600)
    if out.returncode != 0:
        print("lavaan not available:", out.stderr.strip().splitlines()[-1:])
        return None
    rows = [line.split() for line in out.stdout.splitlines() if line.strip()]
    return {r[0]: (float(r[1]), [float(v) for v in r[2:]]) for r in rows}


def main() -> None:
    data = pd.read_csv(DATA)
    theirs = lavaan_times()
    for group in ("school", "age3"):
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = invariance(CFA, data, group, steps=STEPS)
        ours = time.perf_counter() - start
        chi2 = result.fits["chi2"].tolist()
        line = f"{group:7s} FIML invariance, {len(STEPS)} steps: this {ours:6.2f} s"
        if theirs is not None:
            seconds, lav_chi2 = theirs[group]
            worst = max(abs(a - b) for a, b in zip(chi2, lav_chi2, strict=True))
            line += (f", lavaan {seconds:6.2f} s, ratio lavaan / this {seconds / ours:5.2f}, "
                     f"max |Δχ²| {worst:.1e}")
        print(line)


if __name__ == "__main__":
    main()
