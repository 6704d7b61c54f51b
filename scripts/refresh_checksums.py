"""Checksums of the bundled studies' numbers, kept beside the lock in ``requirements.checksums.json``.

Every study under ``studies/`` is run in quick mode (``run_study(quick=True)``, the small bootstrap
CI uses) on one BLAS thread (as the batch runs them) into a temporary folder, and the SHA-256
of each file of its bundle that holds numbers is recorded: ``results.json``, ``index_draws.csv``,
``sample.csv``, ``model.yaml`` and ``tables/*.csv``. A dependency that moves any of them
shows up as a file whose checksum differs.

What is hashed is the file made canonical, not its raw bytes:

- every decimal number is rounded to ``DIGITS`` significant digits and magnitudes below ``TINY``
  count as 0, so the last-bit differences two CPUs can give for one computation (vectorised sums
  in another order, which an optimiser carries to the 10th digit and a tiny p-value to the 8th)
  do not count, while a change a report could ever show does;
- ``results.json`` leaves out what records the environment rather than the numbers
  (``versions``, ``package_version``). It holds no time, run id or absolute path to drop.

Not hashed: ``tables.xlsx`` (the CSV tables again, in a zip whose compressed bytes depend on the
zlib build), figures and the HTML and Word reports (anti-aliased font rendering, PNG encoding and
the reports' run dates vary by machine and library without any number changing).

    python scripts/refresh_checksums.py            # rewrite requirements.checksums.json (make checksums)
    python scripts/refresh_checksums.py --check    # recompute; list the files that differ (exit 1)
    python scripts/refresh_checksums.py --check --only beiling-2025 --keep /tmp/outputs
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STUDIES = ROOT / "studies"
CHECKSUMS = ROOT / "requirements.checksums.json"
DIGITS = 6     # significant digits kept: reports show at most 4; a p-value's last-bit noise reaches the 8th
TINY = 1e-12   # below this a number is rounding noise around 0 (a sign flip of 1e-17 is no change)
VOLATILE = ("versions", "package_version")  # results.json keys about the environment, not the numbers
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
HASHED = ("results.json", "index_draws.csv", "headline_draws.csv", "sample.csv", "model.yaml", "tables/*.csv")

# A decimal number standing on its own (not part of a word, a date or a version): 0.5, -3.2e-17, 1e-05.
NUMBER = re.compile(r"(?<![\w.+-])[-+]?(?:\d+\.\d*|\.\d+|\d+(?=[eE]))(?:[eE][-+]?\d+)?(?![\w.])")


def rounded(x: float) -> float:
    """``x`` to :data:`DIGITS` significant digits; 0 for magnitudes below :data:`TINY`."""
    if not math.isfinite(x):
        return x
    return 0.0 if abs(x) < TINY else float(f"{x:.{DIGITS}g}")


def _number_text(match: re.Match[str]) -> str:
    return f"{rounded(float(match.group(0))):.{DIGITS}g}"


def _rounded_json(value: Any) -> Any:
    if isinstance(value, float):
        return rounded(value)
    if isinstance(value, dict):
        return {k: _rounded_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded_json(v) for v in value]
    return value


def canonical(name: str, data: bytes) -> bytes:
    """The bytes hashed for bundle file ``name``: numbers rounded, environment records dropped."""
    text = data.decode("utf-8")
    if name.endswith(".json"):
        results = json.loads(text)
        if isinstance(results, dict):
            results = {k: v for k, v in results.items() if k not in VOLATILE}
        return json.dumps(_rounded_json(results), sort_keys=True, ensure_ascii=False).encode("utf-8")
    return NUMBER.sub(_number_text, text.replace("\r\n", "\n")).encode("utf-8")


def bundle_checksums(bundle: Path) -> dict[str, str]:
    """``{relative path: sha256 of its canonical form}`` for the hashed files of a bundle folder."""
    files = sorted({p for pattern in HASHED for p in bundle.glob(pattern) if p.is_file()})
    return {p.relative_to(bundle).as_posix(): hashlib.sha256(canonical(p.name, p.read_bytes())).hexdigest()
            for p in files}


def studies(only: Iterable[str] = ()) -> list[Path]:
    """The bundled studies' ``study.yaml`` files (all, or those named in ``only``), sorted by folder."""
    found = {p.parent.name: p for p in sorted(STUDIES.glob("*/study.yaml"))}
    unknown = sorted(set(only) - set(found))
    if unknown:
        raise SystemExit(f"no study {', '.join(unknown)} under {STUDIES} (there are {', '.join(found)})")
    return [found[name] for name in (sorted(set(only)) or found)]


