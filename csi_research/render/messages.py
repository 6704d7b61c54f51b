"""Diagnostics for readers: every message the package can emit, in Chinese and English, grouped.

The estimators write their diagnostics in English (:mod:`csi_research.core.diagnostics`). A report
in Chinese must not show them as they are, so :data:`CATALOG` lists every message template
the package can produce — written as the English text with ``{placeholders}`` for the
variable parts (file names, item ids, numbers, construct names) — with its category and a
Chinese template that reuses the same placeholders. A message is matched against the
compiled templates, and its variable parts are carried over verbatim (lists get ``、``,
a few fixed English phrases inside them are translated by small converters).

* :func:`translate` gives one message in a language; an unknown message comes back with
  :data:`UNTRANSLATED` in front, so a test (or a reader) can see it is missing here.
* :func:`group` gives the messages of a report once each, by category in :data:`CATEGORIES`
  order, with runs of similar messages (nine rough-set nodes, several small segments...)
  collapsed into one line.

Messages that wrap another message (``CB-SEM could not be estimated: {reason}``) translate
the inner one too, so the estimators' errors that end up in diagnostics are listed as well.
``tests/test_report_diagnostics.py`` scans the package source and fails when a message has
no entry here, or an entry no longer matches any message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from csi_research.core.options import MISSING_TEXT
from csi_research.core.options import language as check_language

UNTRANSLATED = "[EN] "  # in front of a message (or part) this catalog does not know


@dataclass(frozen=True)
class Category:
    """A heading of the diagnostics appendix."""

    key: str
    zh: str
    en: str

    def title(self, language: str) -> str:
        return self.zh if check_language(language) == "zh" else self.en


CATEGORIES: tuple[Category, ...] = (
    Category("data", "数据质量", "Data quality"),
    Category("measurement", "测量质量", "Measurement quality"),
    Category("estimation", "模型估计", "Model estimation"),  # PLS and CB-SEM, incl. admissibility
    Category("bootstrap", "自助法", "Bootstrap"),
    Category("indices", "指数与改进优先级", "Indices and priorities"),
    Category("segments", "细分群体", "Segments"),
    Category("industry", "行业评价方法", "Industry evaluation methods"),
    Category("comparison", "地区比较", "Comparison across regions"),
    Category("other", "其他", "Other"),
)


@dataclass(frozen=True)
class Collapse:
    """How several messages of one template become one line.

    Messages whose ``same`` groups are equal are merged; each contributes ``item`` (zh, en)
    and the line is ``line`` (zh, en) with ``{parts}`` = the items joined by ``sep`` (zh, en).
    """

    same: tuple[str, ...]
    item: tuple[str, str]
    line: tuple[str, str]
    sep: tuple[str, str] = ("、", ", ")


@dataclass(frozen=True, eq=False)  # compared by identity: one object per catalog entry
class Template:
    """One message template: English text with ``{name}`` or ``{name:kind}`` placeholders.

    ``pattern`` is the compiled English text (named groups = placeholders); ``zh`` the Chinese
    text with the same placeholders, whose values pass through ``convert`` (group → function)
    first. ``examples`` are real messages of the template (the tests check them against the
    source code and against ``pattern``).
    """

    key: str
    category: str
    en: str
    zh: str
    examples: tuple[str, ...]
    convert: Mapping[str, Callable[[str], str]] = field(default_factory=dict)
    collapse: Collapse | None = None
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pattern", _compile(self.en))
        object.__setattr__(self, "convert", MappingProxyType(dict(self.convert)))

    def values(self, match: re.Match[str], language: str,
               names: Mapping[str, str] | None = None) -> dict[str, str]:
        raw = {k: v or "" for k, v in match.groupdict().items()}
        if language == "en":
            return raw
        if names:
            raw = {k: _named(v, names) for k, v in raw.items()}
        return {k: self.convert.get(k, _same)(v) for k, v in raw.items()}

    def render(self, match: re.Match[str], language: str, names: Mapping[str, str] | None = None) -> str:
        if language == "en":
            return match.string
        return _sentence(self.zh.format(**self.values(match, language, names)))


def _named(text: str, names: Mapping[str, str]) -> str:
    """A node key, alone or after "node " / "rough set at node ", as the study's label for it."""
    for prefix in ("", "node ", "rough set at node "):
        if text.startswith(prefix) and text[len(prefix):] in names:
            return prefix + names[text[len(prefix):]]
    return text


# placeholder kinds: how much text a placeholder may take (lazy by default)
_KINDS = {"": r".+?", "int": r"\d+", "num": r"[^\s,;:()]+", "any": r".+", "etc": r"(?: \.\.\.)?"}
_FIELD = re.compile(r"\{(\w+)(?::(\w+))?\}")


def _compile(template: str) -> re.Pattern[str]:
    parts, pos, seen = [], 0, set()
    for m in _FIELD.finditer(template):
        group = f"(?P={m[1]})" if m[1] in seen else f"(?P<{m[1]}>{_KINDS[m[2] or '']})"  # again: the same
        parts += [re.escape(template[pos : m.start()]), group]
        seen.add(m[1])
        pos = m.end()
    parts.append(re.escape(template[pos:]))
    return re.compile("".join(parts), re.DOTALL)


# ----------------------------------------------------------------------------- converters (zh)
def _same(text: str) -> str:
    return text


def _mark(text: str) -> str:
    return UNTRANSLATED + text


def _sentence(text: str) -> str:
    """A Chinese sentence: no space beside full-width punctuation, and a full stop at the end."""
    text = re.sub(r" *([（）、，。；：“”]) *", r"\1", text)
    return text if text.endswith(("。", "！", "？")) else text + "。"


def _list(text: str) -> str:
    """``a, b, c`` → ``a、b、c`` (ids and numbers stay as they are)."""
    return text.replace(", ", "、")


def _split_items(text: str, item: str) -> list[re.Match[str]] | None:
    """``text`` as items ``item`` (a regex) separated by ``, ``; None when it is not such a list."""
    pieces = re.split(r"(?<=\)), ", text) if text.endswith(")") else text.split(", ")
    found = [re.fullmatch(item, p) for p in pieces]
    return None if any(m is None for m in found) else found  # type: ignore[return-value]


def _paren_list(text: str) -> str:
    """``IMG1 (25%), QUA2 (30%)`` → ``IMG1（25%）、QUA2（30%）``."""
    found = _split_items(text, r"(?P<what>.+?) \((?P<value>[^()]*)\)")
    if found is None:
        return _mark(text)
    return "、".join(f"{m['what']}（{m['value']}）" for m in found)


def _std_list(text: str) -> str:
    """``VAL ~ EXPE: standardised -1.71, ...`` → ``VAL ~ EXPE：标准化值 -1.71、...``."""
    found = _split_items(text, r"(?P<what>.+?): standardised (?P<value>\S+)")
    if found is None:
        return _mark(text)
    return "、".join(f"{m['what']}：标准化值 {m['value']}" for m in found)


def _pairs(text: str) -> str:
    """``EXPE–QUAL 0.987 (both predict VAL, SAT)`` → ``EXPE–QUAL 0.987（共同预测 VAL、SAT）``."""
    found = _split_items(text, r"(?P<pair>.+?) (?P<r>\S+) \(both predict (?P<targets>[^()]*)\)")
    if found is None:
        return _mark(text)
    return "、".join(f"{m['pair']} {m['r']}（共同预测 {_list(m['targets'])}）" for m in found)


_STATISTICS = {"alpha": "Cronbach α 系数", "rho_C": "组合信度 ρC", "AVE": "平均方差提取量 AVE"}


def _reliability(text: str) -> str:
    """``alpha 0.603 < 0.7, AVE 0.469 < 0.5`` with the statistics named in Chinese."""
    found = _split_items(text, r"(?P<stat>\S+) (?P<value>\S+) < (?P<limit>\S+)")
    if found is None or any(m["stat"] not in _STATISTICS for m in found):
        return _mark(text)
    return "、".join(f"{_STATISTICS[m['stat']]} {m['value']} < {m['limit']}" for m in found)


def _htmt_level(text: str) -> str:
    m = re.fullmatch(r"above the (liberal|strict) (\S+)", text)
    if m is None:
        return _mark(text)
    return f"高于{'宽松' if m[1] == 'liberal' else '严格'}标准 {m[2]}"


def _ahp_name(text: str) -> str:
    """Matrix names get a suffix for an expert, the panel (AIJ) or a combined weighting."""
    m = re.fullmatch(r"(?P<base>.*) \((?:expert (?P<k>\d+)|(?P<aij>AIJ)|combined, alpha=(?P<a>[^)]+))\)",
                     text)
    if m is None:
        return text
    if m["k"]:
        return f"{m['base']}（专家 {m['k']}）"
    if m["aij"]:
        return f"{m['base']}（专家组 AIJ 汇总）"
    return f"{m['base']}（组合赋权，alpha={m['a']}）"


def _ahp_worst(text: str) -> str:
    judgement = r"(?P<row>.+?) vs (?P<col>.+?): judged (?P<j>\S+), the weights imply (?P<w>\S+)"
    pieces = [re.fullmatch(judgement, p) for p in text.split("; ")]
    if any(m is None for m in pieces):
        return _mark(text)
    return "；".join(f"{m['row']} 相对 {m['col']}：判断为 {m['j']}，权重所隐含的比值为 {m['w']}"
                    for m in pieces if m is not None)


