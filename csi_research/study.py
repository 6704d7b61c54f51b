"""One regional study from its ``study.yaml`` to a results bundle.

``run_study`` is the whole pipeline in the package — notebooks only narrate what it returns —
so a study gives the same numbers whether it is run from a notebook, a script or the batch.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from csi_research.errors import CSIWarning, EstimationError
from csi_research.model import CSIModel
from csi_research.output import dumps_json, frame_records, write_atomic
from csi_research.studyconfig import StudyConfig

__all__ = ["StudyConfig", "StudyResult", "run_study"]


@dataclass(frozen=True)
class StudyResult:
    """Everything a regional report shows; ``save`` writes it as a bundle."""

    config: StudyConfig
    quick: bool
    n_boot: int
    survey: Any
    model: CSIModel
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

    # ------------------------------------------------------------------ numbers
    @property
    def overall_csi(self) -> float:
        """The overall CSI of the ACSI method: the Satisfaction index."""
        return float(self.indices.at["Satisfaction", "index"])

    def paths(self) -> pd.DataFrame:
        """PLS paths with bootstrap SE and intervals (and the CB-SEM standardised estimate)."""
        boot = self.boot.estimates
        boot = boot[boot["statistic"] == "path"][["source", "target", "se", "ci_lower", "ci_upper"]]
        table = self.pls.paths[["source", "target", "estimate"]].merge(boot, on=["source", "target"])
        table["significant"] = (table["ci_lower"] > 0) | (table["ci_upper"] < 0)
        if self.cbsem is not None:
            cb = self.cbsem.paths[["source", "target", "std_estimate"]].rename(
                columns={"std_estimate": "cbsem_std"}
            )
            table = table.merge(cb, on=["source", "target"], how="left")
        return table

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table of the report, by name (the bundle's ``tables/*.csv``)."""
        quality = self.survey.quality
        out = {
            "indices": self.indices.reset_index(),
            "paths": self.paths(),
            "effects": self.pls.effects,
            "r2": self.pls.r2.rename("r2").rename_axis("construct").reset_index(),
            "outer_model": self.pls.loadings.merge(self.pls.weights, on=["construct", "item"]),
            "reliability": self.measurement.reliability.reset_index(),
            "htmt": self.measurement.htmt.reset_index(),
            "item_missingness": quality.item_missing.reset_index(),
            "ipma_constructs": self.ipma.constructs.reset_index(),
            "ipma_items": self.ipma.items.reset_index(),
            "priorities": self.ipma.priorities,
            "grade_index": self.grade_index,
            "segments": self.segments,
            "bootstrap": self.boot.estimates,
        }
        if self.cbsem is not None:
            out["cbsem_estimates"] = self.cbsem.estimates
            out["cbsem_fit"] = self.cbsem.fit_indices.rename("value").rename_axis("measure").reset_index()
        if self.industry is not None:
            out.update({f"industry_{k}": v for k, v in self.industry.summary().items()})
        return out

    def values(self) -> dict[str, Any]:
        """The headline scalars of the study."""
        out = {
            "n": int(self.pls.n),
            "n_survey": len(self.survey.frame),
            "overall_csi": self.overall_csi,
            "index_target": self.config.index_target,
            "gof": float(self.pls.gof),
            "cbsem_admissible": None if self.cbsem is None else bool(self.cbsem.admissible),
            "bootstrap_failed": int(self.boot.n_failed),
        }
        if self.industry is not None:
            out["industry_fuzzy_score"] = float(self.industry.fuzzy.score)
            quality = self.industry.quality_index
            if quality is not None and len(quality):
                out["industry_internal_score"] = float(quality["internal_score"].iloc[0])
                out["industry_service_quality_index"] = float(quality["service_quality_index"].iloc[0])
        return out

    def results(self, tables: dict[str, pd.DataFrame] | None = None) -> dict[str, Any]:
        """The bundle's ``results.json`` content: no timestamps, so the same run gives the same bytes."""
        from csi_research import __version__

        tables = self.tables() if tables is None else tables
        return {
            "package_version": __version__,
            "study": self.config.to_dict(),
            "data_sha256": self.survey.sha256,
            "seed": self.config.seed,
            "n_boot": self.n_boot,
            "quick": self.quick,
            "synthetic": self.config.synthetic,
            "values": self.values(),
            "diagnostics": list(self.diagnostics),
            "tables": {name: frame_records(t) for name, t in tables.items()},
        }

    # ------------------------------------------------------------------ bundle
    def save(self, folder: str | Path, figures: bool = True) -> Path:
        """Write the bundle into ``folder`` (which must not hold an earlier bundle)."""
        folder = Path(folder)
        tables = self.tables()
        write_atomic(folder / "results.json", dumps_json(self.results(tables)))
        write_atomic(folder / "index_draws.csv", self.index_draws.to_csv(index=False, float_format="%.10g"))
        for name, table in tables.items():
            write_atomic(folder / "tables" / f"{name}.csv", table.to_csv(index=False))
        if figures:
            self._save_figures(folder / "figures")
        return folder

    def _save_figures(self, folder: Path) -> None:
        import matplotlib.pyplot as plt

        from csi_research import plots

        figures = {
            "path_diagram": plots.path_diagram(self.model, self.pls),
            "indices": plots.index_bars(self.indices.reset_index(), threshold=self.config.index_target),
            "ipma": plots.ipma_map(self.ipma),
        }
        folder.mkdir(parents=True, exist_ok=True)
        for name, fig in figures.items():
            tmp = folder / f".{name}.png.tmp"
            fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png", metadata={"Software": None})
            tmp.replace(folder / f"{name}.png")
            plt.close(fig)


