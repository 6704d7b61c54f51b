"""Diagnostics in reports: every message the package emits has a Chinese text, and groups well.

Four kinds of test:

1. every bundled study (quick mode): each diagnostic translates and reads as Chinese;
2. small constructed cases provoke the other messages, at least one case per emitting module;
3. a scan of the package source (``ast``) finds every message template and checks that the
   catalog has an entry for it, and that every catalog entry still matches a message;
4. grouping and collapsing on hand-made lists.
"""

from __future__ import annotations

import ast
import dataclasses
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import csi_research
from csi_research import Codebook, CSIModel, CSIWarning
from csi_research.core.errors import CSIError, EstimationError
from csi_research.data.sample import prepare
from csi_research.data.survey import Survey
from csi_research.evaluation.ahp import ahp_weights, group_ahp
from csi_research.evaluation.combined import combined_weights
from csi_research.evaluation.internal import internal_evaluation
from csi_research.evaluation.roughset import rough_set_weights
from csi_research.render.messages import (
    CATALOG,
    CATEGORIES,
    UNTRANSLATED,
    category_of,
    group,
    match,
    translate,
)
from csi_research.stats.bootstrap import bootstrap
from csi_research.stats.cbsem import fit_cbsem
from csi_research.stats.indices import csi_indices, grade_score_index, segment_indices
from csi_research.stats.ipma import ipma
from csi_research.stats.measurement import measurement_quality
from csi_research.stats.pls import fit_pls
from csi_research.study.pipeline import StudyConfig, run_study

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path(csi_research.__file__).resolve().parent
STUDIES = sorted(ROOT.glob("studies/*/study.yaml"))
BOOK = Codebook.default()

CJK = re.compile(r"[\u4e00-\u9fff]")
ENGLISH_RUN = re.compile(r"\b[A-Za-z]{2,}(?:[ ,']+[A-Za-z]{2,}\b){3,}")  # four English words in a row


def assert_chinese(text: str) -> None:
    """Translated, every sentence has Chinese in it, and no English phrase was left behind."""
    assert UNTRANSLATED not in text, text
    sentences = [s for s in re.split(r"[。！？]", text) if s.strip()]
    assert sentences and all(CJK.search(s) for s in sentences), text
    assert not ENGLISH_RUN.search(text), f"English left in: {ENGLISH_RUN.search(text)[0]!r} in {text}"


def keys(messages) -> set[str]:
    """Catalog keys of the messages (every one must be known)."""
    found = [match(m) for m in messages]
    assert all(f is not None for f in found), [m for m, f in zip(messages, found, strict=True) if f is None]
    return {f[0].key for f in found if f is not None}


def check_messages(messages) -> set[str]:
    """Each message (and the grouped appendix) in Chinese; the catalog keys that were hit."""
    messages = list(messages)
    for message in messages:
        assert_chinese(translate(message, "zh"))
        assert translate(message, "en") == message
    for _, lines in group(messages, "zh"):
        for line in lines:
            assert_chinese(line)
    return keys(messages)


def quietly(function, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CSIWarning)
        return function(*args, **kwargs)


def error_text(function, *args, **kwargs) -> str:
    with pytest.raises(CSIError) as caught:
        quietly(function, *args, **kwargs)
    return str(caught.value)


# ============================================================================ 1. bundled studies
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("path", STUDIES, ids=[p.parent.name for p in STUDIES])
def test_every_diagnostic_of_a_bundled_study_reads_in_chinese(path):
    result = run_study.quiet(path, quick=True)
    assert result.diagnostics
    check_messages(result.diagnostics)
    zh, en = group(result.diagnostics, "zh"), group(result.diagnostics, "en")
    assert [len(lines) for _, lines in zh] == [len(lines) for _, lines in en]
    # the nine rough-set notes become one line that still names every node and count
    rough = [m for m in result.diagnostics if m.startswith("rough set at node ")]
    assert len(rough) > 1
    lines = [line for _, group_lines in zh for line in group_lines if "决策表" in line]
    assert len(lines) == 1
    for message in rough:
        node, k, n = re.match(r"rough set at node (.+?): (\d+) of (\d+)", message).groups()
        assert f"{node}（{n} 名中 {k} 名）" in lines[0]


def test_bundled_studies_exist():
    assert len(STUDIES) >= 5


# ============================================================================ 2. provoked messages
def test_survey_data_quality_messages():
    items = BOOK.item_ids
    rng = np.random.default_rng(1)
    codes = rng.choice([2, 3, 4, 5], size=(40, len(items)))
    codes[5, :] = 4  # a straight-liner
    codes[:, 1] = 4  # one observed answer only
    codes[:12, 2] = 9  # "don't know" for 30 %
    codes[6:8, 3:] = 9  # two respondents leave most items open
    raw = pd.DataFrame(codes, columns=items)
    raw.insert(0, "respondent_id", [f"R{k:03d}" for k in range(40)])
    raw.loc[11, "respondent_id"] = "R010"  # a duplicate interview
    survey = quietly(Survey.from_frame, raw, BOOK, source="hand.csv")
    assert check_messages(survey.diagnostics) >= {
        "survey_item_missing", "survey_sparse", "survey_straight_liners", "survey_duplicate_ids",
        "survey_single_answer",
    }


