"""Speed of the PLS-SEM reporting kit against the Python seminr port, side by side in one run.

* PLSpredict, 10 folds × 10 repeats (earliest-antecedents predictions, LM benchmark):
  ``csi_research.stats.predict.predict`` vs ``seminr.predict_pls`` called once per repeat with a
  fresh seeded ordering.
* The mediation bootstrap, 2,000 resamples: ``bootstrap`` of the PLS fit (paths, f², every specific
  indirect effect from the same resamples, BCa jackknife) and ``indirect_effects`` vs
  ``seminr.bootstrap_model`` followed by ``specific_effect_significance`` for every chain it takes
  (up to four mediators). The peer is timed on ``--peer-resamples`` (default 200) resamples and
  its time per resample scaled to 2,000; ours runs all 2,000.

Both sides get the same simulated survey (the default seven-construct model, n = 1,000) and the
same two cores: the peer's ``cores=2`` process pool is timed as well as its sequential run and the
faster of the two is the peer's time. Goal: ours at least 50× faster for each.

The peer lives in a throwaway venv under the temporary folder (created on first use).

Run: ``python benchmarks/bench_effects.py [--n 1000] [--peer-resamples 200]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from pathlib import Path

from csi_research.core.errors import CSIWarning
from csi_research.data.simulate import simulate_survey
from csi_research.model import CSIModel
from csi_research.stats.bootstrap import bootstrap
from csi_research.stats.effects import chains, indirect_effects
from csi_research.stats.pls import fit_pls
from csi_research.stats.predict import predict

PEER_VENV = Path(tempfile.gettempdir()) / "csi_seminr_peer"
PEER_PACKAGES = ["seminr==0.2.1", "pandas"]
FOLDS, REPEATS, RESAMPLES, GOAL = 10, 10, 2000, 50

PEER_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np, pandas as pd
    from seminr import (bootstrap_model, composite, constructs, estimate_pls, paths, predict_EA,
                        predict_pls, relationships)
    from seminr.bootstrap.mediation import specific_effect_significance

    def main():  # guarded: the peer's process pool spawns fresh interpreters that import this file
        data = pd.read_csv(sys.argv[1])
        spec = json.loads(sys.argv[2])
        mm = constructs(*[composite(name, items) for name, items in spec["blocks"].items()])
        sm = relationships(*[paths(s, t) for s, t in spec["paths"]])
        model = estimate_pls(data, mm, sm)
        out = {}
        for cores in (None, 2):
            start = time.perf_counter()
            for repeat in range(spec["repeats"]):
                order = [int(i) for i in np.random.default_rng(repeat).permutation(len(data))]
                predict_pls(model, technique=predict_EA, no_folds=spec["folds"], ordering=order, cores=cores)
            out[f"predict_{cores}"] = time.perf_counter() - start
            start = time.perf_counter()
            boot = bootstrap_model(model, nboot=spec["resamples"], seed=1, cores=cores)
            for chain in spec["chains"]:
                specific_effect_significance(boot, from_=chain[0], to=chain[-1], through=chain[1:-1])
            out[f"boot_{cores}"] = (time.perf_counter() - start) / spec["resamples"]
        print(json.dumps(out))


    if __name__ == "__main__":
        main()
    """
)


def peer_python() -> Path:
    python = PEER_VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {PEER_VENV} with {' '.join(PEER_PACKAGES)} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PEER_PACKAGES], check=True)
    return python


def run_peer(model: CSIModel, frame, resamples: int) -> dict[str, float]:
    taken = [list(c) for c in chains(model) if len(c) <= 6]  # the peer takes up to four mediators
    spec = {"blocks": {c: list(items) for c, items in model.constructs.items()},
            "paths": [list(p) for p in model.paths], "chains": taken,
            "folds": FOLDS, "repeats": REPEATS, "resamples": resamples}
    with tempfile.TemporaryDirectory() as tmp:
        data, script = Path(tmp) / "data.csv", Path(tmp) / "peer.py"
        frame[list(model.items)].to_csv(data, index=False)
        script.write_text(PEER_SCRIPT)
        out = subprocess.run([str(peer_python()), str(script), str(data), json.dumps(spec)],
                             capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"the peer failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="respondents of the simulated survey")
    parser.add_argument("--peer-resamples", type=int, default=200, help="resamples timed for the peer")
    args = parser.parse_args()
    warnings.simplefilter("ignore", CSIWarning)
    model = CSIModel.default()
    frame = simulate_survey("donggang", n=args.n, seed=1).frame
    fit = fit_pls(model, frame)

    start = time.perf_counter()
    predict(fit, k=FOLDS, repeats=REPEATS, seed=1)
    ours_predict = time.perf_counter() - start
    start = time.perf_counter()
    boot = bootstrap(fit, n_boot=RESAMPLES, seed=1, workers=2, progress=False)
    table = indirect_effects(boot)
    ours_boot = time.perf_counter() - start

    peer = run_peer(model, frame, args.peer_resamples)
    peer_predict = min(peer["predict_None"], peer["predict_2"])
    peer_boot = min(peer["boot_None"], peer["boot_2"]) * RESAMPLES
    print(f"n = {args.n}, {len(model.paths)} paths, {len(table)} specific indirect effects, 2 cores")
    print(f"PLSpredict {FOLDS} folds x {REPEATS} repeats: ours {ours_predict:7.3f} s; seminr "
          f"{peer_predict:7.2f} s (sequential {peer['predict_None']:.2f} s, "
          f"2 cores {peer['predict_2']:.2f} s); "
          f"ratio {peer_predict / ours_predict:,.0f}x  (goal ≥ {GOAL}x)")
    print(f"mediation bootstrap {RESAMPLES} resamples: ours {ours_boot:7.2f} s (with BCa jackknife); "
          f"seminr {peer_boot:7.1f} s (scaled from {args.peer_resamples}; per resample sequential "
          f"{peer['boot_None'] * 1e3:.1f} ms, 2 cores {peer['boot_2'] * 1e3:.1f} ms); "
          f"ratio {peer_boot / ours_boot:,.0f}x  (goal ≥ {GOAL}x)")


if __name__ == "__main__":
    main()