def run_study(
    config: StudyConfig | str | Path, *, quick: bool = False, workers: int | None = 1, progress: bool = False
) -> StudyResult:
    """Run one regional study: load and validate, measure, estimate, index, bootstrap, prioritise.

    ``quick`` uses the study's small bootstrap size (for CI and drafts). Problems that do not
    stop the study (non-admissible CB-SEM, low reliability, small segments...) are collected in
    ``diagnostics`` — never hidden.
    """
    from csi_research.bootstrap import bootstrap
    from csi_research.codebook import Codebook
    from csi_research.estimation.pls import fit_pls
    from csi_research.indices import csi_indices, grade_score_index, scale_bounds
    from csi_research.ipma import ipma
    from csi_research.measurement import measurement_quality
    from csi_research.survey import load_survey

    if not isinstance(config, StudyConfig):
        config = StudyConfig.from_yaml(config)
    codebook = Codebook.from_yaml(config.codebook) if config.codebook else Codebook.default()
    model = CSIModel.from_yaml(config.model) if config.model else codebook.model()
    n_boot = config.quick_n_boot if quick else config.n_boot

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CSIWarning)
        survey = load_survey(config.data, codebook)
        weights = _survey_weights(config, survey)
        pls = fit_pls(model, survey, scheme=config.scheme, scaled=config.scaled, missing=config.missing)
        measurement = measurement_quality(model, survey, pls=pls)
        cbsem = _fit_cbsem(model, survey, config)
        lo, hi = scale_bounds(model.items, codebook, None, None, survey)
        boot = bootstrap(
            model, survey, n_boot=n_boot, seed=config.seed, scheme=config.scheme, scaled=config.scaled,
            ci=config.ci, workers=workers, progress=progress, index_scale=(lo, hi),
        )
        point = csi_indices(pls, survey, codebook=codebook, survey_weights=weights)
        indices, draws = _index_table(model, point, boot)
        importance = ipma(pls, survey, codebook=codebook)
        grades = grade_score_index(survey, codebook)
        segments = _segments(model, survey, config, codebook, weights, pls)
        industry = _industry(config, survey, codebook, float(indices.at["Satisfaction", "index"]))
    diagnostics = tuple(dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, CSIWarning)))
    return StudyResult(
        config=config, quick=quick, n_boot=n_boot, survey=survey, model=model, pls=pls, cbsem=cbsem,
        measurement=measurement, boot=boot, indices=indices, index_draws=draws, ipma=importance,
        grade_index=grades, segments=segments, industry=industry, diagnostics=diagnostics,
    )


def _fit_cbsem(model: CSIModel, survey: Any, config: StudyConfig) -> Any | None:
    if not config.cbsem:
        return None
    from csi_research.estimation.cbsem import fit_cbsem

    try:
        return fit_cbsem(model, survey, estimator=config.cbsem_estimator)
    except EstimationError as exc:  # the PLS results stand on their own; say why CB-SEM is absent
        warnings.warn(f"CB-SEM could not be estimated: {exc}", CSIWarning, stacklevel=2)
        return None


def _index_table(model: CSIModel, point: pd.Series, boot: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Point indices with their bootstrap intervals, and the draws the comparison needs."""
    est = boot.estimates
    est = est[est["statistic"] == "index"].set_index("construct")
    table = pd.DataFrame(
        {
            "label_zh": [model.label(c, "zh") for c in model.names],
            "label_en": [model.label(c, "en") for c in model.names],
            "index": point.reindex(model.names).to_numpy(),
            "ci_lower": est["ci_lower"].reindex(model.names).to_numpy(),
            "ci_upper": est["ci_upper"].reindex(model.names).to_numpy(),
            "se": est["se"].reindex(model.names).to_numpy(),
            "n": point.attrs.get("n", np.nan),
        },
        index=pd.Index(model.names, name="construct"),
    )
    draws = pd.DataFrame(boot.draws["index"], columns=model.names)
    return table, draws


def _survey_weights(config: StudyConfig, survey: Any) -> pd.Series | None:
    if not config.weighting:
        return None
    from csi_research.indices import poststratify

    spec = dict(config.weighting)
    return poststratify(survey, spec["by"], spec["population_shares"])


def _segments(model, survey, config, codebook, weights, pls) -> pd.DataFrame:
    from csi_research.indices import segment_indices

    parts = []
    for column in config.segments:
        table = segment_indices(model, survey, column, codebook=codebook, survey_weights=weights, pls=pls)
        parts.append(table.rename(columns={column: "segment"}).assign(attribute=column))
    if not parts:
        return pd.DataFrame(columns=["attribute", "segment", "construct", "index", "n", "small"])
    table = pd.concat(parts, ignore_index=True)
    table["segment"] = table["segment"].astype(str)
    return table[["attribute", "segment", "construct", "index", "n", "small"]]


def _industry(config: StudyConfig, survey: Any, codebook: Any, external_csi: float) -> Any | None:
    """The industry's own evaluation (AHP, rough sets, fuzzy, internal indicators), if configured."""
    if config.industry_evaluation is None:
        return None
    from csi_research.evaluation import industry_evaluation, load_internal_indicators

    spec = None if config.industry_evaluation == "default" else config.industry_evaluation
    internal = None
    if config.internal_indicators is not None:
        source = None if config.internal_indicators == "default" else config.internal_indicators
        table = load_internal_indicators(source)
        internal = table[(table["region"] == config.region_id) & (table["year"].astype(str) == config.wave)]
        if internal.empty:
            warnings.warn(
                f"{config.path}: no internal indicators for region {config.region_id} wave {config.wave}; "
                "the combined service-quality index is left out",
                CSIWarning,
                stacklevel=2,
            )
            internal = None
    return industry_evaluation(survey, codebook, spec, internal=internal, external_csi=external_csi)
