"""National scale: a simulated survey of hundreds of regions through the batch, comparison and roll-up.

Writes a SYNTHETIC national survey set (:func:`csi_research.programme.national.write_national_survey`:
300 fictional regions in 10 fictional provinces, about 450 respondents each, a third of them
surveyed twice, so about 400 studies) into a temporary folder, then measures

* the whole batch with the cross-region comparison, quick (each study's ``quick_n_boot``) and
  full (2,000 resamples): wall time, per-study time, the comparison's time, and the peak
  resident memory of this process and all its children (Dask workers, notebook processes,
  kernels), sampled every 0.25 s;
* drawing one region's reports on demand from its run folder (``--reports on-demand``, the default
  here: a national programme saves every region's bundle and the national report with one figure
  per province, and draws a region's own report when someone asks for it; ``--reports all`` draws
  every region's report in the batch);
* the national roll-up (:func:`csi_research.programme.rollup.national_tables`) over the batch's bundles,
  checked for complete province and national rows;
* the speed-up of a local Dask cluster of several worker processes over one worker, on a subset.

Targets on a 2-core machine, reports on demand: quick ≤ 4 min, full ≤ 15 min for 300 regions.
Run: ``python benchmarks/bench_national.py [--regions N] [--quick-only | --full-only] [--workers N] [--keep]
[--scheduler ADDRESS] [--reports all|on-demand]``; try ``--regions 6`` first.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import psutil

TARGETS = {True: 4 * 60, False: 15 * 60}  # quick, full: seconds for 300 regions
SAMPLE_EVERY = 0.25  # seconds between memory samples


class Interrupted(Exception):
    """A batch was stopped (SIGINT/SIGTERM): the benchmark ends rather than measuring partial runs."""


class PeakMemory:
    """Peak resident set of this process plus all its descendants, sampled in a thread."""

    def __init__(self, every: float = SAMPLE_EVERY) -> None:
        self.every = every
        self.peak = 0
        self.peak_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="peak-memory")

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()

    def sample(self) -> int:
        me = psutil.Process()
        total, count = 0, 0
        for process in [me, *me.children(recursive=True)]:
            try:
                total += process.memory_info().rss
                count += 1
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        self.peak_processes = max(self.peak_processes, count)
        return total

    def _run(self) -> None:
        while True:
            self.peak = max(self.peak, self.sample())
            if self._stop.wait(self.every):
                return


def batch(root: Path, *, quick: bool, workers: int, scheduler: str | None = None,
          only: list[str] | None = None, comparison: bool = True,
          reports: str = "all") -> tuple[Any, float, PeakMemory]:
    """One ``run_batch`` with its wall time and memory peak."""
    from csi_research.run.batch import run_batch

    with PeakMemory() as memory:
        start = time.perf_counter()
        result = run_batch(root, quick=quick, workers=workers, scheduler=scheduler, only=only,
                           comparison=comparison, progress=False, reports=reports)
        wall = time.perf_counter() - start
    if result.interrupted:
        why = result.stopped_by or "a stop request"
        raise Interrupted(f"the batch was stopped by {why} after {wall:.0f} s")
    return result, wall, memory


def report_batch(label: str, result: Any, wall: float, memory: PeakMemory, quick: bool, regions: int,
                 scheduler: str | None) -> bool:
    """Print a batch's numbers; True when every study and the comparison ended well."""
    runs = result.studies
    failed = [r for r in runs if not r.ok]
    seconds = sorted(r.seconds for r in runs if r.ok)
    compared = result.comparison
    print(f"\n== {label}: {len(runs)} studies, wall {wall:.1f} s ({wall / 60:.1f} min)")
    if seconds:
        print(f"   per study (in its worker): median {seconds[len(seconds) // 2]:.1f} s, "
              f"max {seconds[-1]:.1f} s, sum {sum(seconds):.0f} s")
    print(f"   studies ok: {len(runs) - len(failed)}/{len(runs)}"
          + "".join(f"\n     FAILED {r.name}: {r.error}" for r in failed[:5]))
    if compared is None:
        print("   comparison: not run")
    else:
        print(f"   comparison: {compared.status} in {compared.seconds:.1f} s"
              + (f" ({compared.error})" if compared.error else ""))
        if compared.ok:
            saved = sorted(p.name for p in compared.output_dir.glob("national_*.csv"))
            print(f"   comparison's national tables: {', '.join(saved) or 'NONE'}")
    where = "this process + descendants" if scheduler is None else "this process only (remote workers)"
    print(f"   peak resident memory: {memory.peak / 2**20:.0f} MiB ({where}; "
          f"up to {memory.peak_processes} processes)")
    target = TARGETS[quick]
    name = "quick" if quick else "full"
    if regions >= 300:
        print(f"   target: {name} <= {target / 60:.0f} min -> {'meets' if wall <= target else 'MISSES'}")
    else:  # the studies scale with their number; the comparison grows faster and is left out
        studies = wall - (compared.seconds if compared is not None else 0.0)
        projected = studies * 300 / regions
        print(f"   projected studies' wall for 300 regions (linear, comparison excluded): "
              f"{projected / 60:.1f} min (target for the whole: {name} <= {target / 60:.0f} min)")
    return (not failed and compared is not None and compared.ok
            and (compared.output_dir / "national_rollup.csv").is_file())