def driver_survey(n: int = 300, seed: int = 3, reverse: tuple[str, ...] = ()) -> pd.DataFrame:
    """Answers 1–5 to Image → Quality → Satisfaction, with items reversed on request."""
    rng = np.random.default_rng(seed)
    image = rng.normal(0, 1, n)
    quality = 0.4 * image + rng.normal(0, 1, n)
    sat = 0.2 * image + 0.7 * quality + rng.normal(0, 0.6, n)

    def answers(latent):
        return np.clip(np.round(3.5 + 0.8 * latent + rng.normal(0, 0.7, n)), 1, 5)

    frame = pd.DataFrame({"IMG1": answers(image), "IMG2": answers(image), "QUA1": answers(quality),
                          "QUA2": answers(quality), "QUA4": answers(quality), "QUA5": answers(quality),
                          "SAT1": answers(sat), "SAT2": answers(sat)})
    frame[list(reverse)] = 6 - frame[list(reverse)]
    frame["area"] = np.where(np.arange(n) < 20, "rural", "urban")
    frame.loc[[30, 31, 32], "area"] = None
    return frame


DRIVERS = CSIModel({"Image": ["IMG1", "IMG2"], "Quality": ["QUA1", "QUA2", "QUA4"],
                    "Satisfaction": ["SAT1", "SAT2"]},
                   [("Image", "Quality"), ("Image", "Satisfaction"), ("Quality", "Satisfaction")])


def holes_everywhere(frame: pd.DataFrame) -> pd.DataFrame:
    """One answer missing in every row but the last two, across all items."""
    out = frame.copy()
    items = DRIVERS.items
    for row in range(len(out) - 2):
        out.iloc[row, out.columns.get_loc(items[row % len(items)])] = np.nan
    return out


def test_sample_messages():
    frame = driver_survey(n=100)
    frame.loc[:29, "QUA1"] = np.nan  # 30 % missing: imputed values carry much of its weight
    frame.loc[40, DRIVERS.items] = np.nan  # answered nothing
    found = set()
    for missing in ("listwise", "em"):
        found |= check_messages(quietly(prepare, DRIVERS, frame, missing=missing, codebook=BOOK).diagnostics)
    spec = {"by": "area", "population_shares": {"urban": 0.6, "rural": 0.3, "town": 0.1}}
    found |= check_messages(quietly(prepare, DRIVERS, frame.dropna(subset=["area"]), weights=spec,
                                    codebook=BOOK).diagnostics)
    assert found >= {"sample_listwise", "sample_no_answers", "sample_heavy_imputation",
                     "poststratify_empty_cells"}
    assert check_messages([
        error_text(prepare, DRIVERS, frame.assign(QUA2=np.nan), codebook=BOOK),
        error_text(prepare, DRIVERS, frame.assign(QUA2=3.0), codebook=BOOK),
        error_text(prepare, DRIVERS, holes_everywhere(frame.head(40)), missing="listwise", codebook=BOOK),
    ]) == {"error_sample_unobserved", "error_sample_constant", "error_sample_too_few"}


def test_pls_messages():
    model = CSIModel({"Image": ["IMG1", "IMG2"], "Quality": ["QUA1", "QUA2", "QUA4", "QUA5"]},
                     [("Image", "Quality")])
    frame = driver_survey(n=200, reverse=("QUA1", "QUA2"))  # two of four reversed: the composite flips
    flipped = quietly(fit_pls, prepare.quiet(model, frame, codebook=BOOK))
    assert check_messages(flipped.diagnostics) >= {"pls_sign_flip"}
    assert check_messages([error_text(fit_pls, DRIVERS, driver_survey(), max_iter=1)]) == {
        "error_pls_convergence"}


def collinear_frame(n: int = 60, seed: int = 0) -> pd.DataFrame:
    """Answers 1–10 to constructs A and B, almost identical, both predicting C."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(n)
    latent = {"a": a, "b": a + 0.05 * rng.standard_normal(n)}
    latent["c"] = 0.5 * latent["a"] + 0.5 * latent["b"] + 0.6 * rng.standard_normal(n)
    return pd.DataFrame({f"{k}{j}": np.clip(np.round(5.5 + 1.5 * (v + 0.5 * rng.standard_normal(n))), 1, 10)
                         for k, v in latent.items() for j in (1, 2, 3)})


COLLINEAR = CSIModel({"A": ["a1", "a2", "a3"], "B": ["b1", "b2", "b3"], "C": ["c1", "c2", "c3"]},
                     [("A", "C"), ("B", "C")])


def heywood_frame(n: int = 80, seed: int = 4) -> pd.DataFrame:
    """B is A plus a little noise (R² near 1): a negative disturbance variance, paths above 1."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(n)
    b = 0.97 * a + 0.2 * rng.standard_normal(n)
    c = 0.5 * b + 0.8 * rng.standard_normal(n)
    return pd.DataFrame({f"{k}{j}": v + 0.6 * rng.standard_normal(n)
                         for k, v in (("a", a), ("b", b), ("c", c)) for j in (1, 2, 3)})


