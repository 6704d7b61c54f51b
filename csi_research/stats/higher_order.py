"""Higher-order constructs: a construct formed by first-order components (Sarstedt et al. 2019).

A model declares e.g. perceived quality over supply reliability, service channels and repair
(``CSIModel(higher_order=...)``, or ``components:`` in the model YAML). PLS estimates it in one
of two ways, both as a first-order model on a transformed sample, so that every later step (indices,
IPMA and weak links, measurement quality, bootstrap, prediction, segments) works unchanged:

* **disjoint two-stage** (``method: two-stage``, the default; seminr's ``two_stage``): stage 1
  estimates the model with the components in the higher-order construct's place (each linked to
  its antecedents and outcomes); stage 2 estimates the model with the higher-order construct
  measured by the components' scores. A component's score enters stage 2 on the items' scale
  (its items weighted by its normalised outer weights: the component's index score), so the
  higher-order construct's index is on the same 0–100 scale as any other and its "items" in the
  IPMA are the components. The stage-2 sample's moments re-run stage 1 for every resample, so
  bootstrap intervals, folds of PLSpredict and jackknife terms include stage 1's variability.
* **repeated indicators** (``method: repeated``): one stage, the higher-order construct's block
  being all of its components' items once more (columns named ``<construct>:<item>``), with paths
  from it to each component (Mode A: reflective–reflective) or from each component to it
  (Mode B: reflective–formative).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from csi_research.core.diagnostics import public
from csi_research.core.errors import ModelSpecError
from csi_research.data.sample import Moments, Sample
from csi_research.model import CSIModel
from csi_research.stats.indices import csi_indices
from csi_research.stats.pls_engine import Layout, PLSBatch, pls_from_moments


# ---------------------------------------------------------------------------- the models
def first_stage_model(model: CSIModel) -> CSIModel:
    """The model with every two-stage higher-order construct replaced by its components."""
    parts = {h: s.components for h, s in model.higher_order.items()}
    paths = [(a, b) for s, t in model.paths for a in parts.get(s, (s,)) for b in parts.get(t, (t,))]
    blocks = {n: items for n, items in model.constructs.items() if n not in parts}
    target = None if model.target in parts else model.target
    return CSIModel(blocks, paths, dict(model.modes), dict(model.labels), target)


def second_stage_model(model: CSIModel) -> CSIModel:
    """The model whose higher-order constructs are measured by their components' score columns."""
    part_of = model.components
    clash = sorted(set(part_of) & set(model.items))
    if clash:
        raise ModelSpecError(
            f"component(s) {', '.join(clash)} share their name with an item column; rename the construct"
        )
    blocks = {n: (model.higher_order[n].components if n in model.higher_order else items)
              for n, items in model.constructs.items() if n not in part_of}
    return CSIModel(blocks, model.paths, dict(model.modes), dict(model.labels), model.target)


def repeated_model(model: CSIModel) -> CSIModel:
    """One-stage model: each higher-order block repeats its components' items (``<hoc>:<item>``)."""
    blocks = {n: ([f"{n}:{i}" for i in items] if n in model.higher_order else items)
              for n, items in model.constructs.items()}
    links = [(h, c) if model.modes[h] == "A" else (c, h)
             for h, spec in model.higher_order.items() for c in spec.components]
    return CSIModel(blocks, [*links, *model.paths], dict(model.modes), dict(model.labels), model.target)


def methods(model: CSIModel) -> set[str]:
    return {spec.method for spec in model.higher_order.values()}


