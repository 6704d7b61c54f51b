"""One regional study from its ``study.yaml`` to a results bundle.

``run_study`` is the whole pipeline in the package — notebooks only narrate what it returns —
so a study gives the same numbers whether it is run from a notebook, a script or the batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from csi_research.core.diagnostics import collect, public
from csi_research.core.errors import EstimationError, ModelSpecError
from csi_research.core.output import frame_records
from csi_research.model import CSIModel
from csi_research.stats.intervals import excludes_zero
from csi_research.study.config import StudyConfig

__all__ = ["StudyConfig", "StudyResult", "run_study"]


@dataclass(frozen=True)
class StudyResult:
    """Everything a regional report shows; ``save`` writes it as a bundle.

    Every table stands on ``sample`` — one set of respondents, one missing-data treatment, one
    set of survey weights — and every interval is at level ``config.ci``.
    """

    config: StudyConfig
    quick: bool
    n_boot: int
    survey: Any
    sample: Any
    pls: Any
    cbsem: Any | None
    measurement: Any
    boot: Any
    indices: pd.DataFrame
    index_draws: pd.DataFrame
    ipma: Any
    grade_index: pd.DataFrame
    segments: pd.DataFrame
    industry: Any | None
    diagnostics: tuple[str, ...] = field(default_factory=tuple)
    records: Any | None = None  # the service records' driver analysis (csi_research.records), if given
    prediction: Any | None = None  # PLSpredict of the PLS fit (csi_research.stats.predict)
    cvpat: Any | None = None  # CVPAT of that PLSpredict against its benchmarks (csi_research.stats.cvpat)
    moderation: tuple[Any, ...] = ()  # the declared moderation analyses (csi_research.stats.moderation)
    first_stage: Any | None = None  # measurement quality of a two-stage higher-order model's stage 1
    headline: pd.DataFrame | None = None  # the programme's headline figures with intervals (stats.headline)
    index_bands: pd.DataFrame | None = None  # grade band of the CSI and the satisfaction rate, both ends
    headline_draws: pd.DataFrame | None = None  # their bootstrap draws, one column per figure
    _pngs: dict[tuple[str, str], bytes] = field(default_factory=dict, init=False, repr=False, compare=False)

    # ------------------------------------------------------------------ numbers
    @property
    def model(self) -> CSIModel:
        """The model the PLS fit estimated (with higher-order constructs: the first-order form)."""
        return self.pls.model

    @property
    def declared_model(self) -> CSIModel:
        """The model as declared (higher-order constructs over their components)."""
        return self.sample.model

    def components(self) -> pd.DataFrame:
        """How the components form each higher-order construct, with intervals (empty without one)."""
        from csi_research.stats.higher_order import components

        return components(self.pls, self.boot)

    @property
    def target(self) -> str:
        """The construct whose index is the overall CSI (the model's target)."""
        return self.model.require_target()

    @property
    def overall_csi(self) -> float:
        """The overall CSI of the ACSI method: the index of the model's target construct."""
        return float(self.indices.at[self.target, "index"])

    def paths(self) -> pd.DataFrame:
        """PLS paths with their bootstrap SE and interval, their effect size f² (Cohen's label beside
        it), and the CB-SEM standardised estimate.

        The bootstrap resampled the fit itself, so its ``estimate`` is the PLS estimate.
        """
        from csi_research.stats.effects import f2_size

        boot = self.boot.estimates
        columns = ["source", "target", "estimate", "se", "ci_lower", "ci_upper"]
        table = boot[boot["statistic"] == "path"][columns].reset_index(drop=True).assign(level=self.boot.ci)
        table["excludes_zero"] = excludes_zero(table["ci_lower"], table["ci_upper"])
        f2 = boot[boot["statistic"] == "f2"].set_index(["source", "target"])["estimate"]
        table["f2"] = f2.reindex(list(zip(table["source"], table["target"], strict=True))).to_numpy(float)
        table["f2_size"] = [f2_size(v) if np.isfinite(v) else "" for v in table["f2"]]
        if self.cbsem is not None:
            cb = self.cbsem.paths[["source", "target", "std_estimate"]].rename(
                columns={"std_estimate": "cbsem_std"}
            )
            table = table.merge(cb, on=["source", "target"], how="left")
        return table

    def mediation(self) -> pd.DataFrame:
        """Every specific indirect effect with its interval, the direct effect and the mediation type."""
        from csi_research.stats.effects import indirect_effects

        return indirect_effects(self.boot)

    def prediction_power(self) -> Any | None:
        """How well the model predicts the target construct out of sample (None without PLSpredict)."""
        return None if self.prediction is None else self.prediction.power(self.target)

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table of the report, by name (the bundle's ``tables/*.csv``)."""
        quality = self.survey.quality
        out = {
            "indices": self.indices.reset_index(),
            "paths": self.paths(),
            "effects": self.pls.effects,
            "mediation": self.mediation(),
            "r2": self.pls.r2.rename("r2").rename_axis("construct").reset_index(),
            "outer_model": self.pls.loadings.merge(self.pls.weights, on=["construct", "item"]),
            "reliability": self.measurement.reliability.reset_index(),
            "htmt": self.measurement.htmt.rename_axis("construct").reset_index(),
            "item_missingness": quality.item_missing.rename_axis("item").reset_index(),
            "ipma_constructs": self.ipma.constructs,
            "ipma_items": self.ipma.items,
            "priorities": self.ipma.priorities,
            "ipma_context": self.ipma.context,
            "grade_index": self.grade_index,
            "segments": self.segments,
            "bootstrap": self.boot.estimates.assign(level=self.boot.ci),
        }
        if self.headline is not None:
            out |= {"headline": self.headline, "index_bands": self.index_bands}
        if self.declared_model.higher_order:
            out["higher_order"] = self.components()
            if self.first_stage is not None:
                parts = list(self.declared_model.components)
                out["higher_order_reliability"] = self.first_stage.reliability.loc[parts].reset_index()
        if self.prediction is not None:
            out |= {"prediction": self.prediction.items, "prediction_constructs": self.prediction.constructs}
        if self.cvpat is not None:
            out["cvpat"] = self.cvpat.table
        if self.moderation:
            def tagged(attribute: str) -> pd.DataFrame:
                return pd.concat([getattr(m, attribute).assign(predictor=m.predictor, moderator=m.moderator,
                                                               target=m.target) for m in self.moderation],
                                 ignore_index=True)
            out |= {"moderation": tagged("paths"), "moderation_slopes": tagged("slopes")}
        if self.records is not None:
            out |= {"record_drivers": self.records.ranking, "record_pareto": self.records.pareto,
                    "record_segments": self.records.segments}
        if self.cbsem is not None:
            out["cbsem_estimates"] = self.cbsem.estimates
            out["cbsem_fit"] = self.cbsem.fit_indices.rename("value").rename_axis("measure").reset_index()
        if self.industry is not None:
            out.update({f"industry_{k}": v for k, v in self.industry.summary().items()})
        return out

    def values(self) -> dict[str, Any]:
        """The headline scalars of the study."""
        sample = self.sample
        out = {
            "n": int(sample.n),
            "n_received": int(sample.n_received),
            "n_dropped": int(sample.n_dropped),
            "n_imputed": int(sample.n_imputed),
            "missing": sample.missing,
            "weighted": bool(sample.weighted),
            "target": self.target,
            "overall_csi": self.overall_csi,
            "ci": float(self.boot.ci),
            "index_target": self.config.index_target,
            "gof": float(self.pls.gof),
            "cbsem_admissible": None if self.cbsem is None else bool(self.cbsem.admissible),
            # which estimator and standard errors stand behind the CB-SEM tables (the comparison says it)
            "cbsem_estimator": None if self.cbsem is None else self.cbsem.estimator,
            "cbsem_information": None if self.cbsem is None else self.cbsem.options.get("information"),
            "bootstrap_failed": int(self.boot.n_failed),
        }
        if (power := self.prediction_power()) is not None:
            out |= {"prediction_power": power.level, "prediction_q2_min": power.q2_min,
                    "prediction_items_beating_lm": power.n_beating_lm, "prediction_items": power.n_items,
                    "prediction_folds": int(self.prediction.k),
                    "prediction_repeats": int(self.prediction.repeats)}
        if self.cvpat is not None:
            p = self.cvpat.table.set_index("benchmark")["p_value"]
            out |= {"cvpat_p_ia": float(p["IA"]), "cvpat_p_lm": float(p["LM"])}
        if self.industry is not None:
            out["industry_fuzzy_score"] = float(self.industry.fuzzy.score)
            quality = self.industry.quality_index
            if quality is not None and len(quality):
                out["industry_internal_score"] = float(quality["internal_score"].iloc[0])
                out["industry_service_quality_index"] = float(quality["service_quality_index"].iloc[0])
        return out

    def results(self, tables: dict[str, pd.DataFrame] | None = None) -> dict[str, Any]:
        """The bundle's ``results.json`` content: no timestamps, so the same run gives the same bytes."""
        from csi_research.core import __version__
        from csi_research.core.versions import package_versions

        tables = self.tables() if tables is None else tables
        return {
            "package_version": __version__,
            "versions": package_versions(),  # what made these numbers (requirements.lock pins them)
            "study": self.config.to_dict(),
            "data_sha256": self.survey.sha256,
            "seed": self.config.seed,
            "n_boot": self.n_boot,
            "ci": float(self.boot.ci),
            "quick": self.quick,
            "synthetic": self.config.synthetic,
            "values": self.values(),
            "diagnostics": list(self.diagnostics),
            "tables": {name: frame_records(t) for name, t in tables.items()},
        }

    # ------------------------------------------------------------------ figures
    def figure_names(self) -> list[str]:
        """The bundle's figures: :data:`FIGURES` and a simple-slope plot per moderation analysis."""
        return [*FIGURES, *(f"simple_slopes_{i}" for i in range(1, len(self.moderation) + 1))]

    def figure(self, name: str, language: str) -> bytes:
        """Figure ``name`` (one of :meth:`figure_names`) in ``language`` as PNG bytes.

        Rendered once per language and kept: the report embeds the very bytes the bundle saves.
        """
        key = (name, language)
        if key not in self._pngs:
            from csi_research.render import plots

            draw = {
                **{f"simple_slopes_{i}": (lambda m=m: plots.simple_slopes(m, self.model, language=language))
                   for i, m in enumerate(self.moderation, start=1)},
                "path_diagram": lambda: plots.path_diagram(self.model, self.pls, significance=self.paths(),
                                                           language=language),
                "indices": lambda: plots.index_bars(self.indices.reset_index(),
                                                    threshold=self.config.index_target, language=language),
                "ipma": lambda: plots.ipma_map(self.ipma, language=language),
            }
            self._pngs[key] = plots.to_png(draw[name]())
        return self._pngs[key]

    # ------------------------------------------------------------------ bundle
    def save(self, folder: str | Path, figures: bool = True, language: str | None = None) -> Path:
        """Write the bundle as ``folder``, which must not exist; it appears only once complete.

        Its figures are the report's, in ``language`` (default: the study's).
        """
        from csi_research.study.bundle import write_bundle

        tables = self.tables()
        prepared = self.sample.x.assign(weight=self.sample.weights)
        language = language or self.config.language

        def write_figures(folder: Path) -> None:
            folder.mkdir(parents=True, exist_ok=True)  # in the staging folder: no one reads it yet
            for name in self.figure_names():
                (folder / f"{name}.png").write_bytes(self.figure(name, language))

        return write_bundle(folder, self.results(tables), self.index_draws, tables,
                            figures=write_figures if figures else None, sample=prepared,
                            model=self.declared_model.to_yaml(), headline_draws=self.headline_draws)


def _higher_order(model: CSIModel, config: StudyConfig, codebook: Any) -> CSIModel:
    """The model with the study's declared higher-order constructs; errors name the study file's key."""
    for i, declared in enumerate(config.higher_order):
        construct, components = declared["construct"], declared["components"]
        try:
            if components == "subindicators":
                components = _subindicator_components(model, construct, codebook)
            items = {c: spec["items"] for c, spec in components.items()}
            labels = {c: (spec.get("label_zh", c), spec.get("label_en", c)) for c, spec in components.items()}
            model = model.with_higher_order(construct, items, method=declared["method"],
                                            mode=declared.get("mode"), labels=labels)
        except ModelSpecError as exc:
            raise ModelSpecError(f"{config.path}: higher_order[{i}]: {exc}") from None
    return model


def _subindicator_components(model: CSIModel, construct: str, codebook: Any) -> dict[str, dict[str, Any]]:
    """The questionnaire's own level below a construct: its items grouped by their sub-indicator."""
    items = model.constructs.get(construct, ())
    try:
        subs = [codebook.item(item).subindicator for item in items]
    except KeyError as exc:
        raise ModelSpecError(f"components: subindicators needs the items in the codebook: {exc}") from None
    found = {s: codebook.subindicators[s] for s in dict.fromkeys(subs)}
    return {s: {"items": [i for i, t in zip(items, subs, strict=True) if t == s], "label_zh": sub.label_zh,
                "label_en": sub.label_en} for s, sub in found.items()}


def _moderation(config: StudyConfig, pls: Any, declared: Mapping[str, Any], i: int, n_boot: int,
                records: tuple[Any, Any, Any] | None) -> Any:
    """One declared moderation analysis; a declaration the model cannot take names the study file's key.

    The moderator is a construct, a column of the survey (a segment) or a feature of the service
    records (e.g. ``outage_count`` with ``above: 0``: had an outage in the reference period)."""
    from csi_research.stats.moderation import moderation

    name, values, label = declared["moderator"], None, None
    features = records[1] if records else None
    if (name not in pls.model.constructs and name not in pls.sample.frame.columns and features is not None
            and name in features.frame.columns):
        by_id = features.frame.set_index(features.id_column)[name]
        ids = pls.sample.frame[features.id_column]
        values = pd.Series(by_id.reindex(ids).to_numpy(), index=pls.sample.x.index)
        entry = features.catalog.set_index("feature").loc[name]
        label = (str(entry["label_zh"]), str(entry["label_en"]))
    try:
        return moderation.quiet(pls, declared["predictor"], name, declared["target"], n_boot=n_boot,
                                seed=config.seed, ci=config.ci, values=values, level=declared.get("level"),
                                above=declared.get("above"), label=label)
    except ModelSpecError as exc:
        raise ModelSpecError(f"{config.path}: moderation[{i}]: {exc}") from None


# The study's figures (the bundle's ``figures/<name>.png``; drawn by StudyResult.figure).
FIGURES = ("path_diagram", "indices", "ipma")
PREDICT_FOLDS, PREDICT_REPEATS = 10, 10  # PLSpredict as Shmueli et al. (2019) recommend (1 repeat when quick)


@public
def run_study(
    config: StudyConfig | str | Path, *, quick: bool = False, workers: int | None = 1, progress: bool = False
) -> StudyResult:
    """Run one regional study: load and validate, prepare the sample, estimate, index, bootstrap.

    The sample is prepared once (respondents kept, missing-data treatment, survey weights) and
    every later step takes the fit. ``quick`` uses the study's small bootstrap size (for CI and
    drafts). Problems that do not stop the study (non-admissible CB-SEM, low reliability, small
    segments...) are collected from the results into ``diagnostics`` and raised once each as a
    CSIWarning — never hidden; a report that prints the diagnostics itself calls
    ``run_study.quiet``.
    """
    if isinstance(config, str | Path) and (computed := COMPUTED.get(study_key(config, quick))) is not None:
        return computed
    return _run(config, quick, workers, progress)


# A study's reports in several languages all narrate one result. The batch's warm executor computes
# it once, in the process its languages' notebooks are forked from, and leaves it here keyed by
# the study file and mode; run_study then hands it back. Empty in every other process.
COMPUTED: dict[tuple[str, bool], StudyResult] = {}


def study_key(path: str | Path, quick: bool) -> tuple[str, bool]:
    return str(Path(path).resolve()), bool(quick)


def _run(config: StudyConfig | str | Path, quick: bool, workers: int | None, progress: bool) -> StudyResult:
    from csi_research.data.codebook import Codebook
    from csi_research.data.sample import prepare
    from csi_research.data.survey import check_identity, load_survey
    from csi_research.stats.bootstrap import bootstrap
    from csi_research.stats.cvpat import cvpat_of
    from csi_research.stats.headline import headline_figures
    from csi_research.stats.indices import csi_indices, grade_score_index
    from csi_research.stats.ipma import ipma
    from csi_research.stats.measurement import measurement_quality
    from csi_research.stats.pls import fit_pls
    from csi_research.stats.predict import predict

    if not isinstance(config, StudyConfig):
        config = StudyConfig.from_yaml(config)
    codebook = Codebook.from_yaml(config.codebook) if config.codebook else Codebook.default()
    model = CSIModel.from_yaml(config.model) if config.model else codebook.model()
    model = _higher_order(model, config, codebook)
    model.require_target()
    n_boot = config.quick_n_boot if quick else config.n_boot

    survey = load_survey.quiet(config.data, codebook, sheet=config.sheet, missing_codes=config.missing_codes,
                               extra_columns=config.extra_columns)
    # a study pointed at another region's or wave's file must not report it under its own name
    check_identity(survey, region=(config.region_id, config.region_zh, config.region_en), wave=config.wave,
                   where=str(config.path))
    sample = prepare.quiet(model, survey, missing=config.missing, weights=config.weighting)
    pls = fit_pls.quiet(sample, scheme=config.scheme, scaled=config.scaled)
    cbsem, cbsem_note = _fit_cbsem(sample, config)
    measurement = measurement_quality.quiet(pls)
    first_stage = measurement_quality.quiet(pls.first_stage) if pls.first_stage is not None else None
    records = _service_records(config, survey)
    try:
        figures = headline_figures.quiet(pls, **config.headline, complaints=_complaints(pls.sample, records))
    except ModelSpecError as exc:
        raise ModelSpecError(f"{config.path}: {exc}") from None
    boot = bootstrap.quiet(pls, n_boot=n_boot, seed=config.seed, ci=config.ci, workers=workers,
                           progress=progress, extra=figures.extra())
    point = csi_indices.quiet(pls)
    indices, draws = _index_table(pls, point, boot)
    importance = ipma.quiet(pls)
    repeats = 1 if quick else PREDICT_REPEATS
    prediction = predict.quiet(pls, k=PREDICT_FOLDS, repeats=repeats, seed=config.seed)
    tested = cvpat_of(pls.sample, prediction)
    moderated = tuple(_moderation(config, pls, declared, i, n_boot, records)
                      for i, declared in enumerate(config.moderation))
    grades = grade_score_index.quiet(pls)
    segments = [_segment(pls, column) for column in config.segments]
    industry, industry_note = _industry(config, pls, float(point[model.target]))
    diagnostics = collect(survey, pls, cbsem, measurement, boot, point, importance, prediction, *moderated,
                          grades, *segments, industry, *(records or ()), figures,
                          extra=[*cbsem_note, *industry_note])
    headline = figures.table(boot)
    return StudyResult(
        config=config, quick=quick, n_boot=n_boot, survey=survey, sample=sample, pls=pls, cbsem=cbsem,
        measurement=measurement, boot=boot, indices=indices, index_draws=draws, ipma=importance,
        grade_index=grades, segments=_segment_table(segments), industry=industry, diagnostics=diagnostics,
        records=records[-1] if records else None, prediction=prediction, cvpat=tested,
        moderation=moderated, first_stage=first_stage, headline=headline,
        index_bands=_index_bands(indices, headline, model, codebook),
        headline_draws=pd.DataFrame({f: boot.draws[f][:, 0] for f in figures.names}),
    )


def _complaints(sample: Any, records: tuple[Any, Any, Any] | None) -> np.ndarray | None:
    """Each respondent's complaints in the records' reference period, in the sample's order."""
    if records is None:
        return None
    features = records[1]
    by_id = features.frame.set_index(features.id_column)[features.count_feature("complaint")]
    return by_id.reindex(sample.frame[features.id_column]).fillna(0.0).to_numpy(dtype=float)


def _index_bands(indices: pd.DataFrame, headline: pd.DataFrame, model: Any, codebook: Any) -> pd.DataFrame:
    """The grade band (the industry evaluation's score-band rule) of the overall CSI and of the
    satisfaction rate, for the value and both ends of its interval, on the target's answer scale."""
    from csi_research.evaluation.fuzzy import score_grade
    from csi_research.stats.headline import band_table

    target = model.target
    scale = codebook.scale_of(model.constructs[target][0])
    rows = {"csi": tuple(float(indices.at[target, c]) for c in ("index", "ci_lower", "ci_upper"))}
    rate = headline[headline["figure"] == "satisfaction_rate"]
    if len(rate):
        rows["satisfaction_rate"] = tuple(float(rate[c].iloc[0]) for c in ("value", "ci_lower", "ci_upper"))
    return band_table(rows, score_grade, scale)


def _service_records(config: StudyConfig, survey: Any) -> tuple[Any, Any, Any] | None:
    """Records, per-customer features and driver analysis of the study's service records, if any.

    Errors name the study file (the records file names itself in the loader's messages).
    """
    if config.service_records is None:
        return None
    from csi_research.core.errors import CSIError
    from csi_research.records import customer_features, driver_analysis, load_records

    try:
        records = load_records.quiet(config.service_records, survey=survey)
        features = customer_features.quiet(records, survey)
        drivers = driver_analysis.quiet(features, survey, threshold=config.index_target, seed=config.seed)
    except CSIError as exc:
        raise type(exc)(f"{config.path}: service_records: {exc}") from None
    return records, features, drivers


def _fit_cbsem(sample: Any, config: StudyConfig) -> tuple[Any | None, list[str]]:
    if not config.cbsem:
        return None, []
    from csi_research.stats.cbsem import fit_cbsem

    try:
        return fit_cbsem.quiet(sample, estimator=config.cbsem_estimator), []
    except EstimationError as exc:  # the PLS results stand on their own; say why CB-SEM is absent
        return None, [f"CB-SEM could not be estimated: {exc}"]


def _index_table(pls: Any, point: pd.Series, boot: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Point indices with their bootstrap intervals (at the bootstrap's level), and the draws."""
    model = pls.model
    est = boot.estimates
    est = est[est["statistic"] == "index"].set_index("construct")
    table = pd.DataFrame(
        {
            "label_zh": [model.label(c, "zh") for c in model.names],
            "label_en": [model.label(c, "en") for c in model.names],
            "index": point.reindex(model.names).to_numpy(),
            "ci_lower": est["ci_lower"].reindex(model.names).to_numpy(),
            "ci_upper": est["ci_upper"].reindex(model.names).to_numpy(),
            "level": boot.ci,
            "se": est["se"].reindex(model.names).to_numpy(),
            "n": point.attrs["n"],
        },
        index=pd.Index(model.names, name="construct"),
    )
    draws = pd.DataFrame(boot.draws["index"], columns=model.names)
    return table, draws


def _segment(pls: Any, column: str) -> pd.DataFrame:
    from csi_research.stats.indices import segment_indices

    table = segment_indices.quiet(pls, column)
    out = table.rename(columns={column: "segment"}).assign(attribute=column)
    out.attrs["diagnostics"] = table.attrs["diagnostics"]
    return out


def _segment_table(parts: list[pd.DataFrame]) -> pd.DataFrame:
    columns = ["attribute", "segment", "construct", "index", "n", "small", "sd_ratio"]
    if not parts:
        return pd.DataFrame(columns=columns)
    table = pd.concat(parts, ignore_index=True)
    table["segment"] = table["segment"].astype(str)
    return table[columns]


def _industry(config: StudyConfig, pls: Any, external_csi: float) -> tuple[Any | None, list[str]]:
    """The industry's own evaluation (AHP, rough sets, fuzzy, internal indicators), if configured.

    Errors name the file they come from: the study file for its section, the indicator file for
    its values.
    """
    if config.industry_evaluation is None:
        return None, []
    from csi_research.core.errors import CSIError
    from csi_research.evaluation import industry_evaluation

    spec = None if config.industry_evaluation == "default" else config.industry_evaluation
    internal, notes = _internal_indicators(config)
    try:
        result = industry_evaluation.quiet(pls, spec=spec, internal=internal, external_csi=external_csi)
    except CSIError as exc:  # the section of the study file (the indicator values were checked below)
        raise type(exc)(f"{config.path}: {exc}") from None
    return result, notes


def _internal_indicators(config: StudyConfig) -> tuple[pd.DataFrame | None, list[str]]:
    """This region's and wave's row of the internal indicators, or None with a note saying why."""
    if config.internal_indicators is None:
        return None, []
    from csi_research.core.errors import SurveyDataError
    from csi_research.evaluation import load_internal_indicators
    from csi_research.evaluation.internal import indicator_definitions, validate_internal

    source = None if config.internal_indicators == "default" else config.internal_indicators
    try:
        table = load_internal_indicators(source)
    except (OSError, ValueError) as exc:  # the file cannot be read or parsed as CSV
        raise SurveyDataError(f"{source}: cannot read the internal indicators: {exc}") from None
    for column in ("region", "year"):
        if column not in table.columns:
            raise SurveyDataError(
                f"{source}: internal indicators need a {column!r} column (one row per region and year)"
            )
    internal = table[(table["region"].astype(str) == config.region_id)
                     & (table["year"].astype(str) == config.wave)]
    if internal.empty:
        return None, [
            f"{config.path}: no internal indicators for region {config.region_id} wave {config.wave}; "
            "the combined service-quality index is left out"
        ]
    try:
        validate_internal(internal, indicator_definitions())
    except SurveyDataError as exc:
        raise SurveyDataError(f"{source or 'bundled internal indicators'}: {exc}") from None
    marked = internal.get("synthetic", pd.Series(dtype=str)).astype(str).str.lower().isin(("true", "1"))
    if not config.synthetic and marked.any():
        raise SurveyDataError(
            f"{source}: the row of region {config.region_id} wave {config.wave} is marked synthetic, but "
            f"{config.path} says synthetic: false; a study of real data needs the company's own figures"
        )
    return internal, []