def on_demand(result: Any) -> bool:
    """Draw one region's reports from its run folder, as a reader asking for them would."""
    from csi_research.run.on_demand import draw_reports

    run = next((r for r in result.studies if r.ok and r.on_demand), None)
    if run is None:
        return True
    start = time.perf_counter()
    drawn = draw_reports(run.output_dir)
    seconds = time.perf_counter() - start
    ok = all(path.is_file() and path.with_suffix(".docx").is_file() for path in drawn)
    print(f"\n== one region's reports drawn on demand ({run.name}): {seconds:.1f} s "
          f"({'ok' if ok else 'MISSING FILES'}: {', '.join(p.name for p in drawn)})")
    return ok


def check_rollup(result: Any, table: Any) -> bool:
    """Time the national roll-up over the batch's bundles and check it covers every unit and wave."""
    from csi_research.programme.rollup import national_tables, rollup
    from csi_research.study.bundle import common_target, load_bundles

    paths = [r.output_dir / "bundle" for r in result.studies if r.ok]
    start = time.perf_counter()
    bundles = load_bundles(paths)
    loaded = time.perf_counter() - start
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        tables, notes = national_tables(bundles)
        seconds = time.perf_counter() - start
        start = time.perf_counter()
        with_cities = rollup.quiet(bundles, levels=("province", "city", "nation"))
        city_seconds = time.perf_counter() - start
    rolled = tables["rollup"]
    waves = sorted(table["wave"].astype(str).unique())
    latest = table[table["wave"].astype(str) == waves[-1]]
    nation = rolled[(rolled["level"] == "nation") & (rolled["construct"] == common_target(bundles))]

    def units(frame: Any, level: str) -> int:
        return frame[(frame["level"] == level) & (frame["wave"].astype(str) == waves[-1])]["unit"].nunique()

    checks = {
        "a national row per wave": sorted(nation["wave"].astype(str).unique()) == waves,
        "every province in the latest wave": units(rolled, "province") == latest["province"].nunique(),
        "every city in the latest wave (rollup with cities)":
            units(with_cities, "city") == len(latest.drop_duplicates(["province", "city"])),
        "finite national intervals": bool(nation[["index", "ci_lower", "ci_upper"]].notna().all().all()),
        "a ranking row per bundle": len(tables["ranking"]) == len(bundles),
        "regions without a 2025 wave listed missing": (
            len(tables["missing"]) == table["region"].nunique() - (table["wave"] == 2025).sum()),
    }
    print(f"\n== national roll-up over {len(bundles)} bundles: load {loaded:.1f} s, "
          f"national_tables {seconds:.1f} s, rollup with cities {city_seconds:.1f} s; rows: "
          + ", ".join(f"{name} {len(t)}" for name, t in tables.items()))
    for name, ok in checks.items():
        print(f"   {'ok  ' if ok else 'FAIL'} {name}")
    row = nation[nation["wave"].astype(str) == waves[-1]].iloc[0]
    print(f"   national {row['construct']} index {waves[-1]}: {row['index']:.2f} "
          f"[{row['ci_lower']:.2f}, {row['ci_upper']:.2f}], {len(notes)} diagnostic(s)")
    return all(checks.values())