def study_checksums(study: Path, out: Path) -> dict[str, str]:
    """Run ``study`` in quick mode, save its bundle (no figures) as ``out/<study>``, and hash it.

    On one BLAS and OpenMP thread, as the batch computes its bundles: with more threads a CB-SEM
    optimum moves in the 10th digit with the number of cores.
    """
    import scipy.linalg  # noqa: F401  load every BLAS and OpenMP library first: the limit below
    import semopy  # noqa: F401          reaches only those already loaded
    import sklearn.linear_model  # noqa: F401
    from threadpoolctl import threadpool_limits

    from csi_research.study.pipeline import run_study

    with threadpool_limits(limits=1):
        bundle = run_study.quiet(study, quick=True).save(out / study.parent.name, figures=False)
    return bundle_checksums(bundle)


def compare(expected: dict[str, str], actual: dict[str, str]) -> list[str]:
    """One line per file whose checksum differs, that the run no longer writes, or that is new."""
    lines = [f"{name}: differs" for name in sorted(expected.keys() & actual.keys())
             if expected[name] != actual[name]]
    lines += [f"{name}: not written any more" for name in sorted(expected.keys() - actual.keys())]
    lines += [f"{name}: new (no checksum recorded)" for name in sorted(actual.keys() - expected.keys())]
    return lines


def version_changes(recorded: dict[str, str], now: dict[str, str]) -> list[str]:
    """``name: recorded -> now`` for each package whose version differs from the checksums' record."""
    return [f"{name}: {recorded.get(name, '-')} -> {now.get(name, '-')}"
            for name in sorted(recorded.keys() | now.keys()) if recorded.get(name) != now.get(name)]


def load(path: Path = CHECKSUMS) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    os.environ.update(ONE_THREAD)  # before numpy is imported, so every library starts with one thread
    from csi_research.core.versions import package_versions

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help=f"compare with {CHECKSUMS.name} instead of rewriting it; "
                             "exit 1 if any file differs")
    parser.add_argument("--only", nargs="+", default=(), metavar="STUDY", help="with --check: these studies")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="keep the bundles in DIR (a new folder) to look into a difference")
    parser.add_argument("--out", type=Path, default=CHECKSUMS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.only and not args.check:
        parser.error("--only goes with --check: the checksums file is always rewritten for every study")
    if args.keep is not None and args.keep.exists():
        parser.error(f"--keep {args.keep} exists already; name a new folder")
    recorded = load(args.out) if args.check else None
    with tempfile.TemporaryDirectory(prefix="csi-checksums-") as tmp:
        out = args.keep or Path(tmp)
        computed: dict[str, dict[str, str]] = {}
        for study in studies(args.only):
            start = time.monotonic()
            computed[study.parent.name] = study_checksums(study, out)
            print(f"{study.parent.name}: {len(computed[study.parent.name])} files hashed "
                  f"({time.monotonic() - start:.0f} s)", flush=True)
    if recorded is None:
        record = {"about": "SHA-256 of the bundled studies' numbers in quick mode, rounded to "
                           f"{DIGITS} significant digits (scripts/refresh_checksums.py); refresh with "
                           "`make checksums` after a deliberate change, check with "
                           "`python scripts/refresh_checksums.py --check`",
                  "digits": DIGITS, "quick": True, "versions": package_versions(), "studies": computed}
        temporary = args.out.with_name(f".{args.out.name}.tmp")
        temporary.write_text(json.dumps(record, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
                             encoding="utf-8")
        temporary.replace(args.out)
        print(f"wrote {args.out}: {sum(map(len, computed.values()))} files of {len(computed)} studies")
        return 0
    differences = {name: compare(recorded["studies"].get(name, {}), sums) for name, sums in computed.items()}
    differences = {name: lines for name, lines in differences.items() if lines}
    for name, lines in differences.items():
        print(f"{name}:" + ("" if name in recorded["studies"] else " (no checksums recorded)"))
        print("\n".join(f"  {line}" for line in lines))
    if not differences:
        print(f"every file of {len(computed)} studies matches {args.out.name}")
        return 0
    changed = version_changes(recorded.get("versions", {}), package_versions())
    print("versions since the checksums were made: " + ("; ".join(changed) if changed else "none changed"))
    print("if the change is intended, run `make checksums` and commit the new checksums")
    return 1


if __name__ == "__main__":
    sys.exit(main())
