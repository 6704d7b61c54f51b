"""Reader-facing column headers and table names (Chinese and English), and number formatting.

Tables keep their machine column names (``ci_lower``, ``p_value``…) in CSV and JSON; readers see
:data:`COLUMNS` headers and :data:`TABLE_NAMES` names (data: ``resources/headers.yaml``),
in ``"zh"``, ``"en"`` or ``"both"``
("指数 Index"). Unknown names fall back to the raw name.

How a column's numbers are shown depends on what they are (:data:`KINDS`), decided in this order:

1. ``table.attrs["kinds"]`` — column → kind, ``"*"`` for every other float column (for tables
   whose columns are data, e.g. the comparison's construct × region table);
2. the dtype: booleans are ✓ / –, integers are integers (a count, a rank, a year, a code);
3. interval bounds and standard errors (:data:`BOUNDED`) take the kind of the statistic they
   bound — an index (one decimal) when the table has one of :data:`INDEX_STATISTICS`, else a
   coefficient (three decimals);
4. :data:`PRECISION`, the column name's kind; a name ending in ``_share`` is a percentage
   (indicator columns named ``*_rate`` are not: in the indicator-score table they hold 0–100
   scores);
5. any other float: three decimals.

``level`` is a confidence level ("95%") when its values are fractions, else a hierarchy level;
``index`` holding text (a reset row label) is a name, not an index.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from csi_research.model import DEFAULT_LABELS
from csi_research.render.wording import bilingual

LANGUAGES = ("zh", "en", "both")
MISSING = "–"
YES, NO = "✓", "–"

# ---------------------------------------------------------------------------- headers
# the seven constructs' names (columns of the HTMT matrix) are the model's default labels
COLUMNS: dict[str, tuple[str, str]] = {**bilingual("headers.yaml", "columns"), **DEFAULT_LABELS}

TABLE_NAMES: dict[str, tuple[str, str]] = bilingual("headers.yaml", "tables")

SHEET_FORBIDDEN = set('[]:*?/\\')
SHEET_MAX = 31


def check_language(language: str) -> str:
    if language not in LANGUAGES:
        raise ValueError(f"language {language!r} is not one of {', '.join(LANGUAGES)}")
    return language


def _pick(names: tuple[str, str] | None, raw: str, language: str) -> str:
    if names is None:
        return raw
    zh, en = names
    return zh if language == "zh" else en if language == "en" else (zh if zh == en else f"{zh} {en}")


def header(column: str, language: str = "both") -> str:
    """The reader's header of ``column``: Chinese, English or both ("指数 Index"); else the name."""
    return _pick(COLUMNS.get(str(column)), str(column), check_language(language))


def table_name(name: str, language: str = "both") -> str:
    """The reader's name of a table (a sheet name for the known ones); else the raw name."""
    return _pick(TABLE_NAMES.get(name), name, check_language(language))


# ---------------------------------------------------------------------------- number kinds
KINDS = ("index", "coefficient", "p_value", "percent", "level", "count")
DECIMALS = {"index": 1, "coefficient": 3, "p_value": 3, "percent": 1}
P_FLOOR = 0.001  # smaller p-values are shown as "<0.001"

PRECISION: dict[str, str] = {
    # 0–100 indices and scores: one decimal
    **dict.fromkeys(["index", "performance", "score", "difference", "potential_gain", "before", "now",
                     "external_csi", "internal_score", "service_quality_index", "grade_score", "lower",
                     "upper", "voltage_qualification_rate", "supply_reliability_rate",
                     "outage_duration_hours", "outage_frequency", "fault_restoration_hours",
                     "outlets_per_10k_households", "three_ring_answer_rate", "complaint_callback_rate",
                     "complaint_handling_days", "metering_fault_rate", "commitment_compliance_rate"],
                    "index"),
    # coefficients, weights, loadings, R², reliability, HTMT, importance: three decimals
    **dict.fromkeys(["estimate", "est", "std_all", "cbsem_std", "direct", "indirect", "total", "r2",
                     "loading", "communality", "redundancy", "weight", "alpha", "rho_c", "rho_a", "ave",
                     "importance", "t", "z", "subjective_weight", "objective_weight", "local_weight",
                     "global_weight", "cr", "subjective", "objective", "combined", "judgement",
                     "consistent", "deviation", "significance", "gamma_without", "gamma_alone",
                     "max_validity", "beta", "value", "f2", "q2_predict", "q2_predict_lm", "rmse_pls",
                     "mae_pls", "rmse_lm", "mae_lm", "rmse", "mae", "loss_model", "loss_benchmark",
                     "loss_difference", "slope", "weight_lower", "weight_upper", "loading_lower",
                     "loading_upper", "vif"], "coefficient"),
    "moderator_sd": "index",
    "p_value": "p_value",
    "p_adjusted": "p_value",
    "missing_share": "percent",
    "share": "percent",
    "coverage": "percent",
    **dict.fromkeys(["cumulative_share", "excess_rate", "share_dissatisfied", "dissatisfied_rate_affected",
                     "dissatisfied_rate_unaffected"], "percent"),
    **dict.fromkeys(["a", "b", "b1", "b2", "b3", "c", "mu", "limit_weight", "cluster_weight",
                     "importance_sd"], "coefficient"),
    "estimate_a": "coefficient",
    "odds_ratio_per_sd": "coefficient",
    "importance_mean": "coefficient",
    "estimate_b": "coefficient",
    "level": "level",
    "adjusted_level": "level",
    **dict.fromkeys(["n", "n_items", "n_used", "rank", "year", "grade", "max_grade", "code", "n_regions",
                     "n_missing", "rank_lower", "rank_upper", "n_answers", "df"], "count"),
}
BOUNDED = ("ci_lower", "ci_upper", "bca_lower", "bca_upper", "se", "boot_mean")
INDEX_STATISTICS = ("index", "difference", "performance", "score")


