"""The ``csi-research`` command: run the regional studies, scaffold a study, generate synthetic data,
validate surveys.

Every subcommand returns an exit code instead of exiting, so ``main([...])`` is testable:
0 success, 1 some studies of a batch failed, 2 a usage error or unusable input (the message says
what to fix), 130 interrupted. A user's mistake is one message naming the problem, never a
traceback; an unexpected exception (a bug) is summarised in one line and its traceback saved to a
file the message names (``CSI_RESEARCH_DEBUG=1`` shows it instead).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import traceback
import warnings
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from csi_research.core.errors import CSIError, CSIWarning

MESSAGE_LIMIT = 3000  # characters of an error message shown; the rest is elided


def _simulate(args: argparse.Namespace) -> int:
    from csi_research.data.simulate import load_regions, simulate_survey
    from csi_research.study.bundled_data import write_bundled_data

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
    written = sim.to_csv(out)  # never over an existing file
    print(out if written else f"{out} (unchanged: it holds this survey already)")
    return 0


def _load(args: argparse.Namespace):
    from csi_research.data.codebook import Codebook
    from csi_research.data.survey import load_survey

    book = Codebook.from_yaml(args.codebook) if getattr(args, "codebook", None) else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CSIWarning)  # the diagnostics are printed below instead
        return load_survey(args.file, book, sheet=args.sheet, missing_codes=args.missing_codes or (),
                           extra_columns=args.extra_columns)


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


def _new_study(args: argparse.Namespace) -> int:
    from csi_research.data.scaffold import new_study

    paths = new_study(args.survey_file, args.out, region=args.region, wave=args.wave, sheet=args.sheet)
    for path in paths:
        print(path)
    folder = paths[0].parent
    print(f"\nNext: fill in every TODO in {folder} (the study refuses to run until they are filled),\n"
          f"then check the survey with `csi-research validate {args.survey_file} --codebook "
          f"{folder / 'codebook.yaml'}` and run it with `csi-research run {folder}`.")
    return 0


def _run(args: argparse.Namespace) -> int:
    from csi_research.run.batch import STATUSES, run_batch

    result = run_batch(
        args.studies, workers=args.workers, quick=args.quick, only=args.only, exclude=args.exclude,
        progress=not args.no_progress, comparison=not args.no_comparison, language=args.language,
        scheduler=args.scheduler, resume=args.resume, reports=args.reports,
    )
    with pd.option_context("display.max_colwidth", 200, "display.width", 200):
        print(result.summary().to_string(index=False))
    counts = Counter(r.status for r in result.studies)
    reused = sum(1 for r in result.studies if r.reused)
    tally = ", ".join([*([f"{reused} reused"] if reused else []),
                       *(f"{counts[s]} {s}" for s in STATUSES if counts[s] and s != "ok")])
    print(f"\nrun {result.run_id}: {counts['ok']} of {len(result.studies)} studies succeeded"
          + (f" ({tally})." if tally else "."))
    if result.retried:  # a worker was lost while they ran: each was run again, from a clean folder
        print("Retried after a lost worker: " + ", ".join(
            f"{r.name} ({r.attempts} attempts)" for r in result.runs if r.retried))
    if result.comparison is not None and result.comparison.ok:
        print(f"Cross-region comparison report: {result.comparison.report}")
    finished = [r.output_dir for r in result.studies if r.ok and r.output_dir is not None and not r.reused]
    if finished:  # <studies>/<study>/output/<run id>; a reused study's reports are listed in the table
        folder = finished[0].parents[2] / "<study>" / "output" / result.run_id
        if args.reports == "on-demand":
            print(f"Each study's bundle: {folder / 'bundle'}; draw a study's reports when needed with "
                  f"`csi-research report {folder}`")
        else:
            print(f"Each study's reports: {folder / 'report.<language>.html'} (and .docx)")
    if result.interrupted:
        print(f"Stopped by {result.stopped_by or 'a stop request'}: unfinished run folders are marked "
              "INCOMPLETE and no comparison reads them; run the batch again for the missing studies.",
              file=sys.stderr)
        return 130
    return 0 if result.ok else 1


def _report(args: argparse.Namespace) -> int:
    from csi_research.run.on_demand import draw_reports

    for folder in args.folders:
        before = set(Path(folder).resolve().glob("report.*.html"))
        for path in draw_reports(folder, args.language):
            kept = ", drawn before" if path in before else ""
            print(f"{path} (and {path.with_suffix('.docx').name}){kept}")
    return 0


def _plan(args: argparse.Namespace) -> int:
    from csi_research.programme import planning

    if args.out and Path(args.out).exists():  # before any work: a plan is never written over a file
        print(f"error: {args.out} exists already: choose a new file name", file=sys.stderr)
        return 2
    stated = {"response_rate": args.response_rate, "deff": args.deff,
              "item_nonresponse": args.item_nonresponse}
    if args.bundles:
        found = [_bundle_folder(Path(b)) for b in args.bundles]
        plans = [planning.assumptions_from_bundle(b, args.response_rate, args.deff, args.item_nonresponse)
                 for b in found]
    elif args.sd is not None:
        regions = args.region or ["region"]
        populations = args.customers or [None] * len(regions)
        if len(populations) != len(regions):
            print("error: give one --customers value per --region", file=sys.stderr)
            return 2
        plans = [planning.PlanAssumptions(region=r, sd=args.sd, population=p,
                                      **{k: v for k, v in stated.items() if v is not None})
                 for r, p in zip(regions, populations, strict=True)]
    else:
        print("error: give a previous wave's bundle folder(s), or --sd (and --deff, --response-rate, "
              "--item-nonresponse) for a first wave", file=sys.stderr)
        return 2
    if args.total and args.budget:
        print("error: give --total (interviews) or --budget (money), not both", file=sys.stderr)
        return 2
    if args.cost:
        if len(args.cost) not in (1, len(plans)):
            print(f"error: give one --cost for every region or one per region ({len(plans)})",
                  file=sys.stderr)
            return 2
        costs = args.cost * len(plans) if len(args.cost) == 1 else args.cost
        plans = [dataclasses.replace(p, cost=c) for p, c in zip(plans, costs, strict=True)]
    table = planning.plan_sample(plans, args.half_width, ci=args.ci)
    shown = ["region", "attribute", "segment", "previous_n", "sd", "deff", "item_nonresponse",
             "response_rate", "completes", "contacts"]
    with pd.option_context("display.width", 200, "display.float_format", "{:.3g}".format):
        print(f"Interviews for a CSI interval of ±{args.half_width:g} points ({args.ci:.0%}):")
        print(table[shown].to_string(index=False))
        if args.total or args.budget:
            allocation = planning.allocate_sample(plans, args.total, args.allocation, ci=args.ci,
                                                  budget=args.budget)
            spent = f"{args.total} interviews" if args.total else f"a budget of {args.budget:g}"
            print(f"\n{spent} across the regions ({args.allocation} allocation):")
            print(allocation.to_string(index=False))
            table = pd.concat([table.assign(table="requirement"), allocation.assign(table="allocation")],
                              ignore_index=True)
    if args.out:
        print(f"\nwritten: {planning.write_plan(table, args.out)}")
    return 0


def _bundle_folder(path: Path) -> Path:
    """A bundle folder, or a study's run folder holding one (``<run>/bundle``)."""
    if (path / "bundle" / "results.json").is_file():
        return path / "bundle"
    if (path / "results.json").is_file():
        return path
    raise CSIError(f"{path}: not a results bundle (no results.json) nor a run folder with bundle/")


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    return value


