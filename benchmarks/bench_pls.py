"""Time one PLS fit of the default 7-construct model on 1,000 and 1,000,000 respondents.

Goal: the 1M-respondent fit in ≤ 10 s. Run: ``python benchmarks/bench_pls.py``.
"""

from __future__ import annotations

import time
import warnings

from csi_research.core.errors import CSIWarning
from csi_research.data.simulate import simulate_survey
from csi_research.model import CSIModel
from csi_research.stats.pls import fit_pls


def main() -> None:
    model = CSIModel.default()
    warnings.simplefilter("ignore", CSIWarning)
    for n in (1_000, 1_000_000):
        start = time.perf_counter()
        frame = simulate_survey("donggang", n=n, seed=1).frame
        made = time.perf_counter() - start
        for scheme in ("path", "centroid"):
            start = time.perf_counter()
            fit = fit_pls(model, frame, scheme=scheme)
            took = time.perf_counter() - start
            print(
                f"n={n:>9,}  scheme={scheme:<8}  fit {took:7.3f} s  ({fit.iterations} iterations; "
                f"data simulated in {made:.2f} s)  goal {'≤ 10 s' if n == 1_000_000 else '-'}"
            )


if __name__ == "__main__":
    main()