# ---------------------------------------------------------------------------- the samples
@dataclass(frozen=True, eq=False)
class _Stage1:
    """Stage 1 as a map from the items' moments to the stage-2 columns' transformation."""

    layout: Layout
    order: np.ndarray  # positions of stage 1's items in the sample's columns
    keep: np.ndarray  # (p2,) sample column of a stage-2 item that is an item, -1 for a component
    components: tuple[tuple[int, np.ndarray], ...]  # (stage-2 column, stage-1 item positions)
    settings: tuple

    @classmethod
    def of(cls, declared: CSIModel, columns: list[str], settings: tuple) -> _Stage1:
        first, second = first_stage_model(declared), second_stage_model(declared)
        lay = Layout.of(first)
        pos = {c: k for k, c in enumerate(columns)}
        keep = np.array([pos.get(i, -1) if i not in declared.components else -1 for i in second.items])
        parts = tuple((second.items.index(c), lay.blocks[lay.names.index(c)]) for c in declared.components)
        return cls(lay, np.array([pos[i] for i in lay.items]), keep, parts, settings)

    def estimate(self, mean: np.ndarray, cov: np.ndarray, size: np.ndarray) -> PLSBatch:
        o = self.order
        return pls_from_moments(self.layout, mean[:, o], cov[:, o[:, None], o], size, *self.settings)

    def transform(self, est: PLSBatch) -> np.ndarray:
        """T (B, p, p2): stage-2 columns = sample columns @ T (a component: its normalised raw weights)."""
        b, p, p2 = est.raw_weights.shape[0], len(self.order), len(self.keep)
        t = np.zeros((b, p, p2))
        kept = np.flatnonzero(self.keep >= 0)
        t[:, self.keep[kept], kept] = 1.0
        for col, block in self.components:
            w = est.raw_weights[:, block]
            t[:, self.order[block], col] = w / w.sum(axis=1, keepdims=True)
        return t


@dataclass(frozen=True, eq=False)
class TwoStageMoments(Moments):
    """Moments of the stage-2 columns; each resample re-estimates stage 1 on its own moments.

    The array fields (``x``, ``centre``, …) are the stage-2 columns scored with the full-sample
    stage 1 (for code that reads respondents' values); calling it, or its jackknife, re-runs stage 1.
    """

    first: Moments = field(default=None)
    stage1: _Stage1 = field(default=None)

    def __call__(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self._second(*self.first(counts))

    def jackknife(self, chunk: int = 1_000):
        for part in self.first.jackknife(chunk):
            yield self._second(*part)

    def _second(self, mean: np.ndarray, cov: np.ndarray, size: np.ndarray):
        with np.errstate(invalid="ignore", divide="ignore"):
            est = self.stage1.estimate(mean, cov, size)
            t = self.stage1.transform(est)
        bad = ~est.converged
        t[bad] = np.nan  # a resample whose stage 1 fails fails in stage 2 too
        return np.einsum("bp,bpq->bq", mean, t), np.einsum("bpq,bpr,brs->bqs", t, cov, t), size


@dataclass(frozen=True, eq=False)
class HigherOrderSample(Sample):
    """The first-order sample PLS estimates a higher-order model on (see the module docstring).

    ``declared`` is the model as declared (higher-order constructs with their components);
    ``first`` the sample of the declared items; ``stage1`` is set for the two-stage approach, whose
    moments then re-run stage 1 on every resample.
    """

    declared: CSIModel | None = None
    first: Sample | None = None
    stage1: _Stage1 | None = field(default=None, repr=False)

    @cached_property
    def moments(self) -> Moments:
        base = Sample.moments.func(self)
        if self.stage1 is None:
            return base
        return TwoStageMoments(base.x, base.centre, base.weights, base.pattern, base.extra,
                               first=self.first.moments, stage1=self.stage1)


@dataclass(frozen=True, eq=False)
class ComponentCodebook:
    """The questionnaire seen through a higher-order model's columns: a component (or a repeated
    indicator ``<construct>:<item>``) is an "item" whose wording is its label, whose sub-indicator
    is its items' (the first item's when they differ) and whose measures and indicators are its
    items', so importance–performance and weak links name the questionnaire's own aspects."""

    book: Any
    parts: Mapping[str, tuple[str, ...]]  # column → the questionnaire items behind it
    labels: Mapping[str, tuple[str, str]]

    def __getattr__(self, name: str) -> Any:
        if name in ("book", "parts", "labels") or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.book, name)

    def item(self, item_id: str) -> Any:
        if item_id not in self.parts:
            return self.book.item(item_id)
        items = [self.book.item(i) for i in self.parts[item_id]]
        zh, en = self.labels.get(item_id, (items[0].text_zh, items[0].text_en))
        return replace(items[0], id=item_id, text_zh=zh, text_en=en)

    def subindicator_of(self, item_id: str) -> Any:
        return self.book.subindicators[self.item(item_id).subindicator]

    def is_actionable(self, item_id: str) -> bool:
        return all(self.book.is_actionable(i) for i in self.parts.get(item_id, (item_id,)))

    def measures_for(self, item_id: str) -> list[Any]:
        found = [m for i in self.parts.get(item_id, (item_id,)) for m in self.book.measures_for(i)]
        return list({id(m): m for m in found}.values())

    def kpis_for(self, item_id: str) -> list[str]:
        items = self.parts.get(item_id, (item_id,))
        return list(dict.fromkeys(k for i in items for k in self.book.kpis_for(i)))


