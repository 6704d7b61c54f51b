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

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from csi_research.core.errors import ModelSpecError
from csi_research.data.sample import Moments, Sample
from csi_research.model import CSIModel
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


def _transformed(sample: Sample, model: CSIModel, t: np.ndarray, **more) -> Sample:
    """``sample`` with columns ``x @ t`` for ``model``: EM terms, scales and observed flags follow."""
    x = sample.x.to_numpy() @ t
    lo, hi = ((None, None) if sample.scale_min is None else (sample.scale_min @ t, sample.scale_max @ t))
    imputed = (~sample.observed.to_numpy().astype(bool)).astype(float) @ (t != 0) > 0  # any input imputed
    observed = pd.DataFrame(~imputed, index=sample.x.index, columns=model.items)
    extra = np.einsum("pq,kpr,rs->kqs", t, sample.extra, t)
    fields = {f: getattr(sample, f) for f in Sample.__dataclass_fields__}
    fields |= dict(model=model, x=pd.DataFrame(x, index=sample.x.index, columns=model.items),
                   observed=observed, scale_min=lo, scale_max=hi, extra=extra)
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

