"""Reader-facing column headers and table names (Chinese and English), and number formatting.

Tables keep their machine column names (``ci_lower``, ``p_value``…) in CSV and JSON; readers see
:data:`COLUMNS` headers and :data:`TABLE_NAMES` names, in ``"zh"``, ``"en"`` or ``"both"``
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

LANGUAGES = ("zh", "en", "both")
MISSING = "–"
YES, NO = "✓", "–"

# ---------------------------------------------------------------------------- headers
COLUMNS: dict[str, tuple[str, str]] = {
    # identifiers
    "construct": ("构念", "Construct"),
    "item": ("题项", "Item"),
    "items": ("题项", "Items"),
    "label_zh": ("中文名称", "Chinese label"),
    "label_en": ("英文名称", "English label"),
    "subindicator": ("二级指标", "Sub-indicator"),
    "subindicator_zh": ("二级指标（中文）", "Sub-indicator (Chinese)"),
    "subindicator_en": ("二级指标（英文）", "Sub-indicator (English)"),
    "source": ("起点", "Source"),
    "target": ("目标", "Target"),
    "statistic": ("统计量", "Statistic"),
    "measure": ("指标", "Measure"),
    "value": ("数值", "Value"),
    "node": ("指标节点", "Node"),
    "parent": ("上级指标", "Parent"),
    "attribute": ("细分属性", "Attribute"),
    "segment": ("细分群体", "Segment"),
    "region": ("地区", "Region"),
    "region_a": ("地区甲", "Region A"),
    "region_b": ("地区乙", "Region B"),
    "year": ("年份", "Year"),
    "wave": ("调查批次", "Wave"),
    "from_wave": ("上期", "From wave"),
    "to_wave": ("本期", "To wave"),
    "rank": ("排名", "Rank"),
    "diagnostic": ("诊断信息", "Diagnostic"),
    "quadrant": ("象限", "Quadrant"),
    "measures_zh": ("改进措施（中文）", "Measures (Chinese)"),
    "measures_en": ("改进措施（英文）", "Measures (English)"),
    "kpis": ("跟踪指标", "Tracking KPIs"),
    "lhs": ("左侧变量", "Left-hand side"),
    "op": ("运算符", "Operator"),
    "rhs": ("右侧变量", "Right-hand side"),
    "indicator": ("内部指标", "Indicator"),
    "name_zh": ("指标名称（中文）", "Name (Chinese)"),
    "name_en": ("指标名称（英文）", "Name (English)"),
    "unit": ("单位", "Unit"),
    "unit_zh": ("单位（中文）", "Unit (Chinese)"),
    "direction": ("指标方向", "Direction"),
    "row": ("行", "Row"),
    "odds_ratio_per_sd": ("几率比（每标准差）", "Odds ratio per SD"),
    # set pair analysis, ANP, method comparison
    "a": ("同一度 a", "Identity a"),
    "b": ("差异度 b", "Discrepancy b"),
    "b1": ("差异度 b₁", "Discrepancy b1"),
    "b2": ("差异度 b₂", "Discrepancy b2"),
    "b3": ("差异度 b₃", "Discrepancy b3"),
    "c": ("对立度 c", "Contrary c"),
    "mu": ("联系度 μ", "Connection degree μ"),
    "cluster": ("元素组", "Cluster"),
    "element": ("元素", "Element"),
    "limit_weight": ("极限权重", "Limit weight"),
    "cluster_weight": ("组内权重", "Weight in cluster"),
    "evaluated": ("参与评价", "Evaluated"),
    "method": ("方法", "Method"),
    "value_range": ("取值范围", "Range"),
    "rule": ("定级规则", "Grading rule"),
    # service records
    "feature": ("特征", "Feature"),
    "event_type": ("事件类型", "Event type"),
    "service_event": ("服务事件", "Service event"),
    "coefficient": ("回归系数", "Coefficient"),
    "importance_sd": ("重要性标准差", "Importance SD"),
    "customers": ("客户数", "Customers"),
    "customers_affected": ("受影响客户数", "Customers affected"),
    "dissatisfied": ("不满意客户数", "Dissatisfied"),
    "dissatisfied_affected": ("受影响的不满意客户数", "Dissatisfied affected"),
    "dissatisfied_rate_affected": ("受影响者不满意率", "Dissatisfied rate (affected)"),
    "dissatisfied_rate_unaffected": ("未受影响者不满意率", "Dissatisfied rate (unaffected)"),
    "excess_rate": ("不满意率增加", "Excess rate"),
    "contribution": ("贡献", "Contribution"),
    "share": ("占比", "Share"),
    "cumulative_share": ("累计占比", "Cumulative share"),
    "share_dissatisfied": ("不满意比例", "Share dissatisfied"),
    "vital_few": ("关键少数", "Vital few"),
    "importance_mean": ("置换重要性", "Permutation importance"),
    "fuzzy": ("模糊评价得分", "Fuzzy score"),
    "fuzzy_grade": ("模糊评价等级", "Fuzzy grade"),
    "set_pair": ("集对联系度 μ", "Connection degree μ"),
    "set_pair_grade": ("集对分析等级", "Set pair grade"),
    "acsi": ("ACSI 指数", "ACSI index"),
    "acsi_grade": ("ACSI 等级", "ACSI grade"),
    "group_a": ("甲方", "Group A"),
    "group_b": ("乙方", "Group B"),
    "invariance": ("测量不变性", "Invariance"),
    "not_comparable": ("不可比的构面", "Not comparable"),
    "estimate_a": ("甲方估计", "Estimate A"),
    "estimate_b": ("乙方估计", "Estimate B"),
    "n_regions": ("地区数", "Regions"),
    "weight_total": ("权重合计", "Total weight"),
    "coverage": ("覆盖率", "Coverage"),
    "n_missing": ("缺少的地区数", "Regions missing"),
    "missing_regions": ("缺少的地区", "Missing regions"),
    "rank_lower": ("排名下限", "Rank (best)"),
    "rank_upper": ("排名上限", "Rank (worst)"),
    "province": ("省份", "Province"),
    "name": ("名称", "Name"),
    "region_zh": ("地区（中文）", "Region (Chinese)"),
    "region_en": ("地区（英文）", "Region (English)"),
    "last_wave": ("最近一次调查", "Last wave"),
    "place": ("所属", "Place"),
    "column": ("列", "Column"),
    "expert": ("专家", "Expert"),
    "code": ("代码", "Code"),
    # indices and scores (0–100)
    "index": ("指数", "Index"),
    "ci_lower": ("区间下限", "Lower bound"),
    "ci_upper": ("区间上限", "Upper bound"),
    "bca_lower": ("BCa 下限", "BCa lower"),
    "bca_upper": ("BCa 上限", "BCa upper"),
    "level": ("置信水平", "Confidence level"),
    "adjusted_level": ("调整后置信水平", "Adjusted level"),
    "se": ("标准误", "Standard error"),
    "n": ("样本量", "n"),
    "n_items": ("题项数", "Items"),
    "n_used": ("有效抽样次数", "Resamples used"),
    "performance": ("表现", "Performance"),
    "importance": ("重要性", "Importance"),
    "potential_gain": ("提升潜力", "Potential gain"),
    "score": ("得分", "Score"),
    "grade_score": ("等级分值", "Grade score"),
    "lower": ("区间下限", "From"),
    "upper": ("区间上限", "To"),
    "difference": ("差值", "Difference"),
    "before": ("上期", "Before"),
    "now": ("本期", "Now"),
    "external_csi": ("外部评价 CSI", "External CSI"),
    "internal_score": ("内部评价得分", "Internal score"),
    "service_quality_index": ("供电服务品质指数", "Service quality index"),
    "beta": ("外部评价权重 β", "External weight β"),
    # structural and measurement model
    "estimate": ("估计值", "Estimate"),
    "boot_mean": ("自助均值", "Bootstrap mean"),
    "t": ("t 值", "t"),
    "z": ("z 值", "z"),
    "est": ("估计值", "Estimate"),
    "std_all": ("标准化估计", "Standardised"),
    "cbsem_std": ("CB-SEM 标准化系数", "CB-SEM standardised"),
    "direct": ("直接效应", "Direct"),
    "indirect": ("间接效应", "Indirect"),
    "total": ("总效应", "Total"),
    "r2": ("R²", "R²"),
    "loading": ("载荷", "Loading"),
    "communality": ("共同度", "Communality"),
    "redundancy": ("冗余度", "Redundancy"),
    "weight": ("权重", "Weight"),
    "alpha": ("Cronbach's α", "Cronbach's α"),
    "rho_c": ("组合信度 ρc", "Composite reliability ρc"),
    "rho_a": ("ρA", "ρA"),
    "ave": ("平均提取方差 AVE", "AVE"),
    "alpha_ok": ("α 达标", "α ok"),
    "rho_c_ok": ("ρc 达标", "ρc ok"),
    "ave_ok": ("AVE 达标", "AVE ok"),
    "excludes_zero": ("区间不含零", "Excludes zero"),
    "actionable": ("可改进", "Actionable"),
    "small": ("样本偏小", "Small sample"),
    "missing_share": ("缺失比例", "Missing"),
    # tests
    "p_value": ("p 值", "p-value"),
    "p_adjusted": ("调整后 p 值", "Adjusted p-value"),
    "distinguishable": ("差异显著", "Distinguishable"),
    "significant": ("变化显著", "Significant"),
    # industry evaluation (AHP, rough sets, fuzzy evaluation)
    "subjective_weight": ("主观权重", "Subjective weight"),
    "objective_weight": ("客观权重", "Objective weight"),
    "local_weight": ("局部权重", "Local weight"),
    "global_weight": ("全局权重", "Global weight"),
    "cr": ("一致性比率 CR", "CR"),
    "subjective": ("主观权重", "Subjective"),
    "objective": ("客观权重", "Objective"),
    "combined": ("组合权重", "Combined"),
    "judgement": ("判断值", "Judgement"),
    "consistent": ("一致值", "Consistent value"),
    "deviation": ("偏差", "Deviation"),
    "significance": ("属性重要度", "Significance"),
    "gamma_without": ("去除后依赖度", "γ without"),
    "gamma_alone": ("单独依赖度", "γ alone"),
    "in_reduct": ("属于约简", "In reduct"),
    "grade": ("评价等级代码", "Grade code"),
    "grade_label": ("评价等级", "Grade"),
    "grade_label_zh": ("评价等级", "Grade (Chinese)"),
    "grade_label_en": ("评价等级（英文）", "Grade"),
    "max_validity": ("最大隶属有效度 α", "Max-membership validity α"),
    "max_grade": ("最大隶属等级代码", "Max-membership code"),
    "max_grade_label": ("最大隶属等级", "Max-membership grade"),
    "max_grade_label_zh": ("最大隶属等级", "Max-membership grade (Chinese)"),
    "max_grade_label_en": ("最大隶属等级（英文）", "Max-membership grade"),
    # grades of the power-industry semantic scale (membership columns)
    "very dissatisfied": ("很不满意", "Very dissatisfied"),
    "not very satisfied": ("不太满意", "Not very satisfied"),
    "basically satisfied": ("基本满意", "Basically satisfied"),
    "fairly satisfied": ("比较满意", "Fairly satisfied"),
    "very satisfied": ("很满意", "Very satisfied"),
    # internal indicators (in the indicator-score table they hold 0–100 scores)
    "voltage_qualification_rate": ("电压合格率", "Voltage qualification rate"),
    "supply_reliability_rate": ("供电可靠率", "Supply reliability rate"),
    "outage_duration_hours": ("客户平均停电时间", "Outage duration per customer"),
    "outage_frequency": ("客户平均停电次数", "Outage frequency per customer"),
    "fault_restoration_hours": ("故障平均停电恢复时间", "Fault restoration time"),
    "outlets_per_10k_households": ("每万户营业网点数", "Outlets per 10,000 households"),
    "three_ring_answer_rate": ("95598三声铃响接听率", "95598 answered within three rings"),
    "complaint_callback_rate": ("投诉回访率", "Complaint callback rate"),
    "complaint_handling_days": ("投诉处理时间", "Complaint handling time"),
    "metering_fault_rate": ("计量故障率", "Metering fault rate"),
    "commitment_compliance_rate": ("服务承诺兑现率", "Service-commitment compliance rate"),
    # the seven constructs (columns of the HTMT matrix)
    **DEFAULT_LABELS,
}

TABLE_NAMES: dict[str, tuple[str, str]] = {
    "indices": ("指数", "Indices"),
    "record_drivers": ("服务事件驱动因素", "Record drivers"),
    "record_pareto": ("关键事件帕累托", "Record Pareto"),
    "record_segments": ("服务记录客户群", "Record segments"),
    "industry_anp_weights": ("ANP权重", "ANP weights"),
    "industry_set_pair": ("集对分析", "Set pair analysis"),
    "industry_method_comparison": ("评价方法比较", "Method comparison"),
    "micom": ("测量不变性", "MICOM"),
    "mga": ("多组分析", "MGA"),
    "national_rollup": ("省级与全国指数", "National roll-up"),
    "national_ranking": ("全国排名", "National ranking"),
    "national_distribution": ("省内分布", "Distribution"),
    "national_changes": ("汇总变化", "Roll-up changes"),
    "national_missing": ("缺少的地区", "Missing regions"),
    "paths": ("路径系数", "Paths"),
    "effects": ("效应分解", "Effects"),
    "r2": ("决定系数", "R2"),
    "outer_model": ("测量模型", "Outer model"),
    "reliability": ("信度与效度", "Reliability"),
    "htmt": ("区分效度", "HTMT"),
    "item_missingness": ("题项缺失率", "Item missingness"),
    "ipma_constructs": ("IPMA构念", "IPMA constructs"),
    "ipma_items": ("IPMA题项", "IPMA items"),
    "priorities": ("改进优先级", "Priorities"),
    "ipma_context": ("IPMA参考", "IPMA context"),
    "grade_index": ("等级分值指数", "Grade-score index"),
    "segments": ("细分群体", "Segments"),
    "bootstrap": ("自助法估计", "Bootstrap"),
    "cbsem_estimates": ("CB-SEM估计", "CB-SEM estimates"),
    "cbsem_fit": ("CB-SEM拟合", "CB-SEM fit"),
    "industry_weights": ("行业评价权重", "Industry weights"),
    "industry_fuzzy_evaluation": ("模糊综合评价", "Fuzzy evaluation"),
    "industry_internal_score": ("内部评价得分", "Internal score"),
    "industry_indicator_scores": ("内部指标得分", "Indicator scores"),
    "industry_service_quality_index": ("供电服务品质指数", "Service quality index"),
    "industry_diagnostics": ("行业评价诊断", "Industry diagnostics"),
    "diagnostics": ("诊断信息", "Diagnostics"),
    "change": ("较上期变化", "Change since last wave"),
    "ranking": ("排名", "Ranking"),
    "pairwise": ("两两比较", "Pairwise differences"),
    "waves": ("年度变化", "Wave changes"),
}

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
                     "max_validity", "beta", "value"], "coefficient"),
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
                     "n_missing", "rank_lower", "rank_upper"], "count"),
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
