"""Validate the sample plan of ``csi_research.programme.planning`` by simulation.

A pilot survey of a bundled region is drawn and fitted with the full CSI model (PLS + bootstrap,
EM for missing answers, as a study does); its CSI's bootstrap SE gives the planning assumptions
(S backed out with the pilot's item non-response, no weights: deff 1). The plan's n for each target
half-width is then put to the test: ``--reps`` surveys of that n are drawn from the same
population, each fitted and bootstrapped, and the half-widths of their CSI intervals are compared
with the target. The plan holds when the median half-width is within 10 % of the target::

    .venv/bin/python scripts/validate_planning.py [--region beiling] [--reps 200] [--n-boot 300]

Seeds are fixed (pilot 1, replication r → 1000 + r), so the output is reproducible.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import numpy as np

from csi_research.core.errors import CSIWarning
from csi_research.data.sample import prepare
from csi_research.data.simulate import simulate_survey
from csi_research.programme.planning import PlanAssumptions, needed
from csi_research.stats.bootstrap import bootstrap
from csi_research.stats.pls import fit_pls

CI = 0.95


def csi_interval(region: str, n: int, seed: int, n_boot: int) -> tuple[float, float, float]:
    """(half-width, SE, item non-response) of the target CSI of one simulated survey of ``n``."""
    sim = simulate_survey(region, n=n, seed=seed)
    model = sim.codebook.model()
    with warnings.catch_warnings():  # straight-liners and imputed answers: the survey's, not the plan's
        warnings.simplefilter("ignore", CSIWarning)
        survey = sim.survey()
        sample = prepare(model, survey, missing="em")
        fit = fit_pls(sample)
        boot = bootstrap(fit, n_boot=n_boot, seed=seed, ci=CI, progress=False)
    est = boot.estimates
    row = est[(est["statistic"] == "index") & (est["construct"] == model.target)].iloc[0]
    items = list(model.constructs[model.target])
    missing = float(survey.frame[items].isna().mean().mean())
    return (float(row["ci_upper"] - row["ci_lower"]) / 2, float(row["se"]), missing)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--region", default="beiling")
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--n-boot", type=int, default=300)
    parser.add_argument("--pilot", type=int, default=400, help="respondents of the pilot survey")
    parser.add_argument("--half-widths", type=float, nargs="+", default=[2.0, 1.5])
    args = parser.parse_args(argv)

    _, se, missing = csi_interval(args.region, args.pilot, 1, args.n_boot)
    plan = PlanAssumptions(region=args.region, sd=se * np.sqrt(args.pilot * (1 - missing)),
                       item_nonresponse=missing, source="pilot")
    print(f"pilot: n={args.pilot}, CSI SE {se:.3f}, item non-response {missing:.3%} → S = {plan.sd:.2f}")
    print(f"{'target':>7} {'planned n':>9} {'median hw':>9} {'ratio':>6} {'share ≤ target':>14} "
          f"{'seconds':>7}  verdict")
    ok = True
    for h in args.half_widths:
        n = needed(plan, h, CI)
        start = time.perf_counter()
        widths = np.array([csi_interval(args.region, n, 1000 + r, args.n_boot)[0] for r in range(args.reps)])
        median = float(np.median(widths))
        within = abs(median / h - 1) <= 0.10
        ok &= within
        print(f"{h:7.2f} {n:9d} {median:9.3f} {median / h:6.3f} {np.mean(widths <= h):14.1%} "
              f"{time.perf_counter() - start:7.0f}  {'within 10 %' if within else 'OFF by more than 10 %'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
