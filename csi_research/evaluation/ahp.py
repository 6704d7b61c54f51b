"""Analytic hierarchy process (层次分析法): judgement matrices, priorities, consistency.

Experts compare indicators pairwise on Saaty's 1–9 scale; the priority vector is the
principal eigenvector of the judgement matrix (or the normalised row geometric means), and
the consistency ratio CR = CI / RI tells whether the judgements contradict each other too
much to be used (CR ≥ 0.10 by Saaty's rule). Matrices are entered in full or as the upper
triangle (the lower triangle is implied by reciprocity), from Python, YAML or CSV.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml

from csi_research.core.diagnostics import collect, public
from csi_research.core.errors import ModelSpecError

Method = Literal["eigen", "geometric"]

# Saaty's random consistency index (mean CI of random reciprocal matrices), n = 1..15.
RANDOM_INDEX: Mapping[int, float] = MappingProxyType({
    1: 0.0, 2: 0.0, 3: 0.58, 4: 0.90, 5: 1.12, 6: 1.24, 7: 1.32, 8: 1.41,
    9: 1.45, 10: 1.49, 11: 1.51, 12: 1.48, 13: 1.56, 14: 1.57, 15: 1.59,
})
MAX_SIZE = 15
CR_THRESHOLD = 0.10
RECIPROCAL_TOLERANCE = 0.02  # |a_ij · a_ji − 1|; lets experts type 0.33 for 1/3


@dataclass(frozen=True, eq=False)
class AHPResult:
    """Priorities and consistency of one judgement matrix.

    ``inconsistency`` lists every upper-triangle judgement with the ratio it should have
    had for the derived weights (``consistent = w_i / w_j``) and its deviation
    ``|ln(a_ij · w_j / w_i)|``, largest first: the judgements to revisit when CR is high.
    """

    name: str
    matrix: pd.DataFrame
    weights: pd.Series
    lambda_max: float
    ci: float
    ri: float
    cr: float
    method: str
    inconsistency: pd.DataFrame
    diagnostics: list[str] = field(default_factory=list)

    @property
    def consistent(self) -> bool:
        return self.cr < CR_THRESHOLD

    def summary(self) -> dict[str, pd.DataFrame]:
        stats = pd.DataFrame(
            {
                "value": [len(self.weights), self.lambda_max, self.ci, self.ri, self.cr],
            },
            index=pd.Index(["n", "lambda_max", "CI", "RI", "CR"], name="statistic"),
        )
        return {
            "weights": self.weights.rename("weight").to_frame(),
            "consistency": stats,
            "most_inconsistent": self.inconsistency.head(3),
        }


@dataclass(frozen=True, eq=False)
class GroupAHPResult:
    """Priorities of a panel of experts, aggregated by judgements (AIJ) or priorities (AIP)."""

    name: str
    method: str
    weights: pd.Series
    experts: tuple[AHPResult, ...]
    aggregate: AHPResult | None  # the AIJ matrix's result; None for AIP
    diagnostics: list[str] = field(default_factory=list)

    @property
    def cr(self) -> float:
        """CR of the aggregated matrix (AIJ) or the largest expert CR (AIP)."""
        if self.aggregate is not None:
            return self.aggregate.cr
        return max(e.cr for e in self.experts)

    def summary(self) -> dict[str, pd.DataFrame]:
        experts = pd.DataFrame(
            {f"expert_{k + 1}": e.weights for k, e in enumerate(self.experts)}
        )
        experts.insert(0, self.method, self.weights)
        crs = pd.DataFrame(
            {"cr": [e.cr for e in self.experts]},
            index=pd.Index([f"expert_{k + 1}" for k in range(len(self.experts))], name="expert"),
        )
        return {"weights": experts, "expert_consistency": crs}


# ---------------------------------------------------------------------- building matrices
def judgement_matrix(
    values: Any,
    labels: Sequence[str] | None = None,
    name: str = "matrix",
    check_scale: bool = True,
    form: Literal["auto", "full", "upper"] = "auto",
) -> pd.DataFrame:
    """A validated, exactly reciprocal judgement matrix as a labelled DataFrame.

    ``values`` is a full n × n array/list/DataFrame, or the upper triangle: ragged rows of
    lengths n−1, …, 1 (entries right of the diagonal) or a flat list of n(n−1)/2 entries in
    row order. Entries may be numbers or fraction strings ("1/3"). The lower triangle of a
    full matrix must be reciprocal within ±2 % (typing 0.33 for 1/3 is fine); it is then set to
    exactly 1/a_ij so that results do not depend on rounding. ``check_scale`` restricts
    entries to Saaty's range [1/9, 9] (turn it off for aggregated or computed matrices).
    ``form`` says how to read ``values``; "auto" takes square input as full (with ``labels``,
    as many rows as labels means full).
    """
    if isinstance(values, pd.DataFrame):
        if labels is None:
            labels = [str(c) for c in values.columns]
            if [str(i) for i in values.index] != labels:
                raise ModelSpecError(
                    f"judgement matrix '{name}': row labels {list(values.index)} differ from column labels "
                    f"{labels}; rows and columns must list the same indicators in the same order"
                )
        values = values.to_numpy(dtype=object).tolist()
    rows = _as_rows(values, name)
    n = len(rows)
    square = all(len(r) == n for r in rows) if labels is None else n == len(labels)
    if form == "full" or (form == "auto" and square):
        a = np.array([[_number(v, name, i, j) for j, v in enumerate(r)] for i, r in enumerate(rows)])
        full = True
    else:
        a = _from_upper(rows, name)
        full = False
    n = a.shape[0]
    labels = [str(x) for x in labels] if labels is not None else [f"x{k + 1}" for k in range(n)]
    if len(labels) != n:
        raise ModelSpecError(f"judgement matrix '{name}': {n} rows but {len(labels)} labels {labels}")
    if len(set(labels)) != n:
        raise ModelSpecError(f"judgement matrix '{name}': labels {labels} repeat an indicator")
    if n > MAX_SIZE:
        raise ModelSpecError(
            f"judgement matrix '{name}' is {n} × {n}; at most {MAX_SIZE} indicators can be compared "
            "consistently (Saaty): group them into sub-indicators"
        )
    _check_entries(a, labels, name, full, check_scale)
    out = np.ones((n, n))
    iu = np.triu_indices(n, 1)
    out[iu] = a[iu]
    out[iu[1], iu[0]] = 1.0 / a[iu]
    return pd.DataFrame(out, index=labels, columns=labels)


def _as_rows(values: Any, name: str) -> list[list[Any]]:
    if isinstance(values, np.ndarray):
        values = values.tolist()
    if not isinstance(values, Sequence) or isinstance(values, str) or not values:
        raise ModelSpecError(f"judgement matrix '{name}': expected a list of rows, got {values!r}")
    if all(not isinstance(v, Sequence) or isinstance(v, str) for v in values):
        return _flat_upper(list(values), name)
    if not all(isinstance(r, Sequence) and not isinstance(r, str) for r in values):
        raise ModelSpecError(f"judgement matrix '{name}': mix of rows and single numbers in {values!r}")
    return [list(r) for r in values]


def _flat_upper(flat: list[Any], name: str) -> list[list[Any]]:
    m = len(flat)
    n = round((1 + np.sqrt(1 + 8 * m)) / 2)
    if n * (n - 1) // 2 != m:
        raise ModelSpecError(
            f"judgement matrix '{name}': a flat upper triangle needs n(n−1)/2 entries (1, 3, 6, 10, ...), "
            f"got {m}"
        )
    rows, start = [], 0
    for i in range(n - 1):
        rows.append(flat[start:start + n - 1 - i])
        start += n - 1 - i
    return rows


def _from_upper(rows: list[list[Any]], name: str) -> np.ndarray:
    n = len(rows) + 1
    for i, r in enumerate(rows):
        if len(r) != n - 1 - i:
            raise ModelSpecError(
                f"judgement matrix '{name}': row {i + 1} has {len(r)} entries; a full matrix needs {n - 1} "
                f"rows of {n - 1} and an upper triangle needs rows of {n - 1}, {n - 2}, ..., 1 entries "
                "(right of the diagonal)"
            )
    a = np.ones((n, n))
    for i, r in enumerate(rows):
        for k, v in enumerate(r):
            j = i + 1 + k
            a[i, j] = _number(v, name, i, j)
            a[j, i] = 1.0 / a[i, j] if a[i, j] > 0 else np.nan
    return a


def _number(v: Any, name: str, i: int, j: int) -> float:
    try:
        x = float(Fraction(v.strip())) if isinstance(v, str) else float(v)
    except (TypeError, ValueError, ZeroDivisionError):
        raise ModelSpecError(
            f"judgement matrix '{name}': a[{i + 1},{j + 1}] = {v!r} is not a number "
            "(use e.g. 3, 0.2 or '1/5')"
        ) from None
    if not np.isfinite(x) or x <= 0:
        raise ModelSpecError(
            f"judgement matrix '{name}': a[{i + 1},{j + 1}] = {v!r}; judgements must be positive "
            "(Saaty scale 1/9 ... 9)"
        )
    return x


def _fmt(x: float) -> str:
    if x >= 1:
        return f"{x:g}"
    inv = 1 / x
    return f"1/{round(inv):d}" if abs(inv - round(inv)) < 1e-9 else f"{x:.4g}"


def _check_entries(a: np.ndarray, labels: list[str], name: str, full: bool, check_scale: bool) -> None:
    n = a.shape[0]
    for i in range(n):
        if abs(a[i, i] - 1) > 1e-12:
            raise ModelSpecError(
                f"judgement matrix '{name}': diagonal a[{i + 1},{i + 1}] ({labels[i]} vs itself) = "
                f"{a[i, i]:g}; it must be 1"
            )
    for i in range(n):
        for j in range(i + 1, n):
            if check_scale and not (1 / 9 - 1e-9 <= a[i, j] <= 9 + 1e-9):
                raise ModelSpecError(
                    f"judgement matrix '{name}': a[{i + 1},{j + 1}] ({labels[i]} vs {labels[j]}) = "
                    f"{a[i, j]:g} is outside Saaty's scale 1/9 ... 9"
                )
            if full and abs(a[i, j] * a[j, i] - 1) > RECIPROCAL_TOLERANCE:
                raise ModelSpecError(
                    f"judgement matrix '{name}': a[{i + 1},{j + 1}] = {_fmt(a[i, j])} but "
                    f"a[{j + 1},{i + 1}] = {_fmt(a[j, i])}, expected {_fmt(1 / a[i, j])} "
                    f"({labels[i]} vs {labels[j]}): the matrix must be reciprocal, a_ji = 1/a_ij"
                )


def read_judgement_matrix(path: str | Path, name: str | None = None) -> pd.DataFrame:
    """Read a judgement matrix from CSV (labelled square table; lower triangle may be blank)
    or YAML (``labels:`` plus ``matrix:`` for the full matrix or ``upper:`` for the triangle)."""
    path = Path(path)
    name = name or path.stem
    try:
        if path.suffix.lower() == ".csv":
            table = pd.read_csv(path, index_col=0, dtype=str)
            labels = [str(c).strip() for c in table.columns]
            if [str(i).strip() for i in table.index] != labels:
                raise ModelSpecError(
                    f"{path}: the first column must repeat the header labels {labels} in the same order"
                )
            cells = table.to_numpy(dtype=object)
            blank_lower = all(
                pd.isna(cells[i, j]) for i in range(len(labels)) for j in range(i)
            )
            if blank_lower:
                rows = [[cells[i, j] for j in range(i + 1, len(labels))] for i in range(len(labels) - 1)]
                return judgement_matrix(rows, labels, name)
            return judgement_matrix(cells.tolist(), labels, name)
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, pd.errors.ParserError) as exc:
        raise ModelSpecError(f"{path}: cannot read the judgement matrix: {exc}") from None
    if not isinstance(spec, Mapping):
        raise ModelSpecError(f"{path}: expected a mapping with 'labels' and 'matrix' or 'upper'")
    return matrix_from_spec(spec, name=str(spec.get("name", name)), source=str(path))


def matrix_from_spec(spec: Mapping[str, Any], name: str, source: str = "spec") -> pd.DataFrame:
    """The matrix described by ``{labels: [...], matrix: [[...]]}`` or ``{labels, upper: [...]}``."""
    unknown = set(spec) - {"labels", "matrix", "upper", "name"}
    if unknown:
        raise ModelSpecError(f"{source}: judgement matrix '{name}': unknown key(s) {sorted(unknown)}")
    if ("matrix" in spec) == ("upper" in spec):
        raise ModelSpecError(f"{source}: judgement matrix '{name}': give exactly one of 'matrix' or 'upper'")
    form = "full" if "matrix" in spec else "upper"
    values = spec["matrix" if form == "full" else "upper"]
    return judgement_matrix(values, spec.get("labels"), name, form=form)


# ---------------------------------------------------------------------- priorities
@public
def ahp_weights(matrix: Any, method: Method = "eigen", name: str | None = None,
                labels: Sequence[str] | None = None) -> AHPResult:
    """Priorities, λmax, CI, RI and CR of a judgement matrix.

    ``eigen`` takes the principal (Perron) eigenvector, Saaty's definition; ``geometric``
    the normalised row geometric means (exact for consistent matrices, λmax then estimated as
    mean((A w)_i / w_i)). CR ≥ 0.10 goes into diagnostics and is warned about, naming the
    judgements furthest from the ratio the weights imply.
    """
    name = name or "matrix"
    if isinstance(matrix, pd.DataFrame) and labels is None:
        # re-checked (positive, reciprocal, diagonal 1); the 1–9 range only binds raw expert input
        matrix = judgement_matrix(matrix, None, name, check_scale=False)
    else:
        matrix = judgement_matrix(matrix, labels, name)
    a = matrix.to_numpy(dtype=float)
    n = a.shape[0]
    if method == "eigen":
        eigvals, eigvecs = np.linalg.eig(a)
        k = int(np.argmax(eigvals.real))
        w = np.abs(eigvecs[:, k].real)
        lam = float(eigvals[k].real)
    elif method == "geometric":
        w = np.exp(np.log(a).mean(axis=1))
        lam = float(np.mean((a @ (w / w.sum())) / (w / w.sum())))
    else:
        raise ModelSpecError(f"AHP method must be 'eigen' or 'geometric', not {method!r}")
    w = w / w.sum()
    ci = max((lam - n) / (n - 1), 0.0) if n > 1 else 0.0
    ri = RANDOM_INDEX[n]
    cr = ci / ri if ri > 0 else 0.0
    weights = pd.Series(w, index=matrix.index, name="weight")
    table = _inconsistency(a, w, list(matrix.index))
    diagnostics: list[str] = []
    if cr >= CR_THRESHOLD:
        worst = "; ".join(
            f"{r.row} vs {r.column}: judged {_fmt(r.judgement)}, the weights imply {r.consistent:.3g}"
            for r in table.head(3).itertuples()
        )
        msg = (
            f"judgement matrix '{name}': CR = {cr:.3f} ≥ {CR_THRESHOLD}, the judgements are not acceptably "
            f"consistent; revisit the most inconsistent ones: {worst}"
        )
        diagnostics.append(msg)
    return AHPResult(name, matrix, weights, lam, ci, ri, cr, method, table, diagnostics)


def _inconsistency(a: np.ndarray, w: np.ndarray, labels: list[str]) -> pd.DataFrame:
    i, j = np.triu_indices(a.shape[0], 1)
    ratio = w[i] / w[j]
    table = pd.DataFrame(
        {
            "row": [labels[k] for k in i],
            "column": [labels[k] for k in j],
            "judgement": a[i, j],
            "consistent": ratio,
            "deviation": np.abs(np.log(a[i, j] / ratio)),
        }
    )
    return table.sort_values("deviation", ascending=False, kind="stable").reset_index(drop=True)


@public
def group_ahp(
    matrices: Sequence[Any],
    method: Literal["AIJ", "AIP"] = "AIJ",
    expert_weights: Sequence[float] | None = None,
    name: str = "matrix",
    labels: Sequence[str] | None = None,
    weighting: Method = "eigen",
) -> GroupAHPResult:
    """Combine a panel's judgements.

    AIJ (aggregation of individual judgements) takes the weighted geometric mean of the
    matrices cell by cell — the only mean that keeps reciprocity — and derives priorities from
    it. AIP (aggregation of individual priorities) derives each expert's priorities and takes
    their weighted geometric mean, renormalised.
    """
    if not matrices:
        raise ModelSpecError(f"judgement matrix '{name}': the expert panel is empty")
    frames = [
        m if isinstance(m, pd.DataFrame) and labels is None
        else judgement_matrix(m, labels, f"{name} (expert {k + 1})")
        for k, m in enumerate(matrices)
    ]
    ref = list(frames[0].index)
    for k, f in enumerate(frames[1:], start=2):
        if list(f.index) != ref:
            raise ModelSpecError(
                f"judgement matrix '{name}': expert {k} compares {list(f.index)}, expert 1 compares {ref}"
            )
    ew = np.ones(len(frames)) if expert_weights is None else np.asarray(expert_weights, dtype=float)
    if ew.shape != (len(frames),) or np.any(ew <= 0):
        raise ModelSpecError(
            f"judgement matrix '{name}': expert_weights must be {len(frames)} positive numbers, "
            f"got {expert_weights}"
        )
    ew = ew / ew.sum()
    experts = tuple(ahp_weights.quiet(f, weighting, f"{name} (expert {k + 1})") for k, f in enumerate(frames))
    if method == "AIJ":
        logs = np.tensordot(ew, np.stack([np.log(f.to_numpy()) for f in frames]), axes=1)
        aggregate = ahp_weights.quiet(pd.DataFrame(np.exp(logs), index=ref, columns=ref), weighting,
                                      f"{name} (AIJ)")
        weights = aggregate.weights
    elif method == "AIP":
        aggregate = None
        w = np.exp(np.tensordot(ew, np.stack([np.log(e.weights.to_numpy()) for e in experts]), axes=1))
        weights = pd.Series(w / w.sum(), index=ref, name="weight")
    else:
        raise ModelSpecError(
            f"judgement matrix '{name}': aggregation must be 'AIJ' or 'AIP', not {method!r}"
        )
    diagnostics = list(collect(*experts, aggregate))
    return GroupAHPResult(name, method, weights, experts, aggregate, diagnostics)