def column_kind(table: pd.DataFrame, column: str) -> str:
    """How ``column`` of ``table`` is formatted: one of KINDS, or "bool" / "text" (see module doc)."""
    values = table[column]
    kinds = table.attrs.get("kinds", {}) if isinstance(table.attrs, dict) else {}
    if pd.api.types.is_bool_dtype(values):
        return "bool"
    if not pd.api.types.is_numeric_dtype(values):
        return "text"
    if column in kinds:
        return kinds[column]
    if pd.api.types.is_integer_dtype(values):
        return "count"
    if column in BOUNDED:
        return "index" if any(c in table.columns for c in INDEX_STATISTICS) else "coefficient"
    if column in PRECISION:
        return PRECISION[column]
    if str(column).endswith("_share"):
        return "percent"
    return kinds.get("*", "coefficient")


def _column_header(table: pd.DataFrame, column: Any, language: str) -> str:
    name = str(column)
    if name == "level" and column_kind(table, column) not in ("level", "coefficient"):
        return _pick(("层级", "Level"), name, language)  # a hierarchy level, not a confidence level
    if name == "index" and column_kind(table, column) in ("text", "count"):
        # a reset row index (row labels or row numbers): indices themselves are never integers
        names = ("名称", "Name") if column_kind(table, column) == "text" else ("序号", "No.")
        return _pick(names, name, language)
    return header(name, language)


def headers(table: pd.DataFrame, language: str = "both") -> list[str]:
    """The reader's header of every column of ``table`` (content-aware for ``level`` and ``index``)."""
    check_language(language)
    return [_column_header(table, c, language) for c in table.columns]


def level_label(value: float) -> str:
    """0.95 → "95%", 0.975 → "97.5%", 1 − 0.05/3 → "98.33%"."""
    text = f"{value * 100:.2f}".rstrip("0").rstrip(".")
    return f"{text}%"


def format_value(value: Any, kind: str) -> str:
    """One cell as text for readers (``kind`` from :func:`column_kind`)."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if kind == "bool":
        return YES if bool(value) else NO
    if kind == "text":
        text = str(value)
        return text if text else MISSING
    x = float(value)
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    if kind == "count":
        return str(round(x))
    if kind == "level":
        return level_label(x) if 0 < x < 1 else str(int(x)) if x == int(x) else f"{x:g}"
    if kind == "percent":
        return f"{x * 100:.1f}%"
    if kind == "p_value" and x < P_FLOOR:
        return f"<{P_FLOOR:g}"
    return f"{x:.{DECIMALS.get(kind, 3)}f}"


def reader_table(table: pd.DataFrame, language: str = "both",
                 kinds: Mapping[str, str] | None = None) -> pd.DataFrame:
    """``table`` formatted for readers: translated headers and every cell as text.

    Booleans ✓ / –, missing values –, numbers by :func:`column_kind` (``kinds`` overrides it per
    column). The row index is dropped, so a meaningful index should be a column first.
    """
    check_language(language)
    table = table.reset_index(drop=True)
    if kinds:
        table.attrs = {**table.attrs, "kinds": {**table.attrs.get("kinds", {}), **kinds}}
    columns = {}
    for position, column in enumerate(table.columns):
        values = table.iloc[:, position]
        kind = column_kind(table, column)
        columns[position] = [format_value(v, kind) for v in values]
    out = pd.DataFrame(columns, index=table.index, dtype=object)
    out.columns = headers(table, language)
    return out