def speedup(root: Path, studies: list[str], workers: int) -> None:
    """Quick batch of a subset on a local cluster of 1 worker, then of ``workers`` workers."""
    print(f"\n== Dask speed-up, {len(studies)} one-wave studies, quick, no comparison")
    walls = {}
    for count in sorted({1, workers}):
        result, wall, memory = batch(root, quick=True, workers=count, only=studies, comparison=False)
        ok = sum(r.ok for r in result.studies)
        walls[count] = wall
        print(f"   {count} worker(s): {wall:.1f} s, {ok}/{len(studies)} ok, "
              f"peak {memory.peak / 2**20:.0f} MiB")
    if workers > 1:
        print(f"   speed-up {workers} vs 1 worker: {walls[1] / walls[workers]:.2f}x "
              f"(os.cpu_count() = {os.cpu_count()}; load average {os.getloadavg()[0]:.1f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regions", type=int, default=300)
    parser.add_argument("--respondents", type=int, default=450, help="mean sample size per region")
    modes = parser.add_mutually_exclusive_group()
    modes.add_argument("--quick-only", action="store_true", help="skip the full (2,000 resamples) batch")
    modes.add_argument("--full-only", action="store_true", help="skip the quick batch")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--scheduler", default=None, help="address of a running Dask scheduler")
    parser.add_argument("--keep", action="store_true", help="keep the simulated folder and print its path")
    parser.add_argument("--speedup-studies", type=int, default=8,
                        help="studies in the 1-vs-N worker comparison (0: skip it)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--reports", choices=("all", "on-demand"), default="on-demand",
                        help="each region's reports in the batch, or on demand (default, as a national "
                             "programme runs it)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="Port .* is already in use")  # another cluster's dashboard
    from csi_research.programme.national import write_national_survey

    folder = Path(tempfile.mkdtemp(prefix="csi-national-"))
    ok = True
    try:
        start = time.perf_counter()
        table = write_national_survey(folder, args.regions, respondents=args.respondents, seed=args.seed)
        cities = table.groupby("province")["city"].nunique().sum()
        print(f"simulated {args.regions} fictional regions (SYNTHETIC), {len(table)} studies, "
              f"{table['n'].sum()} respondents, {table['province'].nunique()} provinces, {cities} cities "
              f"in {time.perf_counter() - start:.1f} s -> {folder}")
        root = folder / "studies"
        print(f"workers: {args.workers}" + (f", scheduler {args.scheduler}" if args.scheduler else ""))
        walls = {}
        for quick in (True,) if args.quick_only else (False,) if args.full_only else (True, False):
            label = ("quick batch" if quick else "full batch (2,000 resamples)") + f", reports {args.reports}"
            result, walls[quick], memory = batch(root, quick=quick, workers=args.workers,
                                                 scheduler=args.scheduler, reports=args.reports)
            ok &= report_batch(label, result, walls[quick], memory, quick, args.regions, args.scheduler)
            ok &= on_demand(result)
            ok &= check_rollup(result, table)
        if args.speedup_studies and args.scheduler is None:
            single = table.groupby("region")["wave"].transform("count") == 1  # independent tasks
            speedup(root, sorted(table.loc[single, "study"])[: args.speedup_studies], max(args.workers, 2))
        times = ", ".join(f"{'quick' if q else 'full'} {w / 60:.1f} min" for q, w in walls.items())
        print(f"\n== summary: {times}; {'all complete' if ok else 'SOMETHING FAILED (see above)'}")
    except Interrupted as exc:
        print(f"\nstopped: {exc}; nothing more measured")
        ok = False
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