CHAIN = CSIModel({"A": ["a1", "a2", "a3"], "B": ["b1", "b2", "b3"], "C": ["c1", "c2", "c3"]},
                 [("A", "B"), ("B", "C")], modes={"C": "B"})


def test_cbsem_messages():
    found = check_messages(quietly(fit_cbsem, COLLINEAR, collinear_frame()).diagnostics)
    heywood = heywood_frame()
    fit = quietly(fit_cbsem, CHAIN, heywood)
    assert not fit.admissible
    found |= check_messages(fit.diagnostics)
    holes = heywood.copy()
    holes.iloc[::7, 0] = np.nan
    for settings in ({"missing": "mean"}, {"missing": "em"}):  # ML on imputed answers, as asked
        found |= check_messages(quietly(fit_cbsem, prepare.quiet(CHAIN, holes, **settings),
                                        estimator="ML").diagnostics)
    draws = np.random.default_rng(1).uniform(0.5, 2, len(heywood))
    weighted = prepare.quiet(CHAIN, heywood, weights=draws)
    found |= check_messages(quietly(fit_cbsem, weighted).diagnostics)
    found |= check_messages(quietly(fit_cbsem, prepare.quiet(CHAIN, holes, weights=draws)).diagnostics)
    assert found >= {
        "cbsem_not_positive_definite", "cbsem_collinear_predictors", "cbsem_discriminant", "cbsem_heywood",
        "cbsem_standardised_outside", "cbsem_formative", "cbsem_mean_imputed", "cbsem_em_covariance",
        "cbsem_weighted", "cbsem_fiml_weighted",
    }
    duplicated = heywood.assign(a3=heywood["a1"])
    # 10 respondents carry all the weight, two of them with the same answers: 9 points for 9 items
    repeated = heywood.copy()
    repeated.iloc[1] = repeated.iloc[0]
    few_weighted = np.r_[np.ones(10), np.zeros(len(heywood) - 10)]
    assert check_messages([
        error_text(fit_cbsem, CHAIN, heywood.head(12)),
        error_text(fit_cbsem, CHAIN, repeated, weights=few_weighted),
        error_text(fit_cbsem, CHAIN, duplicated),
    ]) == {"error_cbsem_parameters", "error_cbsem_covariance",
           "error_sample_collinear_pair"}


def test_measurement_messages():
    frame = collinear_frame()
    rng = np.random.default_rng(2)
    frame["a4"] = frame["a1"] + (rng.uniform(size=len(frame)) < 0.05)  # nearly a copy of a1 (formative A)
    for j in (1, 2, 3):
        frame[f"d{j}"] = rng.integers(1, 11, len(frame)).astype(float)  # D's items measure nothing
    model = CSIModel({"A": ["a1", "a2", "a3", "a4"], "B": ["b1", "b2", "b3"], "C": ["c1", "c2", "c3"],
                      "D": ["d1", "d2", "d3"]}, [*COLLINEAR.paths, ("D", "C")], modes={"A": "B"})
    quality = measurement_quality.quiet(quietly(fit_pls, model, frame))
    assert check_messages(quality.diagnostics) >= {
        "low_reliability", "htmt", "fornell_larcker", "vif_item", "vif_predictor"}
    # the appendix says each kind once: the HTMT pairs share a line
    zh = dict(group(quality.diagnostics, "zh"))["测量质量"]
    assert sum(line.startswith("以下构面对的 HTMT") for line in zh) == 1


def test_bootstrap_messages():
    model = CSIModel({"Image": ["IMG1", "IMG2"], "Quality": ["QUA1", "QUA2", "QUA4", "QUA5"]},
                     [("Image", "Quality")])
    sample = prepare.quiet(model, driver_survey(n=200), codebook=BOOK)
    # the fewest iterations the full sample needs: resamples needing one more fail
    for max_iter in range(1, 50):
        try:
            fit = quietly(fit_pls, sample, scheme="centroid", max_iter=max_iter)
            break
        except EstimationError:
            continue
    else:
        pytest.fail("PLS did not converge")
    failed = bootstrap.quiet(fit, n_boot=40, seed=1, progress=False, workers=1, bca=False)
    assert failed.n_failed > 0
    found = check_messages(failed.diagnostics)
    fragile = quietly(fit_cbsem, CHAIN, heywood_frame())
    inadmissible = bootstrap.quiet(fragile, n_boot=20, seed=1, progress=False, workers=1, backend="threads")
    found |= check_messages(inadmissible.diagnostics)
    assert found >= {"bootstrap_not_converged", "bootstrap_not_admissible"}


def test_index_segment_and_ipma_messages():
    fit = quietly(fit_pls, prepare.quiet(DRIVERS, driver_survey(reverse=("QUA2",)), codebook=BOOK))
    found = set()
    for messages in (csi_indices.quiet(fit).attrs["diagnostics"],
                     segment_indices.quiet(fit, "area").attrs["diagnostics"],
                     grade_score_index.quiet(fit, weights="model", items=DRIVERS.items).attrs["diagnostics"],
                     ipma.quiet(fit).diagnostics,
                     ipma.quiet(fit, target="Quality").diagnostics):
        found |= check_messages(messages)
    assert found >= {"negative_outer_weight", "segments_unstated", "segment_small", "negative_model_weight",
                     "ipma_negative_importance", "ipma_nothing_to_rank"}


