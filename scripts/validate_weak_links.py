"""Validate the weak-link ranking of ``csi_research.stats.ipma`` on planted truth.

Each profile plants one or two weak links (薄弱环节) through ``item_effects``: a negative shift of
one item's answers. Every replication draws a survey of the profile (its own n), fits PLS and
ranks the priorities with :func:`csi_research.stats.ipma.ipma`; a replication is a hit when every
planted item is among the top three priorities. The profiles are the bundled regions with planted
negative effects and profiles built from bundled regions that plant a weak link in each other
actionable sub-indicator. For comparison the same surveys are ranked by the former item
importance (share of the block's rescaled outer weights × the construct's total effect, over all
driver items). The table is printed and written into ``docs/weak-links.md``::

    .venv/bin/python scripts/validate_weak_links.py [--reps 200] [--workers 2] [--missing em]

Seeds are fixed per profile and replication (sha256 of ``weak-links/<profile>/<replication>``), so
the output does not depend on ``--workers``.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from csi_research.core.errors import CSIWarning
from csi_research.data.codebook import Codebook
from csi_research.data.sample import prepare
from csi_research.data.simulate import RegionProfile, load_regions, region_seed, simulate_survey
from csi_research.stats.indices import block_positions, raw_weight_vector, rescaled_weights
from csi_research.stats.ipma import IPMAResult, ipma
from csi_research.stats.pls import fit_pls

DEFAULT_REPS = 200  # about 2.5 minutes on 2 cores
TOP = 3
THRESHOLD = 0.90  # planted weak links must all be in the top 3 in at least 90 % of the surveys
BUNDLED = ("beiling", "nanyu", "xiyuan", "yunchuan")  # bundled regions with planted weak links
# Extra profiles: (id, bundled region it is built on, planted item effects, what is planted). The
# base region's own weak links are removed and its strengths kept, so only the listed items are weak.
EXTRA: tuple[tuple[str, str, dict[str, float], str], ...] = (
    ("donggang-hall", "donggang", {"QUA3": -0.65}, "channel: service hall"),
    ("yunchuan-connection", "yunchuan", {"QUA6": -0.70}, "service item: new connection"),
    ("xiyuan-price", "xiyuan", {"VAL1": -0.70}, "price of electricity"),
    ("nanyu-complaints", "nanyu", {"CMP1": -0.70}, "complaint handling"),
    ("linxi-staff", "linxi", {"QUA10": -0.60}, "staff"),
    ("beiling-two", "beiling", {"QUA4": -0.60, "VAL3": -0.70}, "two: 95598 hotline and fees"),
)
DOC = Path(__file__).resolve().parents[1] / "docs" / "weak-links.md"
START, END = "<!-- validation table: start -->", "<!-- validation table: end -->"


@functools.cache
def profiles() -> dict[str, RegionProfile]:
    """Every validated profile by id (bundled ones first), rebuilt per process (profiles don't pickle)."""
    regions = load_regions()
    out = {r: regions[r] for r in BUNDLED}
    for pid, base, effects, what in EXTRA:
        source = regions[base]
        strengths = {k: v for k, v in source.item_effects.items() if v > 0}
        out[pid] = dataclasses.replace(
            source, id=pid, name_en=f"{source.name_en}, weak link: {what}",
            description=f"validation profile: {source.id} with planted weak link(s) {effects}",
            item_effects=MappingProxyType({**strengths, **effects}),
        )
    return out


def planted(profile: RegionProfile) -> list[str]:
    return [item for item, effect in profile.item_effects.items() if effect < 0]


def seed(profile_id: str, rep: int) -> int:
    return region_seed(f"weak-links/{profile_id}", rep)


@functools.cache
def _codebook() -> Codebook:
    return Codebook.default()


def replication(profile_id: str, rep: int, missing: str = "em") -> tuple[int, float]:
    """(worst rank of a planted item among the priorities, the same under the former measure)."""
    profile = profiles()[profile_id]
    book = _codebook()
    sim = simulate_survey(profile, seed=seed(profile_id, rep), codebook=book)
    with warnings.catch_warnings():  # straight-liner notes: part of the planted population, expected
        warnings.simplefilter("ignore", CSIWarning)
        fit = fit_pls(prepare(book.model(), sim.survey(), missing=missing))
    result = ipma.quiet(fit)
    ranks = result.priorities.set_index("item")["rank"]
    weak = planted(profile)
    return int(ranks[weak].max()), former_rank(fit, result, weak)


def former_rank(fit: Any, result: IPMAResult, weak: list[str]) -> float:
    """Worst rank of the planted items under the former ranking: all driver items, importance =
    share of the block's rescaled outer weights × the construct's total effect (inf: not ranked)."""
    model = fit.model
    items = model.items
    lo, hi = fit.sample.bounds()
    shares = pd.Series(rescaled_weights(raw_weight_vector(fit, items), block_positions(model, items), lo, hi),
                       index=items)
    effect = result.constructs.set_index("construct")["importance"]
    performance = (fit.sample.mean - lo) / (hi - lo) * 100
    drivers = [i for i in items if model.construct_of(i) in effect.index]
    gain = pd.Series({i: shares[i] * effect[model.construct_of(i)] * (100 - performance[i]) for i in drivers})
    order = list(gain.sort_values(ascending=False, kind="stable").index)
    return max(order.index(i) + 1 if i in order else np.inf for i in weak)


def _task(args: tuple[str, int, str]) -> tuple[int, float]:
    return replication(*args)


def run(reps: int, workers: int = 1, missing: str = "em", ids: list[str] | None = None) -> pd.DataFrame:
    """One row per profile: planted items, n, hit rate (top 3), worst-rank statistics, former rate."""
    ids = list(ids or profiles())
    tasks = [(pid, rep, missing) for pid in ids for rep in range(reps)]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            results = list(pool.map(_task, tasks, chunksize=8))
    else:
        results = [_task(t) for t in tasks]
    rows = []
    for k, pid in enumerate(ids):
        mine = results[k * reps:(k + 1) * reps]
        worst = np.array([r[0] for r in mine])
        former = np.array([r[1] for r in mine])
        profile = profiles()[pid]
        rows.append({
            "profile": pid,
            "bundled": pid in BUNDLED,
            "n": profile.n,
            "planted": ", ".join(f"{i} {_codebook().item(i).text_en} ({profile.item_effects[i]:+.2f})"
                                 for i in planted(profile)),
            "reps": reps,
            "top3_rate": float(np.mean(worst <= TOP)),
            "median_worst_rank": float(np.median(worst)),
            "max_worst_rank": int(worst.max()),
            "former_top3_rate": float(np.mean(former <= TOP)),
        })
    return pd.DataFrame(rows)


def markdown(table: pd.DataFrame, seconds: float, workers: int, missing: str) -> str:
    reps = int(table["reps"].iloc[0])
    lines = [
        START,
        f"Generated by `.venv/bin/python scripts/validate_weak_links.py --reps {reps} --workers {workers}"
        f"{'' if missing == 'em' else f' --missing {missing}'}` ({reps} simulated surveys per profile, "
        f"missing answers: {missing}, run time {seconds:.0f} s on {workers} worker process(es); the "
        "numbers do not depend on the number of workers).",
        "",
        "| profile | n | planted weak link(s) (effect) | all planted in top 3 | median / worst rank of the "
        "lowest-ranked planted item | former measure: all planted in top 3 |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for r in table.itertuples():
        name = f"{r.profile}{' (bundled)' if r.bundled else ''}"
        lines.append(
            f"| {name} | {r.n} | {r.planted} | {r.top3_rate:.1%} | {r.median_worst_rank:g} / "
            f"{r.max_worst_rank} | {r.former_top3_rate:.1%} |"
        )
    verdict = "all" if (table["top3_rate"] >= THRESHOLD).all() else "NOT all"
    lines += ["", f"Required: at least {THRESHOLD:.0%} per profile — {verdict} profiles meet it.", END]
    return "\n".join(lines)


def write_doc(block: str, path: Path = DOC) -> None:
    text = path.read_text(encoding="utf-8")
    if START not in text or END not in text:
        raise SystemExit(f"{path}: the markers {START} and {END} are missing")
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    path.write_text(head + block + tail, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=DEFAULT_REPS,
                        help=f"surveys per profile (default {DEFAULT_REPS})")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="worker processes")
    parser.add_argument("--missing", default="em", help="missing-data treatment of prepare (default em)")
    parser.add_argument("--out", default=str(DOC), help="Markdown file whose validation table is replaced")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    table = run(args.reps, args.workers, args.missing)
    seconds = time.perf_counter() - start
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.drop(columns=["bundled"]).to_string(index=False))
    write_doc(markdown(table, seconds, args.workers, args.missing), Path(args.out))
    print(f"wrote {args.out} ({seconds:.1f} s)")
    return 0 if (table["top3_rate"] >= THRESHOLD).all() else 1


if __name__ == "__main__":
    sys.exit(main())