def _rough_set_name(text: str) -> str:
    """The prefix of rough-set messages: ``rough set at node X`` (industry evaluation) or a user's."""
    if text.startswith("rough set at node "):
        return f"节点 {text.removeprefix('rough set at node ')} 的粗糙集"
    if text == "rough set":
        return "粗糙集"
    if text.startswith("node "):
        return f"节点 {text.removeprefix('node ')}"
    return text


def _phrase(table: Mapping[str, str]) -> Callable[[str], str]:
    return lambda text: table.get(text) or _mark(text)


def _separator_zh(text: str) -> str:
    return "制表符" if text == "tabs" else text


def _unit(text: str) -> str:
    """A roll-up unit ("the nation", "province Yunling") in Chinese."""
    if text == "the nation":
        return "全国"
    level, _, name = text.partition(" ")
    levels = {"province": "省", "city": "市", "county": "县"}
    return f"{levels[level]}级单位 {name}" if name and level in levels else _mark(text)


_scope = _phrase({"wave": "调查轮次", "region": "地区"})


def _etc(text: str) -> str:
    return " 等" if text else ""


def _inner(text: str) -> str:
    """A message quoted in another one (an estimator's error), translated without its full stop."""
    return translate(text, "zh").removesuffix("。")


def _rough_set_reason(text: str) -> str:
    """A rough-set error without its ``rough set at node X:`` prefix, which the message already names."""
    return _inner("rough set: " + text).removeprefix("粗糙集：")


_TREATMENT_ZH = {"em": "EM 插补（条件均值；矩为 EM 极大似然估计）", "mean": "题项均值替换",
                 "listwise": "成列删除"}
_treatment = _phrase({MISSING_TEXT[k]: v for k, v in _TREATMENT_ZH.items()})
_matrix = _phrase({"latent covariance matrix": "潜变量协方差矩阵",
                   "model-implied item covariance matrix": "模型隐含的题项协方差矩阵"})
_weight_level = _phrase({"item": "题项", "subindicator": "分项指标", "construct": "构面"})

# ipma's advice, shared by three messages (the variable ``how`` in ipma._actionability)
_HOW = ("mark each sub-indicator 'actionable: true' (an aspect the company can change) or "
        "'actionable: false' (context, outcome) in the codebook")
_HOW_ZH = ("请在问卷编码表中为每个分项指标标记 'actionable: true'（企业能够改变的方面）"
           "或 'actionable: false'（背景、结果）")


# ----------------------------------------------------------------------------- the catalog
def _t(key: str, category: str, en: str, zh: str, *examples: str,
       convert: Mapping[str, Callable[[str], str]] | None = None,
       collapse: Collapse | None = None) -> Template:
    return Template(key, category, en, zh, examples, convert or {}, collapse)