def test_ipma_actionability_messages():
    frame = driver_survey()
    bare = quietly(fit_pls, prepare.quiet(DRIVERS, frame, scale_min=1, scale_max=5))
    renamed = CSIModel({"A": ["IMG1", "IMG2"], "M": ["QUA1", "QUA2"], "Y": ["SAT1", "SAT2"]},
                       [("A", "M"), ("A", "Y"), ("M", "Y")], target="Y")
    nameless = quietly(fit_pls, prepare.quiet(renamed, frame, scale_min=1, scale_max=5))
    spec = yaml.safe_load(BOOK.to_yaml())
    for sub in spec["subindicators"].values():
        sub.pop("actionable", None)
    unmarked = quietly(fit_pls, prepare.quiet(DRIVERS, frame, codebook=Codebook.from_dict(spec)))
    found = set()
    for fit in (bare, nameless, unmarked):
        found |= check_messages(ipma.quiet(fit).diagnostics)
    assert found >= {"ipma_no_codebook", "ipma_no_marks_no_standard", "ipma_unmarked"}


LOOP = [[9, 1 / 9], [9]]  # a > b, b > c, c > a: circular judgements


def test_industry_method_messages():
    found = check_messages(ahp_weights.quiet(LOOP, labels=["a", "b", "c"], name="loop").diagnostics)
    found |= check_messages(group_ahp.quiet([LOOP, LOOP], labels=["a", "b", "c"], name="panel").diagnostics)
    loop = ahp_weights.quiet(LOOP, labels=["a", "b", "c"], name="loop")
    combined = combined_weights.quiet(loop, pd.Series({"a": 0.2, "b": 0.3, "c": 0.5}), alpha=0.8)
    found |= check_messages(combined.diagnostics)
    assert any("判断矩阵“loop（组合赋权，alpha=0.8）”" in translate(m) for m in combined.diagnostics)
    zero = pd.DataFrame({"a": [1, 1, 2, 2, 3, 3], "b": [1, 1, 2, 2, 3, 3], "c": [1, 2, 1, 2, 1, 1],
                         "d": [1, 1, 2, 2, 2, 2]})
    found |= check_messages(rough_set_weights.quiet(zero, ["a", "b", "c"], "d", name="node X").diagnostics)
    gaps = pd.DataFrame({"x": [10.0, 55.0, 65.0, 90.0, np.nan], "d": [1, 1, 2, 2, 2]})
    found |= check_messages(rough_set_weights.quiet(gaps, ["x"], "d", bins={"x": [60]}).diagnostics)
    table = pd.DataFrame({"region": ["a", "b"], "year": [2025, 2025], "outage_duration_hours": [np.nan, 2.0],
                          "complaint_callback_rate": [np.nan, 0.9]})
    internal = internal_evaluation.quiet(table)
    found |= check_messages(internal.diagnostics)
    assert found >= {"ahp_inconsistent", "rough_set_zero_significance", "rough_set_missing",
                     "internal_indicator_missing"}
    # both missing indicators of region a share one line
    assert group(internal.diagnostics, "zh") == [
        ("行业评价方法", ["地区 a（2025）：缺少指标 outage_duration_hours、complaint_callback_rate，"
                   "内部得分由其余指标计算。"])]
    names = " ".join(translate(m) for m in group_ahp.quiet([LOOP, LOOP], labels=["a", "b", "c"],
                                                            name="panel").diagnostics)
    assert "panel（专家 1）" in names and "panel（专家组 AIJ 汇总）" in names
    assert check_messages([
        error_text(rough_set_weights, pd.DataFrame({"a": [1, 1, 2, 2], "d": [1, 2, 1, 2]}), ["a"], "d"),
        error_text(rough_set_weights, gaps.tail(2), ["x"], "d", bins={"x": [60]}),
    ]) == {"error_rough_set_no_dependency", "error_rough_set_complete"}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_study_messages(tmp_path):
    """A study on 60 respondents (too few for CB-SEM) of a region without internal indicators."""
    config = StudyConfig.from_yaml(ROOT / "studies" / "beiling-2025" / "study.yaml")
    data = tmp_path / "tiny.csv"
    pd.read_csv(config.data).head(60).to_csv(data, index=False)
    config = dataclasses.replace(config, data=data, region_id="nowhere", quick_n_boot=20)
    result = run_study.quiet(config, quick=True)
    assert check_messages(result.diagnostics) >= {"study_cbsem_failed", "study_no_internal_indicators"}
    zh = " ".join(line for _, lines in group(result.diagnostics, "zh") for line in lines)
    assert "无法估计 CB-SEM：只有 60 名受访者" in zh