def _columns_book(sample: Sample, model: CSIModel) -> Any:
    """The codebook for ``model``'s columns (see :class:`ComponentCodebook`); None without one."""
    if sample.codebook is None:
        return None
    declared = sample.model
    parts = {c: declared.constructs[c] for c in declared.components if c in model.items}
    parts |= {i: (i.split(":", 1)[1],) for i in model.items if i not in declared.items and ":" in i}
    return ComponentCodebook(sample.codebook, parts, {c: tuple(declared.labels[c]) for c in parts
                                                      if c in declared.labels})


def _transformed(sample: Sample, model: CSIModel, t: np.ndarray, **more) -> Sample:
    """``sample`` with columns ``x @ t`` for ``model``: EM terms, scales and observed flags follow."""
    x = sample.x.to_numpy() @ t
    lo, hi = ((None, None) if sample.scale_min is None else (sample.scale_min @ t, sample.scale_max @ t))
    imputed = (~sample.observed.to_numpy().astype(bool)).astype(float) @ (t != 0) > 0  # any input imputed
    observed = pd.DataFrame(~imputed, index=sample.x.index, columns=model.items)
    extra = np.einsum("pq,kpr,rs->kqs", t, sample.extra, t)
    fields = {f: getattr(sample, f) for f in Sample.__dataclass_fields__}
    fields |= dict(model=model, x=pd.DataFrame(x, index=sample.x.index, columns=model.items),
                   observed=observed, scale_min=lo, scale_max=hi, extra=extra,
                   codebook=_columns_book(sample, model))
    return HigherOrderSample(**fields, declared=sample.model, first=sample, **more)


def higher_order_sample(sample: Sample, scheme: str, scaled: bool, tol: float,
                        max_iter: int) -> HigherOrderSample:
    """The first-order sample PLS estimates for ``sample``'s model with higher-order constructs."""
    declared = sample.model
    if methods(declared) == {"repeated"}:
        model = repeated_model(declared)
        cols = list(sample.x.columns)
        t = np.zeros((len(cols), len(model.items)))
        for q, item in enumerate(model.items):
            t[cols.index(item.split(":", 1)[1] if item not in cols else item), q] = 1.0
        return _transformed(sample, model, t)
    if methods(declared) != {"two-stage"}:
        raise ModelSpecError(
            "the higher-order constructs of one model must all use the same method (two-stage or repeated)"
        )
    stage1 = _Stage1.of(declared, list(sample.x.columns), (scheme, scaled, tol, max_iter))
    est = stage1.estimate(*sample.moments(np.ones((1, sample.n))))
    t = stage1.transform(est)[0]
    return _transformed(sample, second_stage_model(declared), t, stage1=stage1)


def first_stage_sample(sample: Sample) -> Sample:
    """``sample`` (of a declared higher-order model) for stage 1's model: its columns in that order."""
    model = first_stage_model(sample.model)
    order = [list(sample.x.columns).index(i) for i in model.items]
    fields = {f: getattr(sample, f) for f in Sample.__dataclass_fields__}
    fields |= dict(model=model, x=sample.x.iloc[:, order], observed=sample.observed.iloc[:, order],
                   extra=sample.extra[:, order][:, :, order])
    if sample.scale_min is not None:
        fields |= dict(scale_min=sample.scale_min[order], scale_max=sample.scale_max[order])
    return Sample(**fields)