CATALOG: tuple[Template, ...] = (
    # ---------------------------------------------------------------- survey.py (data quality)
    _t("survey_item_missing", "data",
       "{file}: item(s) with more than {limit} missing answers: {items}; estimates for them rest on fewer "
       "respondents",
       "{file}：以下题项缺失答案的比例超过 {limit}：{items}；这些题项的估计所依据的受访者较少",
       "beiling_2025.csv: item(s) with more than 20% missing answers: CMP3 24%, LOY2 31%; estimates for "
       "them rest on fewer respondents",
       convert={"items": _list}),
    _t("survey_sparse", "data",
       "{file}: {n:int} respondent(s) left more than {limit} of the items unanswered; consider excluding "
       "them",
       "{file}：{n} 名受访者未作答的题项超过 {limit}，可考虑将其剔除",
       "survey.csv: 3 respondent(s) left more than 50% of the items unanswered; consider excluding them"),
    _t("survey_straight_liners", "data",
       "{file}: {n:int} straight-liner(s) gave the same answer to every item (e.g. {example}); check them "
       "and consider excluding them",
       "{file}：{n} 名受访者对所有题项给出了相同的答案（直线作答，例如 {example}），请核查并考虑剔除",
       "beiling_2025.csv: 8 straight-liner(s) gave the same answer to every item (e.g. beiling-2025-0050); "
       "check them and consider excluding them"),
    _t("survey_duplicate_ids", "data",
       "{file}: respondent id(s) occur more than once: {ids}{more:etc}; remove repeated interviews if they "
       "are copies",
       "{file}：以下受访者编号出现不止一次：{ids}{more}；如属重复录入的访问，请删除",
       "survey.csv: respondent id(s) occur more than once: R001, R002; remove repeated interviews if they "
       "are copies",
       "survey.csv: respondent id(s) occur more than once: R1, R2, R3, R4, R5 ...; remove repeated "
       "interviews if they are copies",
       convert={"ids": _list, "more": _etc}),
    _t("survey_single_answer", "data",
       "{file}: item(s) {items} have a single observed answer; they carry no information and estimators "
       "will reject them",
       "{file}：题项 {items} 只有一种观测到的答案，不含任何信息，估计程序将拒绝这些题项",
       "survey.csv: item(s) IMG1, QUA2 have a single observed answer; they carry no information and "
       "estimators will reject them",
       convert={"items": _list}),
    _t("survey_separator", "data",
       "{file}: the columns are separated by {sep}, not {usual}; read accordingly",
       "{file}：各列以 {sep} 分隔，而非 {usual}；已按此读取",
       "survey.csv: the columns are separated by ';', not ','; read accordingly",
       "survey.tsv: the columns are separated by ',', not tabs; read accordingly",
       convert={"sep": _separator_zh, "usual": _separator_zh}),
    _t("survey_sheet", "data",
       "{file}: read sheet {sheet}, the one holding the survey's columns (sheet {first} does not); write "
       "sheet: {name} in study.yaml to make the choice explicit",
       "{file}：已读取工作表 {sheet}，问卷各列在该表中（工作表 {first} 中没有）；请在 study.yaml 中写明 "
       "sheet: {name}，使选择明确",
       "survey.xlsx: read sheet '数据', the one holding the survey's columns (sheet '说明' does not); write "
       "sheet: 数据 in study.yaml to make the choice explicit"),
    _t("survey_sheet_ignored", "data",
       "{file}: sheet {sheet} ignored: only Excel workbooks have sheets",
       "{file}：已忽略工作表 {sheet}：只有 Excel 工作簿才有工作表",
       "survey.csv: sheet 'data' ignored: only Excel workbooks have sheets"),
    _t("survey_title_rows", "data",
       "{file}: the header is on row {row:int}; the {n:int} row(s) above it were skipped as a title "
       "({title}); row numbers in messages count from the top of the file",
       "{file}：表头位于第 {row} 行；其上方的 {n} 行作为标题跳过（{title}）；消息中的行号从文件顶部起算",
       "survey.xlsx: the header is on row 2; the 1 row(s) above it were skipped as a title "
       "('2025年供电服务满意度调查'); row numbers in messages count from the top of the file"),
    _t("survey_extra_columns", "data",
       "{file}: {n:int} column(s) the codebook does not know kept aside, not analysed: {columns}",
       "{file}：问卷编码表未定义的 {n} 列已单独保留，不参与分析：{columns}",
       "survey.csv: 2 column(s) the codebook does not know kept aside, not analysed: 地区名称, interviewer",
       convert={"columns": _list}),
    # ---------------------------------------------------------------- sample.py
    _t("sample_listwise", "data",
       "{k:int} of {n:int} respondents have missing items and were dropped (listwise deletion); missing='em' "
       "keeps them",
       "{n} 名受访者中有 {k} 名存在缺失题项，已按成列删除剔除；设置 missing='em' 可保留这些受访者",
       "1 of 40 respondents have missing items and were dropped (listwise deletion); missing='em' keeps "
       "them"),
    _t("sample_no_answers", "data",
       "{k:int} respondents answered none of the model's items and were left out",
       "{k} 名受访者未回答模型中的任何题项，未纳入分析",
       "2 respondents answered none of the model's items and were left out"),
    _t("sample_heavy_imputation", "data",
       "item(s) {items} miss more than a fifth of their answers: the imputed values carry much of their "
       "weight; check the question",
       "题项 {items} 缺失的答案超过五分之一：其结果在很大程度上取决于插补值；请检查该问题的设计",
       "item(s) IMG1 (25%), QUA2 (31%) miss more than a fifth of their answers: the imputed values carry "
       "much of their weight; check the question",
       convert={"items": _paren_list}),
    _t("poststratify_empty_cells", "data",
       "population cell(s) {cells} have no respondents: the weighted sample represents the other cells only",
       "总体单元 {cells} 没有受访者：加权后的样本只代表其余单元",
       "population cell(s) 'town' have no respondents: the weighted sample represents the other cells only",
       convert={"cells": _list}),
    _t("error_sample_too_few", "data",
       "{source}: only {n:int} respondents remain after {treatment}; at least {min:int} are needed",
       "{source}：经{treatment}后仅剩 {n} 名受访者，至少需要 {min} 名",
       "survey.csv: only 2 respondents remain after listwise deletion; at least 3 are needed",
       convert={"treatment": _treatment}),
    _t("error_sample_unobserved", "data",
       "{source}: item {item} has no observed value: drop it from the model or fix the data",
       "{source}：题项 {item} 没有任何观测值：请将其从模型中删除或修正数据",
       "data: item QUA3 has no observed value: drop it from the model or fix the data"),
    _t("error_sample_constant", "data",
       "{source}: item {item} is constant (every answer is {value}): it carries no information; drop it "
       "from the model",
       "{source}：题项 {item} 为常数（所有答案均为 {value}）：不含任何信息；请将其从模型中删除",
       "data: item QUA3 is constant (every answer is 4): it carries no information; drop it from the model"),
    _t("error_sample_items_too_few", "data",
       "{source}: {n:int} respondents are too few for a model of {p:int} items: the items' covariance "
       "matrix needs more respondents than items (at least {min:int}; PLS wants 10 per arrow into a "
       "construct); survey more respondents, pool waves or regions, or drop items",
       "{source}：{n} 名受访者对含 {p} 个题项的模型而言太少：题项协方差矩阵要求受访者多于题项"
       "（至少 {min} 名；PLS 要求指向一个构面的每个箭头约有 10 名受访者）；请调查更多受访者、"
       "合并多轮或多个地区的数据，或删减题项",
       "survey.csv: 3 respondents are too few for a model of 30 items: the items' covariance matrix needs "
       "more respondents than items (at least 31; PLS wants 10 per arrow into a construct); survey more "
       "respondents, pool waves or regions, or drop items"),
    _t("error_sample_weights_too_few", "data",
       "{source}: only {k:int} of the {n:int} respondents have a positive survey weight, too few for a "
       "model of {p:int} items (at least {min:int} are needed); check the weights or the weighting cells",
       "{source}：{n} 名受访者中只有 {k} 名的调查权重为正，对含 {p} 个题项的模型而言太少"
       "（至少需要 {min} 名）；请检查权重或加权单元",
       "survey.csv: only 3 of the 450 respondents have a positive survey weight, too few for a model of 30 "
       "items (at least 31 are needed); check the weights or the weighting cells"),
    _t("error_sample_collinear_pair", "data",
       "{source}: items {a} and {b} are perfectly collinear (correlation {r:num}): one repeats the other, "
       "which makes the items' covariance matrix singular; drop one of them (or fix the column if it was "
       "copied by mistake)",
       "{source}：题项 {a} 与 {b} 完全共线（相关系数 {r}）：其中一个重复了另一个，导致题项协方差矩阵奇异；"
       "请删除其中一个（如该列系误复制，请修正数据）",
       "survey.csv: items IMG1 and IMG2 are perfectly collinear (correlation 1.000000): one repeats the "
       "other, which makes the items' covariance matrix singular; drop one of them (or fix the column if it "
       "was copied by mistake)"),
    _t("error_sample_collinear_combination", "data",
       "{source}: item {item} is an exact linear combination of {items} (R² {r2:num}): it adds nothing and "
       "makes the items' covariance matrix singular; drop it or one of those items",
       "{source}：题项 {item} 恰好是 {items} 的线性组合（R² {r2}）：不提供任何新信息，"
       "并导致题项协方差矩阵奇异；请删除该题项或上述题项之一",
       "survey.csv: item QUA3 is an exact linear combination of QUA1, QUA2 (R² 1.000000): it adds nothing "
       "and makes the items' covariance matrix singular; drop it or one of those items",
       convert={"items": _list}),
    _t("error_em", "data",
       "EM for the missing answers did not converge in {k:int} iterations: an item may be missing almost "
       "everywhere or two items may be answered by disjoint groups; use missing='mean'",
       "缺失答案的 EM 算法在 {k} 次迭代内未收敛：可能某个题项几乎全部缺失，或两个题项由互不重叠的受访者回答；"
       "请使用 missing='mean'",
       "EM for the missing answers did not converge in 500 iterations: an item may be missing almost "
       "everywhere or two items may be answered by disjoint groups; use missing='mean'"),
    _t("error_em_singular", "data",
       "EM for the missing answers failed: the items' covariance matrix became singular ({n:int} "
       "respondents, {p:int} items, {k:int} answers missing); two items may be answered by disjoint groups "
       "of respondents, or there are too few respondents for the items; use missing='mean', or survey more "
       "respondents",
       "缺失答案的 EM 算法失败：题项协方差矩阵变为奇异（{n} 名受访者，{p} 个题项，缺失 {k} 个答案）；"
       "可能两个题项由互不重叠的受访者回答，或受访者相对于题项太少；请使用 missing='mean'，或调查更多受访者",
       "EM for the missing answers failed: the items' covariance matrix became singular (35 respondents, "
       "30 items, 12 answers missing); two items may be answered by disjoint groups of respondents, or there "
       "are too few respondents for the items; use missing='mean', or survey more respondents"),
    # ---------------------------------------------------------------- measurement.py, CB-SEM validity
    _t("low_reliability", "measurement",
       "construct {construct}: {low}; its items do not measure one thing consistently: inspect the loadings "
       "and drop or reword weak items",
       "构面 {construct}：{low}；其题项未能一致地测量同一事物：请检查载荷，删除或改写较弱的题项",
       "construct Complaints: alpha 0.603 < 0.7; its items do not measure one thing consistently: inspect "
       "the loadings and drop or reword weak items",
       "construct Quality: alpha 0.612 < 0.7, rho_C 0.655 < 0.7, AVE 0.469 < 0.5; its items do not measure "
       "one thing consistently: inspect the loadings and drop or reword weak items",
       convert={"low": _reliability},
       collapse=Collapse((), ("{construct}（{low}）", "{construct} ({low})"),
                         ("以下构面的信度或收敛效度偏低，其题项未能一致地测量同一事物：{parts}；请检查载荷，"
                          "删除或改写较弱的题项",
                          "low reliability or convergent validity (the items do not measure one thing "
                          "consistently): {parts}; inspect the loadings and drop or reword weak items"),
                         ("；", "; "))),
    _t("htmt", "measurement",
       "HTMT {a}–{b} = {h} ({level} limit): the two constructs are not clearly distinct (discriminant "
       "validity); consider merging them or revising their items",
       "HTMT {a}–{b} = {h}（{level}）：两个构面区分不明显（区分效度不足）；可考虑合并二者或修改其题项",
       "HTMT EXPE–QUAL = 0.912 (above the liberal 0.90 limit): the two constructs are not clearly distinct "
       "(discriminant validity); consider merging them or revising their items",
       "HTMT VAL–SAT = 0.861 (above the strict 0.85 limit): the two constructs are not clearly distinct "
       "(discriminant validity); consider merging them or revising their items",
       convert={"level": _htmt_level},
       collapse=Collapse((), ("{a}–{b} = {h}（{level}）", "{a}–{b} = {h} ({level} limit)"),
                         ("以下构面对的 HTMT 超过界限，两个构面区分不明显（区分效度不足）：{parts}；"
                          "可考虑合并或修改其题项",
                          "HTMT above the limit, so the two constructs are not clearly distinct "
                          "(discriminant validity): {parts}; consider merging them or revising their items"),
                         ("；", "; "))),
    _t("fornell_larcker", "measurement",
       "Fornell–Larcker: the correlation of {a} and {b} ({r}) exceeds the square root of the AVE of one of "
       "them: they share more variance with each other than with their own items",
       "Fornell–Larcker 准则：{a} 与 {b} 的相关系数（{r}）超过其中一个构面 AVE 的平方根：二者彼此共享的方差"
       "多于与各自题项共享的方差",
       "Fornell–Larcker: the correlation of EXPE and QUAL (0.912) exceeds the square root of the AVE of one "
       "of them: they share more variance with each other than with their own items",
       collapse=Collapse((), ("{a}–{b}（{r}）", "{a}–{b} ({r})"),
                         ("Fornell–Larcker 准则：以下构面对的相关系数超过其中一个构面 AVE 的平方根，"
                          "二者彼此共享的方差多于与各自题项共享的方差：{parts}",
                          "Fornell–Larcker: these correlations exceed the square root of the AVE of one of "
                          "the two constructs, which share more variance with each other than with their "
                          "own items: {parts}"))),
    _t("vif_item", "measurement",
       "VIF of item {item} of {construct} is {vif} (>= {limit}): collinearity inflates its weight or path "
       "and its standard error; merge or drop redundant items/constructs",
       "构面 {construct} 的题项 {item} 的 VIF 为 {vif}（≥ {limit}）：共线性放大了其权重及标准误；"
       "请合并或删除冗余的题项或构面",
       "VIF of item b3 of B is 7.42 (>= 5.0): collinearity inflates its weight or path and its standard "
       "error; merge or drop redundant items/constructs",
       collapse=Collapse(("limit",), ("{construct} 的 {item}（{vif}）", "{item} of {construct} ({vif})"),
                         ("以下题项的 VIF ≥ {limit}，共线性放大了其权重及标准误：{parts}；"
                          "请合并或删除冗余的题项",
                          "VIF >= {limit}, so collinearity inflates the weights and standard errors of "
                          "items {parts}; merge or drop redundant items"))),
    _t("vif_predictor", "measurement",
       "VIF of predictor {predictor} of {target} is {vif} (>= {limit}): collinearity inflates its weight or "
       "path and its standard error; merge or drop redundant items/constructs",
       "{target} 的预测构面 {predictor} 的 VIF 为 {vif}（≥ {limit}）：共线性放大了其路径系数及标准误；"
       "请合并或删除冗余的构面",
       "VIF of predictor EXPE of VAL is 6.10 (>= 5.0): collinearity inflates its weight or path and its "
       "standard error; merge or drop redundant items/constructs",
       collapse=Collapse(("limit",), ("{target} 的 {predictor}（{vif}）", "{predictor} of {target} ({vif})"),
                         ("以下预测构面的 VIF ≥ {limit}，共线性放大了其路径系数及标准误：{parts}；"
                          "请合并或删除冗余的构面",
                          "VIF >= {limit}, so collinearity inflates the paths and standard errors of "
                          "predictors {parts}; merge or drop redundant constructs"))),
    _t("cbsem_discriminant", "measurement",
       "constructs {a} and {b} correlate {r} (> {limit}) with no path between them: they may not be distinct "
       "constructs; check discriminant validity (measurement_quality: HTMT)",
       "构面 {a} 与 {b} 的相关系数为 {r}（> {limit}），但二者之间没有路径：它们可能并非相互区分的构面；"
       "请检查区分效度（measurement_quality：HTMT）",
       "constructs EXPE and SAT correlate 0.962 (> 0.95) with no path between them: they may not be distinct "
       "constructs; check discriminant validity (measurement_quality: HTMT)",
       collapse=Collapse(("limit",), ("{a}–{b} {r}", "{a}–{b} {r}"),
                         ("以下构面之间没有路径，但相关系数超过 {limit}，可能并非相互区分的构面：{parts}；"
                          "请检查区分效度（measurement_quality：HTMT）",
                          "constructs correlated above {limit} with no path between them, which may not be "
                          "distinct: {parts}; check discriminant validity (measurement_quality: HTMT)"))),
    # ---------------------------------------------------------------- estimation: PLS
    _t("pls_sign_flip", "estimation",
       "construct {construct}: most items correlate negatively with the composite, so its sign was reversed "
       "(as plspm does); check for reverse-coded items",
       "构面 {construct}：多数题项与合成变量负相关，因此已将其符号反转（与 plspm 的做法相同）；"
       "请检查是否存在反向计分的题项",
       "construct A: most items correlate negatively with the composite, so its sign was reversed (as plspm "
       "does); check for reverse-coded items",
       collapse=Collapse((), ("{construct}", "{construct}"),
                         ("构面 {parts}：多数题项与合成变量负相关，因此已将其符号反转"
                          "（与 plspm 的做法相同）；请检查是否存在反向计分的题项",
                          "constructs {parts}: most items correlate negatively with the composite, so their "
                          "signs were reversed (as plspm does); check for reverse-coded items"))),
    _t("error_pls_too_few", "estimation",
       "{source}: {n:int} respondents are too few to estimate this model by PLS: it needs at least {min:int} "
       "(10 per arrow into {construct}, which has {k:int}, and {margin:int} more than its {p:int} items); "
       "survey more respondents, pool waves or regions, or drop items or paths",
       "{source}：{n} 名受访者太少，无法用 PLS 估计该模型：至少需要 {min} 名"
       "（指向 {construct} 的箭头有 {k} 个，每个约需 10 名受访者；且应比模型的 {p} 个题项多 {margin} 名）；"
       "请调查更多受访者、合并多轮或多个地区的数据，或删减题项或路径",
       "data: 25 respondents are too few to estimate this model by PLS: it needs at least 40 (10 per arrow "
       "into Satisfaction, which has 4, and 10 more than its 30 items); survey more respondents, pool waves "
       "or regions, or drop items or paths"),
    _t("error_pls_convergence", "estimation",
       "PLS did not converge in {k:int} iterations (last change in outer weights {change}, tolerance {tol}): "
       "the weights were still moving; raise max_iter (e.g. to {more:int}) or loosen tol, and if it still "
       "fails look for a block whose items barely correlate with each other or with its neighbours, or try "
       "scheme='factorial' or 'centroid'",
       "PLS 在 {k} 次迭代内未收敛（外部权重最后一次的变化为 {change}，容差 {tol}）：权重仍在变化；请提高 "
       "max_iter（例如提高到 {more}）或放宽 tol；若仍不收敛，请检查是否有某个构面的题项彼此之间或与相邻构面"
       "几乎不相关，或改用 scheme='factorial' 或 'centroid'",
       "PLS did not converge in 5 iterations (last change in outer weights 0.00231, tolerance 1e-06): the "
       "weights were still moving; raise max_iter (e.g. to 300) or loosen tol, and if it still fails look "
       "for a block whose items barely correlate with each other or with its neighbours, or try "
       "scheme='factorial' or 'centroid'"),
    _t("error_pls_singular", "estimation",
       "PLS could not compute the outer weights of {constructs}: a linear system in the algorithm is "
       "singular because the items of a formative (Mode B) block, or the constructs predicting one "
       "construct, are (nearly) collinear; drop near-duplicate items or constructs, or estimate the block "
       "in Mode A",
       "PLS 无法计算 {constructs} 的外部权重：算法中的线性方程组奇异，原因是某个形成型（Mode B）构面的题项、"
       "或预测同一构面的各构面（近乎）共线；请删除近乎重复的题项或构面，或将该构面改为 Mode A 估计",
       "PLS could not compute the outer weights of A, C: a linear system in the algorithm is singular "
       "because the items of a formative (Mode B) block, or the constructs predicting one construct, are "
       "(nearly) collinear; drop near-duplicate items or constructs, or estimate the block in Mode A",
       convert={"constructs": _list}),
    # ---------------------------------------------------------------- estimation: CB-SEM
    _t("cbsem_not_converged", "estimation",
       "the optimiser did not converge: the estimates are not a maximum of the likelihood; check for "
       "near-duplicate items or constructs, or simplify the model",
       "CB-SEM 的优化算法未收敛：估计值并非似然函数的极大值；请检查是否存在近乎重复的题项或构面，或简化模型",
       "the optimiser did not converge: the estimates are not a maximum of the likelihood; check for "
       "near-duplicate items or constructs, or simplify the model"),
    _t("cbsem_singular_information", "estimation",
       "the information matrix is singular: some parameters are not identified and their standard errors "
       "and p-values are unreliable; fix a scale, drop redundant paths or use PLS",
       "CB-SEM 的信息矩阵奇异：部分参数无法识别，其标准误和 p 值不可靠；请固定量尺、删除冗余路径或改用 PLS",
       "the information matrix is singular: some parameters are not identified and their standard errors "
       "and p-values are unreliable; fix a scale, drop redundant paths or use PLS"),
    _t("cbsem_heywood", "estimation",
       "negative variance estimate (Heywood case): {names}; a variance cannot be negative, so the model does "
       "not fit these data (too few items per construct, collinear constructs or a misspecified model); fix "
       "the item or construct, or use PLS (fit_pls)",
       "CB-SEM 出现负的方差估计（Heywood 情形）：{names}；方差不可能为负，说明模型与数据不符（每个构面的题项"
       "过少、构面之间共线或模型设定有误）；请修正相应的题项或构面，或改用 PLS（fit_pls）",
       "negative variance estimate (Heywood case): VAL (-0.012); a variance cannot be negative, so the model "
       "does not fit these data (too few items per construct, collinear constructs or a misspecified "
       "model); fix the item or construct, or use PLS (fit_pls)",
       convert={"names": _paren_list}),
    _t("cbsem_not_positive_definite", "estimation",
       "the {matrix} is not positive definite: some constructs or items are linear combinations of others "
       "in the solution; the estimates are not interpretable — merge or drop redundant constructs, or use "
       "PLS (fit_pls)",
       "CB-SEM 中{matrix}非正定：解中部分构面或题项是其他构面或题项的线性组合，估计值无法解释——请合并或删除"
       "冗余的构面，或改用 PLS（fit_pls）",
       "the latent covariance matrix is not positive definite: some constructs or items are linear "
       "combinations of others in the solution; the estimates are not interpretable — merge or drop "
       "redundant constructs, or use PLS (fit_pls)",
       "the model-implied item covariance matrix is not positive definite: some constructs or items are "
       "linear combinations of others in the solution; the estimates are not interpretable — merge or drop "
       "redundant constructs, or use PLS (fit_pls)",
       convert={"matrix": _matrix}),
    _t("cbsem_standardised_outside", "estimation",
       "standardised estimate(s) outside [-1, 1]: {names}; such a solution is not interpretable — it arises "
       "when predictors are almost collinear, so their separate effects are not identified",
       "CB-SEM 的标准化估计值超出 [-1, 1]：{names}；这样的解无法解释——预测变量几乎共线时会出现这种情况，"
       "其各自的效应无法识别",
       "standardised estimate(s) outside [-1, 1]: VAL ~ EXPE: standardised -1.71, VAL ~ QUAL: standardised "
       "2.59; such a solution is not interpretable — it arises when predictors are almost collinear, so "
       "their separate effects are not identified",
       convert={"names": _std_list}),
    _t("cbsem_collinear_predictors", "estimation",
       "construct correlation(s) above {limit} between predictors of the same construct: {pairs}; the "
       "constructs are not empirically distinct (collinearity), so their separate paths are not identified: "
       "use PLS path modelling for the indices, merge the constructs, or model them as facets of a "
       "higher-order construct",
       "预测同一构面的构面之间相关系数超过 {limit}：{pairs}；这些构面在实证上无法区分（共线性），其各自的路径"
       "无法识别：请用 PLS 路径模型计算指数、合并这些构面，或将其作为一个高阶构面的不同侧面建模",
       "construct correlation(s) above 0.95 between predictors of the same construct: EXPE–QUAL 0.987 (both "
       "predict VAL, SAT); the constructs are not empirically distinct (collinearity), so their separate "
       "paths are not identified: use PLS path modelling for the indices, merge the constructs, or model "
       "them as facets of a higher-order construct",
       convert={"pairs": _pairs}),
    _t("cbsem_em_covariance", "estimation",
       "CB-SEM (ML) fitted the EM covariance matrix of {n:int} respondents ({k:int} answers imputed): "
       "estimates are consistent under MAR, but standard errors and χ² count imputed answers as observed "
       "and are slightly optimistic; estimator FIML gives exact ones",
       "CB-SEM（ML）拟合的是 {n} 名受访者的 EM 协方差矩阵（插补了 {k} 个答案）：在随机缺失（MAR）假设下"
       "估计值是一致的，但标准误和 χ² 把插补的答案当作观测值，因而略显乐观；采用 FIML 估计可得到精确的结果",
       "CB-SEM (ML) fitted the EM covariance matrix of 450 respondents (206 answers imputed): estimates are "
       "consistent under MAR, but standard errors and χ² count imputed answers as observed and are slightly "
       "optimistic; estimator FIML gives exact ones"),
    _t("cbsem_mean_imputed", "estimation",
       "CB-SEM (ML) fitted mean-imputed answers ({k:int} imputed): covariances shrink towards zero; prefer "
       "missing='em' or estimator FIML",
       "CB-SEM（ML）拟合的是均值插补后的答案（插补了 {k} 个）：协方差会向零收缩；建议使用 missing='em' "
       "或 FIML 估计",
       "CB-SEM (ML) fitted mean-imputed answers (35 imputed): covariances shrink towards zero; prefer "
       "missing='em' or estimator FIML"),
    _t("cbsem_weighted", "estimation",
       "CB-SEM fitted the survey-weighted covariance matrix: the estimates are pseudo-ML; standard errors "
       "and χ² treat the weighted sample as a simple random sample",
       "CB-SEM 拟合的是经调查权重加权的协方差矩阵：估计值为伪极大似然估计；标准误和 χ² 将加权样本视为"
       "简单随机样本",
       "CB-SEM fitted the survey-weighted covariance matrix: the estimates are pseudo-ML; standard errors "
       "and χ² treat the weighted sample as a simple random sample"),
    _t("cbsem_formative", "estimation",
       "construct {construct} is formative (Mode B) in the model but CB-SEM estimates it as reflective; use "
       "PLS (fit_pls) for formative blocks",
       "构面 {construct} 在模型中为形成型（B 模式），但 CB-SEM 将其作为反映型估计；形成型构面请使用 "
       "PLS（fit_pls）",
       "construct B is formative (Mode B) in the model but CB-SEM estimates it as reflective; use PLS "
       "(fit_pls) for formative blocks"),
    _t("study_cbsem_failed", "estimation",
       "CB-SEM could not be estimated: {reason:any}",
       "无法估计 CB-SEM：{reason}",
       "CB-SEM could not be estimated: 12 respondents but the model has 31 free parameters: CB-SEM needs "
       "more respondents than parameters (as a rule 5-10 per parameter); collect more data, pool waves or "
       "regions, drop items, or use PLS (fit_pls)",
       convert={"reason": _inner}),
    _t("error_cbsem_fiml_weights", "estimation",
       "FIML does not take survey weights: use estimator='ML' (weighted moments) for a weighted sample",
       "FIML 不能使用调查权重：加权样本请使用 estimator='ML'（加权矩）",
       "FIML does not take survey weights: use estimator='ML' (weighted moments) for a weighted sample"),
    _t("error_cbsem_parameters", "estimation",
       "{n:int} respondents but the model has {k:int} free parameters: CB-SEM needs more respondents than "
       "parameters (as a rule 5-10 per parameter); collect more data, pool waves or regions, drop items, or "
       "use PLS (fit_pls)",
       "只有 {n} 名受访者，而模型有 {k} 个自由参数：CB-SEM 需要的受访者多于参数（经验上每个参数 5–10 名）；"
       "请收集更多数据、合并多轮或多个地区的数据、删减题项或改用 PLS（fit_pls）",
       "12 respondents but the model has 31 free parameters: CB-SEM needs more respondents than parameters "
       "(as a rule 5-10 per parameter); collect more data, pool waves or regions, drop items, or use PLS "
       "(fit_pls)"),
    _t("error_cbsem_covariance", "estimation",
       "the items' covariance matrix is not positive definite: some items are (nearly) exact linear "
       "combinations of others, or the survey weights or missing answers leave fewer effective respondents "
       "than items; drop the redundant items, check the weights, or use PLS (fit_pls)",
       "题项的协方差矩阵非正定：某些题项（近乎）恰好是其他题项的线性组合，或调查权重、缺失答案使有效受访者"
       "少于题项；请删除冗余的题项、检查权重或改用 PLS（fit_pls）",
       "the items' covariance matrix is not positive definite: some items are (nearly) exact linear "
       "combinations of others, or the survey weights or missing answers leave fewer effective respondents "
       "than items; drop the redundant items, check the weights, or use PLS (fit_pls)"),
    _t("error_cbsem_semopy", "estimation",
       "CB-SEM estimation failed inside semopy ({detail}): the model-implied covariance matrix could not be "
       "formed or inverted, which happens with nearly collinear items or constructs, too few respondents or "
       "a model that is not identified; drop near-duplicate items, simplify the model, or use PLS (fit_pls)",
       # the library's own text stays as it is
       "CB-SEM 在 semopy 中估计失败（semopy 的原始信息：{detail}）：无法构造或求逆模型隐含的协方差矩阵，"
       "这通常由题项或构面近乎共线、受访者太少或模型不可识别造成；请删除近乎重复的题项、简化模型或改用 PLS"
       "（fit_pls）",
       "CB-SEM estimation failed inside semopy (Singular matrix): the model-implied covariance matrix could "
       "not be formed or inverted, which happens with nearly collinear items or constructs, too few "
       "respondents or a model that is not identified; drop near-duplicate items, simplify the model, or use "
       "PLS (fit_pls)"),
    # ---------------------------------------------------------------- bootstrap.py
    _t("bootstrap_not_converged", "bootstrap",
       "{k:int} of {n:int} resamples did not converge and were left out: the intervals use {m:int}; if many "
       "fail, raise max_iter or check the model",
       "{n} 次自助抽样中有 {k} 次未收敛，已被排除：区间基于其余 {m} 次；若失败较多，请提高 max_iter "
       "或检查模型",
       "67 of 200 resamples did not converge and were left out: the intervals use 133; if many fail, raise "
       "max_iter or check the model"),
    _t("bootstrap_not_admissible", "bootstrap",
       "{k:int} of {n:int} CB-SEM resamples gave a non-admissible solution (e.g. a negative variance, "
       "standardised paths outside [-1, 1], R² above 1) and were left out of the intervals; many such "
       "resamples mean the full-sample solution is fragile: read the PLS results instead",
       "{n} 次 CB-SEM 自助抽样中有 {k} 次得到不可接受的解（如方差为负、标准化路径超出 [-1, 1]、R² 大于 1），"
       "已从区间计算中排除；此类抽样较多说明全样本的解并不稳健：请以 PLS 结果为准",
       "6 of 40 CB-SEM resamples gave a non-admissible solution (e.g. a negative variance, standardised "
       "paths outside [-1, 1], R² above 1) and were left out of the intervals; many such resamples mean the "
       "full-sample solution is fragile: read the PLS results instead"),
    _t("error_bootstrap_unusable", "bootstrap",
       "only {k:int} of {n:int} resamples were usable: no interval is possible",
       "{n} 次自助抽样中仅有 {k} 次可用：无法计算区间",
       "only 1 of 200 resamples were usable: no interval is possible"),
    _t("error_bootstrap_fiml", "bootstrap",
       "the CB-SEM bootstrap re-fits by ML only: FIML fits are far too slow to bootstrap",
       "CB-SEM 自助法只用 ML 重新拟合：FIML 拟合太慢，无法用于自助法",
       "the CB-SEM bootstrap re-fits by ML only: FIML fits are far too slow to bootstrap"),
    # ---------------------------------------------------------------- indices.py, ipma.py
    _t("negative_outer_weight", "indices",
       "construct {construct}: negative outer weight(s) for {items}; its index is not a weighted average of "
       "the items (check for a reversed item or collinear indicators)",
       "构面 {construct}：题项 {items} 的外部权重为负；该构面的指数不是其题项的加权平均（请检查是否有反向题项"
       "或共线的指标）",
       "construct A: negative outer weight(s) for a1; its index is not a weighted average of the items "
       "(check for a reversed item or collinear indicators)",
       convert={"items": _list},
       collapse=Collapse((), ("{construct}（{items}）", "{construct} ({items})"),
                         ("以下构面存在为负的外部权重，其指数不是题项的加权平均（请检查是否有反向题项或共线的指标）："
                          "{parts}",
                          "negative outer weights, so these indices are not weighted averages of their items "
                          "(check for a reversed item or collinear indicators): {parts}"),
                         ("；", "; "))),
    _t("negative_model_weight", "indices",
       "negative model-derived {level} weight(s) for {names} set to 0: the roll-up needs non-negative "
       "weights",
       "由模型推导的{level}权重中 {names} 为负，已设为 0：逐级汇总需要非负的权重",
       "negative model-derived subindicator weight(s) for channels set to 0: the roll-up needs non-negative "
       "weights",
       convert={"level": _weight_level, "names": _list}),
    _t("ipma_nothing_to_rank", "indices",
       "no actionable item outside {target} to rank: mark the sub-indicators a company can change with "
       "'actionable: true' in the codebook",
       "{target} 之外没有可改进（actionable）的题项可供排序：请在问卷编码表中用 'actionable: true' 标记企业"
       "能够改变的分项指标",
       "no actionable item outside Quality to rank: mark the sub-indicators a company can change with "
       "'actionable: true' in the codebook"),
    _t("ipma_negative_importance", "indices",
       "item(s) {items} correlate negatively with {target}: their importance is below 0 and they rank last; "
       "check for a reverse-coded item that was not recoded",
       "题项 {items} 与 {target} 负相关：其重要性小于 0，排在最后；请检查是否有未重新编码的反向计分题项",
       "item(s) CMP2 correlate negatively with Satisfaction: their importance is below 0 and they rank last; "
       "check for a reverse-coded item that was not recoded",
       convert={"items": _list}),
    _t("ipma_no_marks_no_standard", "indices",
       "no item is marked actionable and the model has none of the constructs {standard}: every item of a "
       "construct with a path to {target} was ranked as a possible action; " + _HOW,
       "没有任何题项标记为可改进，且模型不含 {standard} 中的任何构面：凡有路径指向 {target} 的构面，"
       "其全部题项都作为可能的改进措施参与排序；" + _HOW_ZH,
       "no item is marked actionable and the model has none of the constructs Quality, Value, Complaints: "
       "every item of a construct with a path to Y was ranked as a possible action; " + _HOW,
       convert={"standard": _list}),
    _t("ipma_no_codebook", "indices",
       "the sample has no codebook: items of {standard} were assumed actionable and the others context; "
       + _HOW,
       "样本没有问卷编码表：{standard} 的题项被假定为可改进，其余题项视为背景；" + _HOW_ZH,
       "the sample has no codebook: items of Quality, Value, Complaints were assumed actionable and the "
       "others context; " + _HOW,
       convert={"standard": _list}),
    _t("ipma_unmarked", "indices",
       "the codebook has no 'actionable' mark for {subs}: items of {standard} were assumed actionable and "
       "the others context; " + _HOW,
       "问卷编码表没有为 {subs} 标记 'actionable'：{standard} 的题项被假定为可改进，其余题项视为背景；"
       + _HOW_ZH,
       "the codebook has no 'actionable' mark for image, supply_quality, channels: items of Quality, Value, "
       "Complaints were assumed actionable and the others context; " + _HOW,
       convert={"subs": _list, "standard": _list}),
    # ---------------------------------------------------------------- segments
    _t("segments_unstated", "segments",
       "segments by {columns}: {k:int} of {n:int} respondents have no value and are in no segment (they "
       "still count in every full-sample table)",
       "按 {columns} 细分：{n} 名受访者中有 {k} 名没有取值，不属于任何细分群体（但仍计入所有全样本表格）",
       "segments by area: 5 of 400 respondents have no value and are in no segment (they still count in "
       "every full-sample table)",
       convert={"columns": _list}),
    _t("segment_small", "segments",
       "segment {label}: only {n:int} respondents (< {min:int}); read with care",
       "细分群体 {label}：仅有 {n} 名受访者（< {min}），解读时请谨慎",
       "segment voltage=high: only 22 respondents (< 30); read with care",
       collapse=Collapse(("min",), ("{label}（{n} 名）", "{label} ({n})"),
                         ("以下细分群体的受访者少于 {min} 名，解读时请谨慎：{parts}",
                          "segments with fewer than {min} respondents (read with care): {parts}"))),
    # ---------------------------------------------------------------- industry evaluation methods
    _t("industry_decision_node", "industry",
       "industry evaluation: node {node} contains the decision item {decision}; its weights stay the "
       "experts' (the decision cannot weight itself)",
       "行业评价：节点 {node} 包含决策题项 {decision}，其权重沿用专家权重（决策属性不能为自身赋权）",
       "industry evaluation: node satisfaction contains the decision item SAT1; its weights stay the "
       "experts' (the decision cannot weight itself)",
       collapse=Collapse(("decision",), ("{node}", "{node}"),
                         ("行业评价：节点 {parts} 包含决策题项 {decision}，其权重沿用专家权重"
                          "（决策属性不能为自身赋权）",
                          "industry evaluation: nodes {parts} contain the decision item {decision}; their "
                          "weights stay the experts' (the decision cannot weight itself)"))),
    _t("industry_node_rough_set_failed", "industry",
       "industry evaluation: node {node}: rough set at node {node}: {reason:any}; the experts' weights "
       "are used",
       "行业评价：节点 {node} 无法用粗糙集赋权：{reason}；因此改用专家权重",
       "industry evaluation: node supply_quality: rough set at node supply_quality: no attribute has any "
       "dependency or significance for SAT1 (γ_C(D) = 0.000); objective weights cannot be derived — use "
       "expert weights or coarser grades (bins); the experts' weights are used",
       convert={"reason": _rough_set_reason}),
    _t("industry_node_failed", "industry",
       "industry evaluation: node {node}: {reason:any}; the experts' weights are used",
       "行业评价：节点 {node}：{reason}；因此改用专家权重",
       "industry evaluation: node Quality: rough set: only 1 complete respondents; at least 2 are needed; "
       "the experts' weights are used",
       convert={"reason": _inner}),
    _t("rough_set_missing_at_node", "industry",
       "rough set at node {node}: {k:int} of {n:int} respondents have a missing grade on {decision} or a "
       "condition attribute and are left out of the decision table",
       "节点 {node} 的粗糙集：{n} 名受访者中有 {k} 名在 {decision} 或某个条件属性上缺少等级，未纳入决策表",
       "rough set at node image: 22 of 450 respondents have a missing grade on SAT1 or a condition "
       "attribute and are left out of the decision table",
       collapse=Collapse(("decision",), ("{node}（{n} 名中 {k} 名）", "{node} ({k} of {n})"),
                         ("粗糙集：在 {decision} 或某个条件属性上缺少等级的受访者未纳入决策表，"
                          "各节点排除的人数为 {parts}",
                          "rough set: respondents with a missing grade on {decision} or a condition "
                          "attribute are left out of the decision table at nodes {parts}"))),
    _t("rough_set_missing", "industry",
       "{name}: {k:int} of {n:int} respondents have a missing grade on {decision} or a condition attribute "
       "and are left out of the decision table",
       "{name}：{n} 名受访者中有 {k} 名在 {decision} 或某个条件属性上缺少等级，未纳入决策表",
       "rough set: 1 of 5 respondents have a missing grade on d or a condition attribute and are left out "
       "of the decision table",
       convert={"name": _rough_set_name}),
    _t("rough_set_zero_significance", "industry",
       "{name}: attribute(s) {attributes}: zero significance and no dependency of {decision} on them alone; "
       "given half the smallest positive importance, not 0",
       "{name}：属性 {attributes} 的重要度为零，{decision} 对其单独也没有依赖度；"
       "已赋予最小正重要度的一半，而非 0",
       "node X: attribute(s) c: zero significance and no dependency of d on them alone; given half the "
       "smallest positive importance, not 0",
       convert={"name": _rough_set_name, "attributes": _list}),
    _t("error_rough_set_complete", "industry",
       "rough set: only {n:int} complete respondents; at least 2 are needed",
       "粗糙集：仅有 {n} 名受访者的数据完整，至少需要 2 名",
       "rough set: only 1 complete respondents; at least 2 are needed"),
    _t("error_rough_set_no_dependency", "industry",
       "{name}: no attribute has any dependency or significance for {decision} (γ_C(D) = {gamma}); objective "
       "weights cannot be derived — use expert weights or coarser grades (bins)",
       "{name}：没有任何属性对 {decision} 具有依赖度或重要度（γ_C(D) = {gamma}）；无法导出客观权重——请使用"
       "专家权重或更粗的等级划分（bins）",
       "rough set at node supply_quality: no attribute has any dependency or significance for SAT1 (γ_C(D) "
       "= 0.000); objective weights cannot be derived — use expert weights or coarser grades (bins)",
       convert={"name": _rough_set_name}),
    _t("ahp_inconsistent", "industry",
       "judgement matrix '{name}': CR = {cr} ≥ {limit}, the judgements are not acceptably consistent; "
       "revisit the most inconsistent ones: {worst}",
       "判断矩阵“{name}”：CR = {cr} ≥ {limit}，判断的一致性不可接受；请重新审视最不一致的判断：{worst}",
       "judgement matrix 'loop': CR = 0.879 ≥ 0.1, the judgements are not acceptably consistent; revisit "
       "the most inconsistent ones: a vs c: judged 1/5, the weights imply 1; b vs c: judged 5, the weights "
       "imply 1; a vs b: judged 5, the weights imply 1",
       "judgement matrix 'panel (expert 1)': CR = 0.125 ≥ 0.1, the judgements are not acceptably "
       "consistent; revisit the most inconsistent ones: a vs c: judged 1/3, the weights imply 0.9",
       convert={"name": _ahp_name, "worst": _ahp_worst}),
    _t("internal_indicator_missing", "industry",
       "region {region} {year:num}: indicator {indicator} is missing; the internal score uses the others",
       "地区 {region}（{year}）：缺少指标 {indicator}，内部得分由其余指标计算",
       "region a 2025: indicator outage_duration_hours is missing; the internal score uses the others",
       collapse=Collapse(("region", "year"), ("{indicator}", "{indicator}"),
                         ("地区 {region}（{year}）：缺少指标 {parts}，内部得分由其余指标计算",
                          "region {region} {year}: indicators {parts} are missing; the internal score uses "
                          "the others"))),
    _t("study_no_internal_indicators", "industry",
       "{path}: no internal indicators for region {region} wave {wave}; the combined service-quality index "
       "is left out",
       "{path}：没有地区 {region}（调查轮次 {wave}）的内部运营指标；不计算综合供电服务品质指数",
       "studies/beiling-2025/study.yaml: no internal indicators for region beiling wave 2025; the combined "
       "service-quality index is left out"),
    # ---------------------------------------------------------------- evaluation/anp.py
    _t("anp_reducible", "industry",
       "{source}: the columns of the limit supermatrix differ (by up to {spread:num}): the network is "
       "reducible (not every element reaches every other), so there is no single set of global weights; "
       "name the element whose column to read with goal: (the goal of the hierarchy)",
       "{source}：极限超矩阵各列不一致（最大相差 {spread}）：网络是可约的（并非每个元素都能到达其他元素），"
       "因此不存在唯一的全局权重；请用 goal: 指明读取哪个元素所在的列（层次结构的目标）",
       "anp: the columns of the limit supermatrix differ (by up to 0.5): the network is reducible (not every "
       "element reaches every other), so there is no single set of global weights; name the element whose "
       "column to read with goal: (the goal of the hierarchy)"),
    _t("anp_no_weight", "industry",
       "{source}: the evaluated cluster(s) {clusters} get no weight in the limit supermatrix (in a hierarchy "
       "only the bottom level, with loops, keeps weight); evaluate clusters that the network reaches in the "
       "long run",
       "{source}：被评价的元素组 {clusters} 在极限超矩阵中的权重为零"
       "（在层次结构中只有带自环的最底层保留权重）；请评价网络长期可到达的元素组",
       "anp: the evaluated cluster(s) ['Criteria'] get no weight in the limit supermatrix (in a hierarchy "
       "only the bottom level, with loops, keeps weight); evaluate clusters that the network reaches in the "
       "long run"),
    _t("anp_no_limit", "industry",
       "the supermatrix powers did not settle within {k:int} powers (tolerance {tol:num}); the network may "
       "be nearly decomposable: check the judgements that link its clusters",
       "超矩阵的幂在 {k} 次内未收敛（容差 {tol}）；网络可能近乎可分解：请检查连接各元素组的判断",
       "the supermatrix powers did not settle within 20000 powers (tolerance 1e-12); the network may be "
       "nearly decomposable: check the judgements that link its clusters"),
    # ---------------------------------------------------------------- estimation/multigroup.py
    _t("mg_weights", "estimation",
       "multi-group CB-SEM does not take survey weights: prepare the sample without weights",
       "多组 CB-SEM 不支持调查权重：请在不加权的情况下准备样本",
       "multi-group CB-SEM does not take survey weights: prepare the sample without weights"),
    _t("mg_group_small", "estimation",
       "group {group} of {column} has {n:int} respondents but the model has {p:int} items: each group needs "
       "more respondents than items (at least {need:int}); merge small groups",
       "分组变量 {column} 的组 {group} 只有 {n} 名受访者，而模型有 {p} 个题项：每组的受访者须多于题项数"
       "（至少 {need} 名）；请合并小组",
       "group 16 of 'ageyr' has 7 respondents but the model has 9 items: each group needs more respondents "
       "than items (at least 10); merge small groups"),
    _t("mg_group_singular", "estimation",
       "group {group} of {column}: the items' covariance matrix is singular (an item is constant or a linear "
       "combination of others in this group); drop the item or merge the group",
       "分组变量 {column} 的组 {group}：题项协方差矩阵奇异（该组中某题项为常数或是其他题项的线性组合）；"
       "请删除该题项或合并该组",
       "group North of 'region': the items' covariance matrix is singular (an item is constant or a linear "
       "combination of others in this group); drop the item or merge the group"),
    _t("mg_parameters", "estimation",
       "{n:int} respondents but the multi-group model has {k:int} free parameters: collect more data, merge "
       "groups, or impose more equality constraints",
       "共 {n} 名受访者，但多组模型有 {k} 个自由参数：请收集更多数据、合并分组或施加更多等同约束",
       "150 respondents but the multi-group model has 182 free parameters: collect more data, merge groups, "
       "or impose more equality constraints"),
    _t("mg_listwise", "data",
       "{k:int} respondents with a missing item or group were left out of the multi-group model (listwise "
       "deletion)",
       "{k} 名受访者因题项或分组缺失未纳入多组模型（成列删除）",
       "5 respondents with a missing item or group were left out of the multi-group model (listwise "
       "deletion)"),
    _t("mg_no_structural", "estimation",
       "the structural invariance step was skipped: the model has no paths between constructs",
       "已跳过结构不变性检验步骤：模型中构面之间没有路径",
       "the structural invariance step was skipped: the model has no paths between constructs"),
    # ---------------------------------------------------------------- estimation/plsc.py
    _t("plsc_no_reliability", "estimation",
       "consistent PLS cannot correct {constructs}: the composite weights and the item correlations of the "
       "block give no positive reliability (rho_A); its items do not measure one common factor (check for a "
       "reverse-coded or unrelated item), or estimate with plain PLS",
       "一致性 PLS 无法校正 {constructs}：该测量块的合成权重与题项相关不能给出正的信度（rho_A）；其题项并未"
       "测量同一个公因子（请检查是否有反向计分或无关题项），或改用普通 PLS 估计",
       "consistent PLS cannot correct Value: the composite weights and the item correlations of the block "
       "give no positive reliability (rho_A); its items do not measure one common factor (check for a "
       "reverse-coded or unrelated item), or estimate with plain PLS",
       convert={"constructs": _list}),
    _t("plsc_rho_above_one", "estimation",
       "construct {construct}: consistent reliability rho_A = {rho:num} exceeds 1, so PLSc inflates its "
       "correlations; its items do not fit one common factor: check the block's items or report plain PLS",
       "构念 {construct}：一致性信度 rho_A = {rho} 超过 1，PLSc 会放大其相关；其题项不符合单一公因子："
       "请检查该测量块的题项，或报告普通 PLS 结果",
       "construct Value: consistent reliability rho_A = 1.042 exceeds 1, so PLSc inflates its correlations; "
       "its items do not fit one common factor: check the block's items or report plain PLS"),
    _t("plsc_not_correlation", "estimation",
       "PLSc: the disattenuated construct correlations are not a valid correlation matrix (largest |r| = "
       "{r:num}, between {a} and {b}); the PLSc paths are not admissible: the constructs are not distinct or "
       "a block is unreliable; report plain PLS",
       "PLSc：消除衰减后的构念相关矩阵不是有效的相关矩阵（最大 |r| = {r}，位于 {a} 与 {b} 之间）；PLSc 路径"
       "系数不可接受：构念之间区分不清或某测量块不可靠；请报告普通 PLS 结果",
       "PLSc: the disattenuated construct correlations are not a valid correlation matrix (largest |r| = "
       "1.031, between Image and Expectation); the PLSc paths are not admissible: the constructs are not "
       "distinct or a block is unreliable; report plain PLS"),
    # ---------------------------------------------------------------- groups.py (MICOM, MGA)
    _t("groups_not_converged", "comparison",
       "PLS did not converge in group {column} = {group} ({k:int} iterations): the group cannot be compared; "
       "raise max_iter of the fit, check that group's items, or merge it with another group",
       "分组 {column} = {group} 的 PLS 估计未收敛（迭代 {k} 次）：该组无法比较；请提高拟合的 max_iter，"
       "检查该组的题项，或将其与其他组合并",
       "PLS did not converge in group region = north (100 iterations): the group cannot be compared; raise "
       "max_iter of the fit, check that group's items, or merge it with another group"),
    _t("micom_failed_permutations", "comparison",
       "{k:int} of {n:int} permutations did not converge in a group and were left out of the MICOM "
       "permutation distributions; if many fail, raise max_iter of the fit",
       "{n} 次置换中有 {k} 次在某组未收敛，已从 MICOM 置换分布中剔除；若失败较多，请提高拟合的 max_iter",
       "12 of 5000 permutations did not converge in a group and were left out of the MICOM permutation "
       "distributions; if many fail, raise max_iter of the fit"),
    _t("mga_failed_permutations", "comparison",
       "{k:int} of {n:int} permutations did not converge in a group and were left out of the permutation "
       "distributions; if many fail, raise max_iter of the fit",
       "{n} 次置换中有 {k} 次在某组未收敛，已从置换分布中剔除；若失败较多，请提高拟合的 max_iter",
       "12 of 5000 permutations did not converge in a group and were left out of the permutation "
       "distributions; if many fail, raise max_iter of the fit"),
    _t("mga_failed_resamples", "comparison",
       "{k:int} of {n:int} group bootstrap resamples did not converge and were left out; if many fail, raise "
       "max_iter of the fit",
       "{n} 次分组自助重抽样中有 {k} 次未收敛，已剔除；若失败较多，请提高拟合的 max_iter",
       "7 of 10000 group bootstrap resamples did not converge and were left out; if many fail, raise "
       "max_iter of the fit"),
    # ---------------------------------------------------------------- records/ (service records)
    _t("records_extra_columns", "data",
       "{file}: {n:int} column(s) not in the record format kept aside, not analysed: {columns}",
       "{file}：服务记录格式以外的 {n} 列已单独保留，不参与分析：{columns}",
       "orders.csv: 1 column(s) not in the record format kept aside, not analysed: remark",
       convert={"columns": _list}),
    _t("records_not_respondents", "data",
       "{file}: {n:int} event(s) of {m:int} customer(s) are not respondents of {survey} (e.g. {ids}); they "
       "are kept but are left out when joined to the survey",
       "{file}：{m} 个客户的 {n} 条事件不属于 {survey} 的受访者（如 {ids}）；记录已保留，"
       "但与调查数据关联时不计入",
       "orders.csv: 1 event(s) of 1 customer(s) are not respondents of linxi_2025.csv (e.g. 'r3'); they are "
       "kept but are left out when joined to the survey"),
    _t("records_outside_period", "data",
       "{file}: {n:int} event(s) outside the reference period {start} to {end} are not counted",
       "{file}：参考期 {start} 至 {end} 以外的 {n} 条事件不计入",
       "records: 1 event(s) outside the reference period 2025-01-01 to 2026-01-01 are not counted"),
    _t("records_strangers", "data",
       "{file}: {n:int} event(s) of {m:int} customer(s) who are not respondents are not counted (e.g. {ids})",
       "{file}：{m} 个非受访客户的 {n} 条事件不计入（如 {ids}）",
       "records: 4 event(s) of 2 customer(s) who are not respondents are not counted (e.g. 'x1', 'x2')"),
    _t("records_few_dissatisfied", "segments",
       "segment {segment}: {d:int} dissatisfied and {o:int} other customers; at least {k:int} of each are "
       "needed to rank drivers, so none are ranked",
       "客户群体 {segment}：不满意客户 {d} 个、其他客户 {o} 个；两类各需至少 {k} 个才能对驱动因素排序，"
       "因此未排序",
       "segment all: 2 dissatisfied and 4 other customers; at least 5 of each are needed to rank drivers, "
       "so none are ranked"),
    # ---------------------------------------------------------------- comparability.py
    _t("comparability_no_sample", "comparison",
       "{scope} {unit}: comparability not tested: {paths} hold no sample.csv and model.yaml (bundles of an "
       "older version); rerun those studies",
       "{scope} {unit}：未检验可比性：{paths} 中没有 sample.csv 与 model.yaml（旧版本的结果包）；"
       "请重新运行这些研究",
       "wave 2025: comparability not tested: /runs/a/bundle hold no sample.csv and model.yaml (bundles of an "
       "older version); rerun those studies",
       convert={"scope": _scope}),
    _t("comparability_models_differ", "comparison",
       "{scope} {unit}: comparability not tested: the studies estimated different models, so MICOM step 1 "
       "(configural invariance) fails and their indices are not comparable construct by construct",
       "{scope} {unit}：未检验可比性：各研究估计的模型不同，MICOM 第 1 步（构形不变性）不成立，"
       "各构面指数不能逐一比较",
       "region Donggang (fictional): comparability not tested: the studies estimated different models, so "
       "MICOM step 1 (configural invariance) fails and their indices are not comparable construct by "
       "construct",
       convert={"scope": _scope}),
    _t("comparability_too_many", "comparison",
       "{scope} {unit}: comparability not tested: {n:int} regions make {m:int} pairs, too many to test each "
       "(at most {k:int} regions); compare within a province with csi.micom and csi.permutation_mga",
       "{scope} {unit}：未检验可比性：{n} 个地区共 {m} 对，逐对检验过多（至多 {k} 个地区）；"
       "请在省内用 csi.micom 与 csi.permutation_mga 比较",
       "wave 2025: comparability not tested: 300 regions make 44850 pairs, too many to test each (at most "
       "12 regions); compare within a province with csi.micom and csi.permutation_mga",
       convert={"scope": _scope}),
    _t("comparability_failed", "comparison",
       "{scope} {unit}: comparability not tested: {reason:any}",
       "{scope} {unit}：未检验可比性：{reason}",
       "wave 2025: comparability not tested: PLS did not converge in group group = 东港 (100 iterations): "
       "the group cannot be compared; raise max_iter of the fit, check that group's items, or merge it with "
       "another group",
       convert={"scope": _scope, "reason": _inner}),
    # ---------------------------------------------------------------- rollup.py
    _t("rollup_missing_regions", "comparison",
       "wave {wave}: {k:int} region(s) of {unit} have no bundle ({regions}); its index is over the {n:int} "
       "regions present, weights renormalised",
       "调查轮次 {wave}：{unit}有 {k} 个地区缺少结果包（{regions}）；其指数仅按现有的 {n} 个地区计算，"
       "权重已重新归一化",
       "wave 2026: 1 region(s) of province Yunling have no bundle (c); its index is over the 2 regions "
       "present, weights renormalised",
       convert={"unit": _unit, "regions": _list}),
    _t("rollup_no_regions", "comparison",
       "wave {wave}: no region of {unit} has a bundle ({regions}); it has no index in this wave",
       "调查轮次 {wave}：{unit}没有任何地区的结果包（{regions}）；该轮次无此单位的指数",
       "wave 2025: no region of province Haibin has a bundle (d); it has no index in this wave",
       convert={"unit": _unit, "regions": _list}),
    _t("rollup_nonfinite_draws", "comparison",
       "non-finite bootstrap draws dropped before pairing the regions' draws ({counts} left)",
       "配对各地区的自助抽样结果之前已剔除非有限值（剩余：{counts}）",
       "non-finite bootstrap draws dropped before pairing the regions' draws (a 2026 Satisfaction: 390 "
       "left)"),
    _t("rollup_change_matched", "comparison",
       "{unit} {before:num}→{after}: the change is over the {n:int} regions in both waves; not compared: "
       "{regions}",
       "{unit} {before}→{after}：变化仅按两轮调查均有结果的 {n} 个地区计算；未纳入比较：{regions}",
       "province Yunling 2025→2026: the change is over the 2 regions in both waves; not compared: c",
       convert={"unit": _unit, "regions": _list}),
    # ---------------------------------------------------------------- compare.py
    _t("compare_few_tail_draws", "comparison",
       "wave {wave}: the Bonferroni-adjusted level {level} for {m:int} pairs leaves {k} of {n:int} bootstrap "
       "draws beyond each bound, so the intervals rest on the most extreme draws; rerun the studies with at "
       "least {need:int} draws",
       "调查轮次 {wave}：{m} 对地区比较经 Bonferroni 校正后的置信水平为 {level}，每侧界限之外仅有 {n} 次"
       "自助抽样中的 {k} 次，区间依赖于最极端的抽样结果；请以至少 {need} 次自助抽样重新运行各研究",
       "wave 2025: the Bonferroni-adjusted level 99.6667% for 15 pairs leaves 0.3 of 200 bootstrap draws "
       "beyond each bound, so the intervals rest on the most extreme draws; rerun the studies with at least "
       "3000 draws"),
)