# ============================================================================ 3. the source scan
# What the scan covers. A *template* is a string expression (literal, f-string, ``+`` of them,
# ``a if c else b``, or a local name bound to one) that reaches one of these sinks:
#   * a message list: ``x.append/extend/insert(...)``, ``x = [...]``, ``x += [...]``, list
#     comprehensions, where ``x`` is named in MESSAGE_LISTS, or is returned by a message function,
#     or flows into a ``diagnostics=`` / ``extra=`` argument;
#   * the return value of a message function: one whose name matches MESSAGE_FUNCTIONS, or whose
#     result is assigned (also by tuple unpacking, position by position) to a message list;
#   * ``warnings.warn(text, CSIWarning)``;
#   * ``raise EstimationError(text)``: such errors are caught and quoted in diagnostics
#     (``CB-SEM could not be estimated: {exc}``, ``industry evaluation: node {node}: {exc}``).
# Each template becomes a regex (literal text escaped, each ``{...}`` any text); a catalog
# example must match it. Text that is no diagnostic (render/, reporting/ and NOT_DIAGNOSTICS)
# is not scanned; test_no_sentence_escapes_the_scan checks that no other English sentence appended
# to a list anywhere in the package is missed.
MESSAGE_LISTS = {"diagnostics", "notes"}
MESSAGE_FUNCTIONS = re.compile(r"diagnostics|notes|messages|admissibility")
NOT_DIAGNOSTICS = {
    ("stats/ipma.py", "describe_priorities"),  # reader sentences, written in both languages
    ("stats/ipma.py", "lowest_performers_note"),
    ("core/fonts.py", "font_file"),  # the parts of an error message
    ("data/scaffold.py", "_codebook_text"),  # comments of the files new-study writes
    ("data/scaffold.py", "_known_item"),
    ("data/scaffold.py", "_attribute_lines"),
    ("data/scaffold.py", "_study_text"),
}
SKIPPED = ("render", "reporting")  # the wording of reports and of the translations themselves
WILD = "(?:.*?)"


@dataclasses.dataclass(frozen=True)
class Found:
    where: str
    text: str  # the template's literal text, for the failure message
    regex: str


class Scope:
    """One function (or a module's top level): its assignments, for resolving local names."""

    def __init__(self, module: ast.Module, node: ast.AST, name: str, file: str) -> None:
        self.module, self.node, self.name, self.file = module, node, name, file

    def statements(self) -> Iterator[ast.AST]:
        """The scope's own nodes, not those of nested functions."""
        stack = list(ast.iter_child_nodes(self.node))
        while stack:
            node = stack.pop()
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                continue
            yield node
            stack.extend(ast.iter_child_nodes(node))

    def bound(self, name: str) -> list[ast.expr] | None:
        """Every value ``name`` is given here by plain assignment (a module constant when the function
        does not bind it); None when it is also bound otherwise (parameter, loop, ``except``...)."""
        for scope in (self.node, self.module):
            stores = [n for n in ast.walk(scope) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
                      and n.id == name]
            arguments = getattr(scope, "args", None)
            params = [a for a in ast.walk(arguments) if isinstance(a, ast.arg) and a.arg == name] \
                if arguments is not None else []
            handlers = [h for h in ast.walk(scope) if isinstance(h, ast.ExceptHandler) and h.name == name]
            if stores or params or handlers:
                values = [n.value for n in ast.walk(scope) if isinstance(n, ast.Assign)
                          and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name)
                          and n.targets[0].id == name]
                return values if len(values) == len(stores) and not params and not handlers else None
        return None


def stringy(node: ast.AST | None, scope: Scope, depth: int = 0) -> bool:
    if depth > 5 or node is None:
        return False
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return stringy(node.left, scope, depth + 1) or stringy(node.right, scope, depth + 1)
    if isinstance(node, ast.IfExp):
        return stringy(node.body, scope, depth + 1) and stringy(node.orelse, scope, depth + 1)
    if isinstance(node, ast.Name):
        values = scope.bound(node.id)
        return bool(values) and all(stringy(v, scope, depth + 1) for v in values)
    return False


def skeleton(node: ast.AST, scope: Scope, depth: int = 0) -> str:
    """A regex matching every text ``node`` can produce (literal parts exact, the rest any text)."""
    if depth > 5:
        return WILD
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return re.escape(node.value)
    if isinstance(node, ast.JoinedStr):
        return "".join(skeleton(v, scope, depth + 1) for v in node.values)
    if isinstance(node, ast.FormattedValue):
        plain = node.conversion == -1 and node.format_spec is None
        return skeleton(node.value, scope, depth + 1) if plain and stringy(node.value, scope) else WILD
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return skeleton(node.left, scope, depth + 1) + skeleton(node.right, scope, depth + 1)
    if isinstance(node, ast.IfExp):
        return f"(?:{skeleton(node.body, scope, depth + 1)}|{skeleton(node.orelse, scope, depth + 1)})"
    if isinstance(node, ast.Name) and stringy(node, scope):
        return "(?:" + "|".join(skeleton(v, scope, depth + 1) for v in scope.bound(node.id) or []) + ")"
    return WILD