# ---------------------------------------------------------------------------- reporting
COMPONENT_COLUMNS = ["construct", "component", "label_zh", "label_en", "method", "mode", "weight",
                     "weight_lower", "weight_upper", "loading", "loading_lower", "loading_upper", "vif",
                     "index"]


@public
def components(fit: Any, boot: Any = None) -> pd.DataFrame:
    """The lower-order components of every higher-order construct of ``fit``: how each forms it.

    Two-stage: the higher-order construct's outer weight and loading on each component's score (stage
    2), with the bootstrap's percentile interval when ``boot`` (a bootstrap of ``fit``) is given.
    Repeated indicators: the path between the higher-order construct and each component (a weight
    for Mode B, components → it; a loading for Mode A, it → components). ``vif``: the component's
    collinearity with the other components of its construct (Mode B weights need VIF below 5);
    ``index``: the component's 0–100 index, when the answer scales are known.
    """
    sample = fit.sample
    declared = getattr(sample, "declared", None)
    if declared is None or not declared.higher_order:
        return pd.DataFrame(columns=COMPONENT_COLUMNS)
    repeated = getattr(sample, "stage1", None) is None
    est = None if boot is None else boot.estimates
    rows = []
    for hoc, spec in declared.higher_order.items():
        parts = list(spec.components)
        corr = (fit.latent_corr.loc[parts, parts] if repeated else sample.corr.loc[parts, parts]).to_numpy()
        vif = np.diag(np.linalg.inv(corr)) if len(parts) > 1 else np.ones(1)
        for c, v in zip(parts, vif, strict=True):
            row = {"construct": hoc, "component": c, "label_zh": declared.labels[c][0],
                   "label_en": declared.labels[c][1], "method": spec.method, "mode": declared.modes[hoc],
                   "vif": v, "index": _component_index(fit, c, repeated)}
            for kind in ("weight", "loading"):
                row |= _relation(fit, est, hoc, c, kind, repeated, declared.modes[hoc])
            rows.append(row)
    return pd.DataFrame(rows, columns=COMPONENT_COLUMNS)


def _relation(fit: Any, est: pd.DataFrame | None, hoc: str, c: str, kind: str, repeated: bool,
              mode: str) -> dict[str, float]:
    """The estimate and interval of a component's weight or loading on its higher-order construct."""
    none = {kind: np.nan, f"{kind}_lower": np.nan, f"{kind}_upper": np.nan}
    if repeated:  # the structural path between them stands for the weight (Mode B) or the loading (Mode A)
        if (kind == "weight") != (mode == "B"):
            return none
        source, target = (c, hoc) if mode == "B" else (hoc, c)
        paths = fit.paths.set_index(["source", "target"])["estimate"]
        value = float(paths[(source, target)])
        rows = None if est is None else est.query("statistic == 'path' and source == @source and "
                                                  "target == @target")
    else:
        table = fit.weights if kind == "weight" else fit.loadings
        value = float(table.set_index(["construct", "item"]).loc[(hoc, c), kind])
        rows = None if est is None else est.query("statistic == @kind and construct == @hoc and item == @c")
    if rows is None or rows.empty:
        return none | {kind: value}
    return {kind: value, f"{kind}_lower": float(rows["ci_lower"].iloc[0]),
            f"{kind}_upper": float(rows["ci_upper"].iloc[0])}


def _component_index(fit: Any, component: str, repeated: bool) -> float:
    sample = fit.sample
    if sample.scale_min is None:
        return np.nan
    if repeated:
        return float(csi_indices(fit)[component])
    k = list(sample.x.columns).index(component)  # the component's column is its index score
    lo, hi = sample.scale_min[k], sample.scale_max[k]
    return float((sample.mean.iloc[k] - lo) / (hi - lo) * 100)