def _positive(text: str) -> int:
    """argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="csi-research", description="Customer satisfaction index research for power-supply companies."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    text = "run every regional study under a folder (papermill), then the cross-region comparison"
    run = sub.add_parser("run", help=text, description=text)
    run.add_argument("studies", nargs="?", default="studies", help="folder of studies/<id>/study.yaml")
    run.add_argument("--workers", type=_positive,
                     help="studies run in parallel (default: the number of cores)")
    run.add_argument("--quick", action="store_true", help="small bootstrap (each study's quick_n_boot)")
    run.add_argument("--only", nargs="+", metavar="ID", help="run only these study folders")
    run.add_argument("--exclude", nargs="+", metavar="ID", help="skip these study folders")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument("--no-comparison", action="store_true", help="skip the cross-region comparison")
    run.add_argument("--language", choices=("zh", "en", "both"),
                     help="report language(s) (default: each study's `language:`, zh when unset)")
    run.add_argument("--scheduler", metavar="ADDRESS",
                     help="send the studies to this running Dask scheduler, e.g. tcp://10.0.0.5:8786 (its "
                          "workers need csi-research and the same paths); default: a local cluster")
    run.add_argument("--resume", action="store_true",
                     help="run only studies whose inputs changed or whose last run did not finish; "
                          "reuse the others' last complete runs")
    run.add_argument("--reports", choices=("all", "on-demand"), default="all",
                     help="all: every study's reports (default); on-demand: every study's bundle and the "
                          "comparison with its national and provincial figures now, each study's own reports "
                          "later with `csi-research report` (for programmes of hundreds of regions)")
    run.set_defaults(handler=_run)

    text = "draw the reports of run folders a batch with --reports on-demand saved"
    report = sub.add_parser("report", help=text, description=text)
    report.add_argument("folders", nargs="+", metavar="RUN_FOLDER", help="studies/<id>/output/<run id>")
    report.add_argument("--language", choices=("zh", "en", "both"),
                        help="report language(s) (default: the run's own)")
    report.set_defaults(handler=_report)

    sim = sub.add_parser("simulate", help="write synthetic regional surveys (known true parameters)")
    sim.add_argument("--all", action="store_true", help="every bundled region and wave, with a README")
    sim.add_argument("--region", help="one bundled region id, e.g. donggang")
    sim.add_argument("--n", type=_positive, help="respondents (default: the region's sample size)")
    sim.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    sim.add_argument("--wave", type=int, help="survey wave (default: the region's latest)")
    sim.add_argument("--out", default="data/", help="output folder, or a .csv file with --region")
    sim.set_defaults(handler=_simulate)

    text = "scaffold a study folder for your own survey file: study.yaml and a codebook draft to fill in"
    new = sub.add_parser("new-study", help=text, description=text)
    new.add_argument("survey_file", help="survey file: .csv (UTF-8 or GB18030), .xlsx, .xls, .sav, .parquet")
    new.add_argument("--out", help="the new study folder (default: studies/<file name>); must not exist")
    new.add_argument("--region", help="region id (default: the file's region column or name)")
    new.add_argument("--wave", help="survey wave, e.g. 2025 (default: the file's wave column or name)")
    new.add_argument("--sheet", help="Excel sheet name (default: the sheet holding the survey)")
    new.set_defaults(handler=_new_study)

    text = ("interviews needed per region and segment for a target CSI interval half-width, from a "
            "previous wave's bundles or stated assumptions, and their allocation across a province")
    plan = sub.add_parser("plan", help=text, description=text)
    plan.add_argument("bundles", nargs="*", help="previous wave's bundle folders (or run folders with one)")
    plan.add_argument("--half-width", type=_rate, required=True,
                      help="target half-width of the CSI interval, points on the 0-100 scale, e.g. 1.5")
    plan.add_argument("--ci", type=_rate, default=0.95, help="interval level (default 0.95)")
    plan.add_argument("--response-rate", type=_rate, default=1.0,
                      help="completed interviews per contact, e.g. 0.35 (default 1: contacts = completes)")
    plan.add_argument("--deff", type=_rate,
                      help="design effect of the weights (default: the bundle's Kish deff, else 1)")
    plan.add_argument("--item-nonresponse", type=_rate,
                      help="share of the index's answers missing (default: the bundle's, else 0)")
    plan.add_argument("--sd", type=_rate,
                      help="without a bundle: SD of the index score per respondent (0-100)")
    plan.add_argument("--region", nargs="+", help="without a bundle: region names")
    plan.add_argument("--customers", type=_rate, nargs="+", help="without a bundle: customers per region")
    plan.add_argument("--total", type=_positive, help="a fixed total of completed interviews to allocate")
    plan.add_argument("--budget", type=_rate, help="a fixed budget in money to allocate (needs --cost)")
    plan.add_argument("--cost", type=_rate, nargs="+",
                      help="cost of one completed interview: one value, or one per region in order")
    plan.add_argument("--allocation", choices=("proportional", "equal", "neyman"), default="neyman",
                      help="how --total is shared (default neyman: the most precise provincial index)")
    plan.add_argument("--out", help="CSV file to write (must not exist)")
    plan.set_defaults(handler=_plan)

    for name, handler, text in (
        ("validate", _validate, "check a survey file against the codebook and report data quality"),
        ("summary", _summary, "item means, respondents and data quality of a survey file"),
    ):
        cmd = sub.add_parser(name, help=text, description=text)
        cmd.add_argument("file", help="survey file: .csv (UTF-8 or GB18030), .xlsx, .xls, .sav, .parquet")
        cmd.add_argument("--codebook", help="questionnaire YAML (default: the built-in codebook)")
        cmd.add_argument("--sheet", help="Excel sheet name (default: the sheet holding the survey)")
        cmd.add_argument("--missing-codes", type=int, nargs="+", metavar="CODE",
                         help="codes meaning \"don't know\" for every item, e.g. 99")
        cmd.add_argument("--extra-columns", choices=("keep", "error"), default="keep",
                         help="columns the codebook does not know: kept aside (default) or an error")
        cmd.set_defaults(handler=handler)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``csi-research`` console script."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse printed the usage and the problem (or the help)
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return args.handler(args)
    except CSIError as exc:
        _error(str(exc))
        return 2
    except OSError as exc:  # a path that cannot be read or written: the user's to fix
        where = f"{exc.filename}: " if exc.filename else ""
        _error(f"{where}{exc.strerror or exc}")
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line here, the traceback kept for the report
        if os.environ.get("CSI_RESEARCH_DEBUG"):
            raise
        log = _save_traceback()
        _error(f"unexpected {type(exc).__name__}: {exc}. This is a bug in csi-research, not in your "
               f"input; please report it with the traceback saved in {log}")
        return 1


def _error(message: str) -> None:
    if len(message) > MESSAGE_LIMIT:
        message = message[:MESSAGE_LIMIT] + f" … ({len(message) - MESSAGE_LIMIT} more characters)"
    print(f"error: {message}", file=sys.stderr)


def _save_traceback() -> str:
    fd, path = tempfile.mkstemp(prefix="csi-research-error-", suffix=".txt")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(traceback.format_exc())
    return path


if __name__ == "__main__":
    sys.exit(main())