def literal(node: ast.AST, scope: Scope) -> str:
    """The literal text of a template, placeholders as {…} (for messages and the word count)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(literal(v, scope) if isinstance(v, ast.Constant) else "{…}" for v in node.values)
    if isinstance(node, ast.BinOp):
        return literal(node.left, scope) + literal(node.right, scope)
    if isinstance(node, ast.IfExp):
        return f"{literal(node.body, scope)} | {literal(node.orelse, scope)}"
    if isinstance(node, ast.Name) and stringy(node, scope):
        return " | ".join(literal(v, scope) for v in scope.bound(node.id) or [])
    return "{…}"


def strings_in(node: ast.AST | None, scope: Scope) -> list[ast.expr]:
    """The string expressions a list-valued expression puts in the list."""
    if node is None:
        return []
    if stringy(node, scope):
        return [node]  # type: ignore[list-item]
    if isinstance(node, ast.List | ast.Tuple):
        return [s for e in node.elts for s in strings_in(e, scope)]
    if isinstance(node, ast.ListComp):
        return strings_in(node.elt, scope)
    if isinstance(node, ast.BinOp):
        return strings_in(node.left, scope) + strings_in(node.right, scope)
    return []


def names_in(node: ast.AST) -> set[str]:
    """Names whose items a list expression takes: ``x``, ``[*x, *y]``, ``x + y``, ``list(x)``."""
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, ast.Starred):
        return names_in(node.value)
    if isinstance(node, ast.List | ast.Tuple):
        return {n for e in node.elts for n in names_in(e)}
    if isinstance(node, ast.BinOp):
        return names_in(node.left) | names_in(node.right)
    if isinstance(node, ast.Call) and callee(node) in ("list", "tuple") and node.args:
        return names_in(node.args[0])
    return set()


def callee(call: ast.Call) -> str:
    """The called function's name (``f.quiet(...)`` calls ``f``, see csi_research.core.diagnostics.public)."""
    f = call.func
    if isinstance(f, ast.Attribute) and f.attr == "quiet" and isinstance(f.value, ast.Name):
        return f.value.id
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""


def callees_in(node: ast.AST) -> set[str]:
    return {callee(n) for n in ast.walk(node) if isinstance(n, ast.Call)} - {""}


def target_names(target: ast.AST) -> list[str | None]:
    if isinstance(target, ast.Tuple | ast.List):
        return [t.id if isinstance(t, ast.Name) else None for t in target.elts]
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, ast.Subscript) and isinstance(target.slice, ast.Constant):
        return [str(target.slice.value)]  # out.attrs["diagnostics"] = ...
    return [None]


def package_scopes() -> list[Scope]:
    scopes = []
    for path in sorted(PACKAGE.rglob("*.py")):
        file = path.relative_to(PACKAGE).as_posix()
        if file.startswith(SKIPPED):
            continue
        module = ast.parse(path.read_text(encoding="utf-8"))
        scopes.append(Scope(module, module, "<module>", file))
        scopes += [Scope(module, n, n.name, file) for n in ast.walk(module)
                   if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    return scopes


def message_flow(scopes: list[Scope]) -> tuple[dict[int, set[str]], dict[str, set[int | None]]]:
    """Fixed point: message-list names per scope, and message functions (returned positions)."""
    lists = {id(s): set(MESSAGE_LISTS) for s in scopes}
    functions: dict[str, set[int | None]] = {}
    changed = True
    while changed:
        changed = False

        def add(table, key, values) -> None:
            nonlocal changed
            new = set(values) - table.setdefault(key, set())
            if new:
                table[key] |= new
                changed = True

        for scope in scopes:
            mine = lists[id(scope)]
            for node in scope.statements():
                if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign) and node.value is not None:
                    for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                        names = target_names(target)
                        if len(names) > 1 and isinstance(node.value, ast.Call):  # a, notes = f(...)
                            for k, name in enumerate(names):
                                if name in mine:
                                    add(functions, callee(node.value), {k})
                        elif names[0] in mine:
                            add(lists, id(scope), names_in(node.value))
                            for fn in callees_in(node.value):
                                add(functions, fn, {None})
                if isinstance(node, ast.keyword) and node.arg in ("diagnostics", "extra"):
                    add(lists, id(scope), names_in(node.value))
                    for fn in callees_in(node.value):
                        add(functions, fn, {None})
            if MESSAGE_FUNCTIONS.search(scope.name):
                functions.setdefault(scope.name, {None})
            for node in scope.statements():
                if isinstance(node, ast.Return) and node.value is not None and scope.name in functions:
                    for part in returned(node.value, functions[scope.name]):
                        add(lists, id(scope), set() if isinstance(part, ast.Tuple) else names_in(part))
    return lists, functions


def returned(value: ast.expr, positions: set[int | None]) -> list[ast.expr]:
    if isinstance(value, ast.Tuple):
        return [value.elts[k] for k in positions if k is not None and k < len(value.elts)] + (
            [value] if None in positions else [])
    return [value]


