"""Monte Carlo validation of the group comparisons (prints rejection rates and power).

Population: three reflective constructs X -> M -> Y and X -> Y (standardised latent variables,
three continuous items per block with loadings 0.8, 0.7, 0.75; paths 0.5, 0.5, 0.2).

1. Size: two groups drawn from the same population (n per group ``--n-null``); the rejection rate
   at 5 % of the permutation MGA (each path, unadjusted; any path after Holm), of MICOM step 2
   (each construct) and of Henseler's bootstrap MGA (two-sided), over ``--reps`` replications.
   An exact test rejects at 5 % ± 2 Monte Carlo SE (``2·sqrt(0.05·0.95/reps)``).
2. Power: the M -> Y path is 0.5 in group A and 0.3 in group B (difference 0.2), n = 400 per group.

Run: ``python scripts/validate_mga.py`` (about 2-4 minutes on 2 cores; ``--reps`` to change).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

from csi_research.core.errors import CSIWarning
from csi_research.model import CSIModel
from csi_research.stats.groups import bootstrap_mga, micom, permutation_mga
from csi_research.stats.pls import fit_pls

MODEL = CSIModel(
    {"X": ["x1", "x2", "x3"], "M": ["m1", "m2", "m3"], "Y": ["y1", "y2", "y3"]},
    [("X", "M"), ("M", "Y"), ("X", "Y")],
)
LOADINGS = (0.8, 0.7, 0.75)
ALPHA = 0.05


def draw(n: int, b_my: float, rng: np.random.Generator, b_xm: float = 0.5, b_xy: float = 0.2) -> pd.DataFrame:
    x = rng.standard_normal(n)
    m = b_xm * x + np.sqrt(1 - b_xm**2) * rng.standard_normal(n)
    explained = b_my**2 + b_xy**2 + 2 * b_my * b_xy * b_xm
    y = b_my * m + b_xy * x + np.sqrt(1 - explained) * rng.standard_normal(n)
    out = {}
    for name, eta in (("x", x), ("m", m), ("y", y)):
        for i, lam in enumerate(LOADINGS):
            out[f"{name}{i + 1}"] = lam * eta + np.sqrt(1 - lam**2) * rng.standard_normal(n)
    return pd.DataFrame(out)


def replicate(n: int, b_my_b: float, rng: np.random.Generator, n_perm: int, n_boot: int, with_micom: bool):
    groups = [draw(n, 0.5, rng).assign(g="A"), draw(n, b_my_b, rng).assign(g="B")]
    frame = pd.concat(groups, ignore_index=True)
    fit = fit_pls.quiet(MODEL, frame)
    seed = int(rng.integers(2**31))
    perm = permutation_mga.quiet(fit, "g", n_perm, seed=seed).estimates
    boot = bootstrap_mga.quiet(fit, "g", n_boot, seed=seed).estimates if n_boot else None
    mc = micom.quiet(fit, "g", n_perm, seed=seed).compositional if with_micom else None
    return perm, boot, mc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=500, help="replications under identical groups")
    parser.add_argument("--power-reps", type=int, default=300, help="replications for the power study")
    parser.add_argument("--n-null", type=int, default=200, help="respondents per group under the null")
    parser.add_argument("--n-perm", type=int, default=499)
    parser.add_argument("--n-boot", type=int, default=299)
    parser.add_argument("--seed", type=int, default=20240601)
    args = parser.parse_args()
    warnings.simplefilter("ignore", CSIWarning)
    rng = np.random.default_rng(args.seed)
    paths = [f"{s} -> {t}" for s, t in MODEL.paths]

    start = time.perf_counter()
    perm_rej, perm_any, boot_rej, micom_rej = [], [], [], []
    for _ in range(args.reps):
        perm, boot, mc = replicate(args.n_null, 0.5, rng, args.n_perm, args.n_boot, True)
        perm_rej.append(perm["p_value"].to_numpy() < ALPHA)
        perm_any.append(bool(perm["significant"].any()))
        boot_rej.append(boot["p_value"].to_numpy() < ALPHA)
        micom_rej.append(mc["p_value"].to_numpy() < ALPHA)
    mc_se = np.sqrt(ALPHA * (1 - ALPHA) / args.reps)
    lo, hi = ALPHA - 2 * mc_se, ALPHA + 2 * mc_se
    print(f"Size: identical groups, n = {args.n_null} per group, {args.reps} replications, "
          f"{args.n_perm} permutations, {args.n_boot} bootstrap resamples per group "
          f"({time.perf_counter() - start:.0f} s)")
    print(f"  nominal 5 %; Monte Carlo SE {mc_se:.4f}; accepted band [{lo:.4f}, {hi:.4f}]")

    def line(label: str, rate: float, band: bool = True) -> None:
        verdict = ("ok" if lo <= rate <= hi else "OUTSIDE") if band else ("ok" if rate <= hi else "TOO HIGH")
        print(f"  {label:<48} {rate:.4f}  {verdict}")

    for name, rates in zip(paths, np.mean(perm_rej, axis=0), strict=True):
        line(f"permutation MGA, path {name}", rates)
    line("permutation MGA, any path after Holm (≤ 5 %)", float(np.mean(perm_any)), band=False)
    for name, rates in zip(MODEL.names, np.mean(micom_rej, axis=0), strict=True):
        line(f"MICOM step 2, construct {name}", rates)
    for name, rates in zip(paths, np.mean(boot_rej, axis=0), strict=True):
        label = f"bootstrap MGA (Henseler), path {name}"
        print(f"  {label:<48} {rates:.4f}  (approximate test; for reference)")

    start = time.perf_counter()
    found_perm, found_boot = [], []
    target = paths.index("M -> Y")
    for _ in range(args.power_reps):
        perm, boot, _ = replicate(400, 0.3, rng, args.n_perm, args.n_boot, False)
        found_perm.append(perm["p_value"].to_numpy()[target] < ALPHA)
        found_boot.append(boot["p_value"].to_numpy()[target] < ALPHA)
    se = lambda p: np.sqrt(p * (1 - p) / args.power_reps)  # noqa: E731
    pp, pb = float(np.mean(found_perm)), float(np.mean(found_boot))
    print(f"Power: M -> Y 0.5 vs 0.3 (difference 0.2), n = 400 per group, {args.power_reps} replications "
          f"({time.perf_counter() - start:.0f} s)")
    print(f"  permutation MGA, p < 0.05: {pp:.3f} (MC SE {se(pp):.3f})")
    print(f"  bootstrap MGA (Henseler), two-sided p < 0.05: {pb:.3f} (MC SE {se(pb):.3f})")


if __name__ == "__main__":
    main()