# ----------------------------------------------------------------------------- API
def match(message: str) -> tuple[Template, re.Match[str]] | None:
    """The first catalog template that matches the whole message, with its match."""
    for template in CATALOG:
        found = template.pattern.fullmatch(message)
        if found is not None:
            return template, found
    return None


def category_of(message: str) -> str:
    """The key of the message's category (``other`` for an unknown message)."""
    found = match(message)
    return found[0].category if found else "other"


def translate(message: str, language: str = "zh") -> str:
    """``message`` in ``language``: unchanged in English; in Chinese from the catalog.

    An unknown message comes back as ``UNTRANSLATED + message`` (so it is still shown, and a
    test can tell that the catalog lacks it).
    """
    if check_language(language) == "en":
        return message
    found = match(message)
    if found is None:
        return _mark(message)
    template, m = found
    return template.render(m, language)


def group(messages: Iterable[str], language: str = "zh",
          names: Mapping[str, str] | None = None) -> list[tuple[str, list[str]]]:
    """The messages by category: ``[(category title, [lines]), ...]`` in :data:`CATEGORIES` order.

    Each message appears once; messages of one template that a :class:`Collapse` merges (e.g.
    the rough-set note of every node) become one line when there are several; categories
    without a message are left out. Lines are in ``language`` (English lines are the messages);
    ``names`` gives Chinese lines the study's labels for the keys of its evaluation nodes.
    """
    language = check_language(language)
    unique = list(dict.fromkeys(messages))
    matched = [(message, match(message)) for message in unique]
    buckets: dict[tuple[str, tuple[str, ...]], list[tuple[Template, re.Match[str]]]] = {}
    for _, found in matched:
        if found is not None and found[0].collapse is not None:
            buckets.setdefault(_bucket(*found), []).append(found)
    lines: dict[str, list[str]] = {c.key: [] for c in CATEGORIES}
    done: set[tuple[str, tuple[str, ...]]] = set()
    for message, found in matched:
        if found is None:
            lines["other"].append(translate(message, language))
            continue
        template, m = found
        key = _bucket(template, m) if template.collapse is not None else None
        if key is not None and len(buckets[key]) > 1:
            if key in done:
                continue
            done.add(key)
            line = _collapsed(buckets[key], language, names)
        else:
            line = template.render(m, language, names)
        lines[template.category].append(line)
    return [(c.title(language), list(dict.fromkeys(lines[c.key]))) for c in CATEGORIES if lines[c.key]]


def _bucket(template: Template, m: re.Match[str]) -> tuple[str, tuple[str, ...]]:
    assert template.collapse is not None
    return template.key, tuple(m[name] or "" for name in template.collapse.same)


def _collapsed(found: list[tuple[Template, re.Match[str]]], language: str,
               names: Mapping[str, str] | None = None) -> str:
    template = found[0][0]
    rule = template.collapse
    assert rule is not None
    k = 0 if language == "zh" else 1
    items = [rule.item[k].format(**template.values(m, language, names)) for _, m in found]
    same = {name: v for name, v in template.values(found[0][1], language, names).items() if name in rule.same}
    line = rule.line[k].format(parts=rule.sep[k].join(dict.fromkeys(items)), **same)
    return _sentence(line) if language == "zh" else line