def source_templates() -> list[Found]:
    scopes = package_scopes()
    lists, functions = message_flow(scopes)
    found: list[Found] = []

    def take(nodes, scope, node) -> None:
        for s in nodes:
            found.append(Found(f"{scope.file}:{node.lineno} ({scope.name})", literal(s, scope),
                               skeleton(s, scope)))

    for scope in scopes:
        if (scope.file, scope.name) in NOT_DIAGNOSTICS:
            continue
        mine = lists[id(scope)]
        for node in scope.statements():
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                owner = node.func.value
                if (node.func.attr in ("append", "extend", "insert") and isinstance(owner, ast.Name)
                        and owner.id in mine and node.args):
                    arg = node.args[-1]
                    take(strings_in(arg, scope) if node.func.attr == "extend" else
                         [arg] if stringy(arg, scope) else [], scope, node)
                if (node.func.attr == "warn" and len(node.args) > 1 and isinstance(node.args[1], ast.Name)
                        and node.args[1].id == "CSIWarning" and stringy(node.args[0], scope)):
                    take([node.args[0]], scope, node)
            if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(target_names(t) == [name] for t in targets for name in mine):
                    take(strings_in(node.value, scope), scope, node)
            if isinstance(node, ast.Return) and node.value is not None and scope.name in functions:
                for part in returned(node.value, functions[scope.name]):
                    take(strings_in(part, scope) if not isinstance(part, ast.Tuple) else [], scope, node)
            if (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)
                    and isinstance(node.exc.func, ast.Name) and node.exc.func.id == "EstimationError"
                    and node.exc.args and stringy(node.exc.args[0], scope)):
                take([node.exc.args[0]], scope, node)
    return list({(f.where, f.regex): f for f in found}.values())


@pytest.fixture(scope="module")
def templates() -> list[Found]:
    return source_templates()


def examples():
    return [(t, e) for t in CATALOG for e in t.examples]


def test_the_scan_sees_every_module_that_emits_messages(templates):
    modules = {f.where.split(":")[0] for f in templates}
    assert modules >= {
        "data/survey.py", "data/sample.py", "stats/measurement.py", "stats/pls.py", "stats/cbsem.py",
        "stats/bootstrap.py", "stats/indices.py", "stats/ipma.py", "study/pipeline.py", "evaluation/ahp.py",
        "evaluation/roughset.py", "evaluation/industry.py", "evaluation/internal.py",
    }
    assert len(templates) >= 50
    # the known shapes: list comprehension, local name, tuple unpacking, a returned tuple
    texts = " | ".join(f.text for f in templates)
    for piece in ("most items correlate negatively", "the judgements are not acceptably consistent",
                  "contains the decision item", "could not be estimated", "correlate {…} (> {…})"):
        assert piece in texts, piece


def test_every_source_message_has_a_catalog_entry(templates):
    missing = [f"{f.where}: {f.text}" for f in templates
               if not any(re.fullmatch(f.regex, e, re.DOTALL) for _, e in examples())]
    assert not missing, "messages without a translation in render/messages.py:\n" + "\n".join(missing)


def test_every_catalog_entry_still_matches_a_source_message(templates):
    stale = [f"{t.key}: {e}" for t, e in examples()
             if not any(re.fullmatch(f.regex, e, re.DOTALL) for f in templates)]
    assert not stale, "catalog entries whose message the package no longer emits:\n" + "\n".join(stale)


def test_no_sentence_escapes_the_scan(templates):
    """Fail-closed: every English sentence appended to any list is a template or in NOT_DIAGNOSTICS."""
    known = {f.where.split(" ")[0] for f in templates}
    escaped = []
    for scope in package_scopes():
        if (scope.file, scope.name) in NOT_DIAGNOSTICS:
            continue
        for node in scope.statements():
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "append" and node.args and stringy(node.args[0], scope)):
                text = literal(node.args[0], scope)
                where = f"{scope.file}:{node.lineno}"
                if len(re.findall(r"[A-Za-z]{2,}", text)) >= 3 and where not in known:
                    escaped.append(f"{where}: {text}")
    assert not escaped, "\n".join(escaped)


@pytest.mark.parametrize(("template", "example"), examples(), ids=[f"{t.key}-{k}" for t in CATALOG
                                                                   for k in range(len(t.examples))])
def test_catalog_examples_translate(template, example):
    found = match(example)
    assert found is not None and found[0] is template  # no earlier entry shadows it
    assert_chinese(translate(example, "zh"))
    assert translate(example, "en") == example
    assert category_of(example) == template.category


def test_catalog_is_well_formed():
    assert len({t.key for t in CATALOG}) == len(CATALOG)
    categories = [c.key for c in CATEGORIES]
    assert categories[0] == "data" and categories[-1] == "other"
    for t in CATALOG:
        assert t.category in categories and t.examples
        groups = set(t.pattern.groupindex)
        used = set(re.findall(r"\{(\w+)\}", t.zh))
        assert used == groups, (t.key, used ^ groups)  # every variable part reappears in Chinese
        assert set(t.convert) <= groups
        if t.collapse is not None:
            assert set(t.collapse.same) <= groups
            for text in (*t.collapse.item, *t.collapse.line):
                assert set(re.findall(r"\{(\w+)\}", text)) <= groups | {"parts"}


# ============================================================================ 4. grouping
ROUGH = [f"rough set at node {node}: {k} of 450 respondents have a missing grade on SAT1 or a condition "
         "attribute and are left out of the decision table"
         for node, k in (("image", 22), ("expectation", 18), ("channels", 54))]
SMALL = ["segment voltage=high: only 22 respondents (< 30); read with care",
         "segment customer_class=industrial: only 24 respondents (< 30); read with care"]
