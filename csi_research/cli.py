"""The ``csi-research`` command: run the regional studies, generate synthetic data, validate surveys.

Every subcommand returns an exit code instead of exiting, so ``main([...])`` is testable:
0 success, 1 some studies of a batch failed, 2 unusable input (the message says what to fix).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from csi_research.errors import CSIError, CSIWarning


def _simulate(args: argparse.Namespace) -> int:
    from csi_research.simulate import load_regions, simulate_survey, write_bundled_data

    if args.all:
        for path in write_bundled_data(args.out):
            print(path)
        return 0
    if not args.region:
        regions = ", ".join(load_regions())
        print(f"error: give --all or --region ID (regions: {regions})", file=sys.stderr)
        return 2
    sim = simulate_survey(args.region, n=args.n, seed=args.seed, wave=args.wave)
    out = Path(args.out)
    if out.suffix.lower() != ".csv":
        out = out / f"{sim.profile.id}_{sim.wave}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    sim.to_csv(out)
    print(out)
    return 0


def _load(args: argparse.Namespace):
    from csi_research.codebook import Codebook
    from csi_research.survey import load_survey

    book = Codebook.from_yaml(args.codebook) if getattr(args, "codebook", None) else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CSIWarning)  # the diagnostics are printed below instead
        return load_survey(args.file, book, sheet=args.sheet)


def _print_tables(tables: dict[str, pd.DataFrame]) -> None:
    for name, table in tables.items():
        print(f"\n== {name} ==")
        print(table.to_string(index=False))


def _validate(args: argparse.Namespace) -> int:
    survey = _load(args)
    print(f"{survey.source}: valid ({len(survey.frame)} respondents, sha256 {survey.sha256[:12]})")
    _print_tables(survey.quality.summary())
    for message in survey.diagnostics:
        print(f"warning: {message}")
    return 0


def _summary(args: argparse.Namespace) -> int:
    survey = _load(args)
    _print_tables(survey.summary())
    for message in survey.diagnostics:
        print(f"warning: {message}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from csi_research.batch import run_batch

    result = run_batch(
        args.studies, workers=args.workers, quick=args.quick, only=args.only, exclude=args.exclude,
        progress=not args.no_progress, comparison=not args.no_comparison, language=args.language,
    )
    with pd.option_context("display.max_colwidth", 200, "display.width", 200):
        print(result.summary().to_string(index=False))
    failed = [r for r in result.studies if not r.ok]
    done = len(result.studies) - len(failed)
    print(f"\nrun {result.run_id}: {done} of {len(result.studies)} studies succeeded.")
    if result.comparison is not None and result.comparison.ok:
        print(f"Cross-region comparison report: {result.comparison.report}")
    folder = Path(args.studies) / "<study>" / "output" / result.run_id
    print(f"Each study's reports: {folder / 'report.<language>.html'}")
    return 1 if not result.ok else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="csi-research", description="Customer satisfaction index research for power-supply companies."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    text = "run every regional study under a folder (papermill), then the cross-region comparison"
    run = sub.add_parser("run", help=text, description=text)
    run.add_argument("studies", nargs="?", default="studies", help="folder of studies/<id>/study.yaml")
    run.add_argument("--workers", type=int, help="studies run in parallel (default: the number of cores)")
    run.add_argument("--quick", action="store_true", help="small bootstrap (each study's quick_n_boot)")
    run.add_argument("--only", nargs="+", metavar="ID", help="run only these study folders")
    run.add_argument("--exclude", nargs="+", metavar="ID", help="skip these study folders")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument("--no-comparison", action="store_true", help="skip the cross-region comparison")
    run.add_argument("--language", choices=("zh", "en", "both"),
                     help="report language(s) (default: each study's `language:`, zh when unset)")
    run.set_defaults(handler=_run)

    sim = sub.add_parser("simulate", help="write synthetic regional surveys (known true parameters)")
    sim.add_argument("--all", action="store_true", help="every bundled region and wave, with a README")
    sim.add_argument("--region", help="one bundled region id, e.g. donggang")
    sim.add_argument("--n", type=int, help="respondents (default: the region's sample size)")
    sim.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    sim.add_argument("--wave", type=int, help="survey wave (default: the region's latest)")
    sim.add_argument("--out", default="data/", help="output folder, or a .csv file with --region")
    sim.set_defaults(handler=_simulate)

    for name, handler, text in (
        ("validate", _validate, "check a survey file against the codebook and report data quality"),
        ("summary", _summary, "item means, respondents and data quality of a survey file"),
    ):
        cmd = sub.add_parser(name, help=text, description=text)
        cmd.add_argument("file", help="survey file: .csv (UTF-8 or GB18030), .xlsx, .xls, .sav, .parquet")
        cmd.add_argument("--codebook", help="questionnaire YAML (default: the built-in codebook)")
        cmd.add_argument("--sheet", help="Excel sheet name (default: the first sheet)")
        cmd.set_defaults(handler=handler)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``csi-research`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except CSIError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
