"""Bootstrap speed: batched PLS resamples, and CB-SEM re-fits with warm starts.

* 5,000 PLS resamples (plus the n-fit jackknife for BCa) of the default model on n = 1,000
  with 2 workers, threads vs processes — goal ≤ 3 s in total.
* ``--with-peer``: the PyPI ``plspm`` package re-fitting one resample at a time (it needs
  pandas < 3, so a throwaway venv is made under /tmp) — goal ≥ 300× per resample.
* CB-SEM: ``--cbsem-boot`` resamples (default 1,000) through ``bootstrap(fit_cbsem(...))``
  (one prepared semopy model per worker, weighted covariances, warm starts, 2 processes) vs
  naive semopy (new Model + fit of the materialised resample, no start values, one process) —
  goal ≥ 3×.

Run: ``python benchmarks/bench_bootstrap.py [--with-peer] [--cbsem-boot 1000] [--skip-pls]``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np

from csi_research.core.errors import CSIWarning
from csi_research.data.simulate import simulate_survey
from csi_research.model import CSIModel
from csi_research.stats.bootstrap import bootstrap
from csi_research.stats.cbsem import fit_cbsem
from csi_research.stats.pls import fit_pls

PEER_VENV = Path(tempfile.gettempdir()) / "csi_plspm_peer"
PEER_RESAMPLES = 50

PEER_SCRIPT = textwrap.dedent(
    """
    import sys, time
    import numpy as np, pandas as pd
    import plspm.config as c
    from plspm.mode import Mode
    from plspm.plspm import Plspm
    from plspm.scheme import Scheme

    data = pd.read_csv(sys.argv[1])
    blocks = {k: v.split(",") for k, v in (s.split("=") for s in sys.argv[2].split(";"))}
    paths = [tuple(p.split(">")) for p in sys.argv[3].split(";")]
    structure = c.Structure()
    for source, target in paths:
        structure.add_path([source], [target])
    config = c.Config(structure.path(), scaled=True)
    for name, items in blocks.items():
        config.add_lv(name, Mode.A, *[c.MV(i) for i in items])
    rng = np.random.default_rng(0)
    n, reps = len(data), int(sys.argv[4])
    start = time.perf_counter()
    for _ in range(reps):
        sample = data.iloc[rng.integers(0, n, n)].reset_index(drop=True)
        Plspm(sample, config, Scheme.PATH).path_coefficients()
    print((time.perf_counter() - start) / reps)
    """
)


def bench_pls(model: CSIModel, frame, n_boot: int = 5000) -> float:
    best = {}
    for backend in ("threads", "processes"):
        start = time.perf_counter()
        res = bootstrap(fit_pls(model, frame), n_boot=n_boot, seed=1, workers=2, progress=False,
                        backend=backend)
        took = time.perf_counter() - start
        best[backend] = took
        print(
            f"PLS bootstrap  {n_boot} resamples + {len(frame)}-fit jackknife, 2 workers ({backend:9s}): "
            f"{took:6.2f} s total, {took / n_boot * 1e3:6.3f} ms per resample, {res.n_failed} failed "
            "(goal ≤ 3 s)"
        )
    return min(best.values()) / n_boot


def bench_peer(model: CSIModel, frame, ours: float) -> None:
    python = PEER_VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {PEER_VENV} with the PyPI plspm package (pandas < 3) ...")
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "plspm", "pandas<3"], check=True)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data.csv"
        frame[model.items].to_csv(data, index=False)
        script = Path(tmp) / "peer.py"
        script.write_text(PEER_SCRIPT)
        blocks = ";".join(f"{k}={','.join(v)}" for k, v in model.constructs.items())
        paths = ";".join(f"{s}>{t}" for s, t in model.paths)
        out = subprocess.run(
            [str(python), str(script), str(data), blocks, paths, str(PEER_RESAMPLES)],
            check=True, capture_output=True, text=True,
        )
    peer = float(out.stdout.strip().splitlines()[-1])
    print(
        f"PyPI plspm     one resample at a time ({PEER_RESAMPLES} timed): {peer * 1e3:8.1f} ms per resample; "
        f"ratio {peer / ours:,.0f}x  (goal ≥ 300x)"
    )


def bench_cbsem(model: CSIModel, frame, n_boot: int) -> None:
    import semopy

    start = time.perf_counter()
    res = bootstrap(fit_cbsem(model, frame), n_boot=n_boot, seed=1, workers=2, progress=False)
    ours = time.perf_counter() - start
    rng = np.random.default_rng(1)
    items = frame[list(model.items)]
    start = time.perf_counter()
    for _ in range(n_boot):
        sample = items.iloc[rng.integers(0, len(items), len(items))]
        semopy.Model(model.lavaan_syntax()).fit(sample)
    naive = time.perf_counter() - start
    print(
        f"CB-SEM bootstrap {n_boot} resamples, 2 processes, prepared re-fits: {ours:6.1f} s "
        f"({ours / n_boot * 1e3:.0f} ms per resample, {res.n_failed} failed); naive semopy re-fitting, "
        f"1 process: {naive:6.1f} s ({naive / n_boot * 1e3:.0f} ms per resample); "
        f"ratio {naive / ours:.2f}x  (goal ≥ 3x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--with-peer", action="store_true", help="time the PyPI plspm package too")
    parser.add_argument("--cbsem-boot", type=int, default=1000, help="CB-SEM resamples (0 skips)")
    parser.add_argument("--skip-pls", action="store_true", help="time only the CB-SEM bootstrap")
    args = parser.parse_args()
    warnings.simplefilter("ignore", CSIWarning)
    model = CSIModel.default()
    frame = simulate_survey("donggang", n=1000, seed=1).frame
    if not args.skip_pls:
        ours = bench_pls(model, frame)
        if args.with_peer:
            bench_peer(model, frame, ours)
    if args.cbsem_boot:
        bench_cbsem(model, frame, args.cbsem_boot)


if __name__ == "__main__":
    main()