STRAIGHT = ("a.csv: 8 straight-liner(s) gave the same answer to every item (e.g. a-0050); check them and "
            "consider excluding them")
LOW = ("construct Complaints: alpha 0.603 < 0.7; its items do not measure one thing consistently: inspect "
       "the loadings and drop or reword weak items")


def test_group_orders_categories_removes_duplicates_and_collapses():
    messages = [*ROUGH, SMALL[0], STRAIGHT, LOW, SMALL[1], STRAIGHT, ROUGH[0]]
    zh = group(messages, "zh")
    assert [title for title, _ in zh] == ["数据质量", "测量质量", "细分群体", "行业评价方法"]
    lines = dict(zh)
    assert lines["数据质量"] == [translate(STRAIGHT)]
    assert lines["细分群体"] == [
        "以下细分群体的受访者少于 30 名，解读时请谨慎：voltage=high（22 名）、"
        "customer_class=industrial（24 名）。"]
    assert lines["行业评价方法"] == [
        "粗糙集：在 SAT1 或某个条件属性上缺少等级的受访者未纳入决策表，各节点排除的人数为 "
        "image（450 名中 22 名）、expectation（450 名中 18 名）、channels（450 名中 54 名）。"]
    en = dict(group(messages, "en"))
    assert list(en) == ["Data quality", "Measurement quality", "Segments", "Industry evaluation methods"]
    assert en["Data quality"] == [STRAIGHT] and en["Measurement quality"] == [LOW]
    assert en["Segments"] == ["segments with fewer than 30 respondents (read with care): voltage=high (22), "
                              "customer_class=industrial (24)"]
    assert en["Industry evaluation methods"] == [
        "rough set: respondents with a missing grade on SAT1 or a condition attribute are left out of the "
        "decision table at nodes image (22 of 450), expectation (18 of 450), channels (54 of 450)"]


def test_a_single_message_is_not_collapsed_and_different_groups_stay_apart():
    assert group([ROUGH[0]], "zh") == [("行业评价方法", [translate(ROUGH[0])])]
    other_decision = ROUGH[1].replace("SAT1", "SAT2")
    lines = dict(group([ROUGH[0], other_decision], "zh"))["行业评价方法"]
    assert lines == [translate(ROUGH[0]), translate(other_decision)]
    limit = SMALL[1].replace("(< 30)", "(< 50)")
    assert dict(group([SMALL[0], limit], "en"))["Segments"] == [SMALL[0], limit]


def test_unknown_messages_are_kept_marked_and_grouped_last():
    unknown = "something new happened to QUA3"
    assert translate(unknown, "zh") == UNTRANSLATED + unknown
    assert translate(unknown, "en") == unknown
    assert category_of(unknown) == "other"
    assert group([unknown, STRAIGHT], "zh") == [("数据质量", [translate(STRAIGHT)]),
                                                ("其他", [UNTRANSLATED + unknown])]
    assert group([unknown], "en") == [("Other", [unknown])]
    # a known wrapper around an unknown reason keeps the mark where the reason is
    wrapped = translate("CB-SEM could not be estimated: " + unknown)
    assert wrapped.startswith("无法估计 CB-SEM：") and UNTRANSLATED in wrapped


def test_empty_input_and_bad_language():
    assert group([], "zh") == [] and group([], "en") == []
    with pytest.raises(ValueError, match="language"):
        translate(STRAIGHT, "fr")
    with pytest.raises(ValueError, match="language"):
        group([STRAIGHT], "de")


def test_lists_inside_messages_use_chinese_separators():
    text = translate("item(s) IMG1 (25%), QUA2 (31%) miss more than a fifth of their answers: the imputed "
                     "values carry much of their weight; check the question")
    assert text.startswith("题项 IMG1（25%）、QUA2（31%）缺失的答案超过五分之一")
    heywood = translate("negative variance estimate (Heywood case): VAL (-0.012), SAT (-0.003); a variance "
                        "cannot be negative, so the model does not fit these data (too few items per "
                        "construct, collinear constructs or a misspecified model); fix the item or "
                        "construct, or use PLS (fit_pls)")
    assert "VAL（-0.012）、SAT（-0.003）" in heywood


def test_chinese_lines_call_evaluation_nodes_by_the_studys_labels():
    from csi_research.render.messages import group

    messages = [
        "rough set at node image: 13 of 500 respondents have a missing grade on SAT1 or a condition "
        "attribute and are left out of the decision table",
        "rough set at node supply_quality: 5 of 500 respondents have a missing grade on SAT1 or a condition "
        "attribute and are left out of the decision table",
        "industry evaluation: node supply_quality: rough set: only 1 complete respondents; at least 2 are "
        "needed; the experts' weights are used",
    ]
    names = {"image": "企业形象", "supply_quality": "供电质量"}
    lines = [line for _, found in group(messages, "zh", names) for line in found]
    assert "企业形象（500 名中 13 名）" in lines[0] and "供电质量（500 名中 5 名）" in lines[0]
    assert "供电质量" in lines[1]
    assert not any("image" in line or "supply_quality" in line for line in lines)
    english = [line for _, found in group(messages, "en", names) for line in found]
    assert "supply_quality" in english[-1]  # English lines are the messages themselves
