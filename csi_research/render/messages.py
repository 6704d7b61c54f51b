"""Diagnostics for readers: every message the package can emit, in Chinese and English, grouped.

The estimators write their diagnostics in English (:mod:`csi_research.core.diagnostics`). A report
in Chinese must not show them as they are, so :data:`CATALOG` (read from the data file
``resources/diagnostics.yaml``; this module holds only the code that matches and formats) lists
every message template the package can produce — written as the English text with ``{placeholders}`` for the
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
from typing import Any

from csi_research.core.options import MISSING_TEXT
from csi_research.core.options import language as check_language
from csi_research.core.yamlfile import load_resource

UNTRANSLATED = "[EN] "  # in front of a message (or part) this catalog does not know


@dataclass(frozen=True)
class Category:
    """A heading of the diagnostics appendix."""

    key: str
    zh: str
    en: str

    def title(self, language: str) -> str:
        return self.zh if check_language(language) == "zh" else self.en



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


_FILE_KINDS_ZH = {
    "an Excel workbook (.xlsx)": "Excel 工作簿（.xlsx）",
    "an old Excel workbook (.xls)": "旧版 Excel 工作簿（.xls）",
    "an Excel binary workbook (.xlsb)": "Excel 二进制工作簿（.xlsb）",
    "a password-protected (encrypted) Office file": "设有密码（已加密）的 Office 文件",
    "an OpenDocument spreadsheet (.ods)": "OpenDocument 电子表格（.ods）",
    "an Excel 2003 XML spreadsheet": "Excel 2003 XML 电子表格",
    "an HTML table (a web page)": "HTML 表格（网页）",
    "a Word document (.docx)": "Word 文档（.docx）",
    "a zip archive": "zip 压缩包",
    "a gzip-compressed file": "gzip 压缩文件",
    "a parquet file": "parquet 文件",
    "an SPSS file (.sav)": "SPSS 文件（.sav）",
    "a text file": "文本文件",
    "a binary file": "二进制文件",
}
_file_kind = _phrase(_FILE_KINDS_ZH)  # the kinds of data/sniff.py (KINDS), as a note names them


def _encoding_zh(text: str) -> str:
    """An encoding's name; its byte order in Chinese."""
    return text.replace("(little-endian)", "（小端字节序）").replace("(big-endian)", "（大端字节序）") \
        .replace("GB18030 (GBK)", "GB18030（GBK）")


def _summary_rows(text: str) -> str:
    """``row 452 ('合计') and 2 more`` → ``第 452 行（'合计'）等，另有 2 行``."""
    more = re.search(r" and (\d+) more$", text)
    parts = re.findall(r"row (\d+) \((.*?)\)(?:, |$| and)", text)
    if not parts:
        return _mark(text)
    return "、".join(f"第 {r} 行（{v}）" for r, v in parts) + (f"等，另有 {more.group(1)} 行" if more else "")


def _read_as(text: str) -> str:
    """``'５' as '5', '３' as '3'`` → ``'５' 读作 '5'、'３' 读作 '3'``."""
    return text.replace(" as ", " 读作 ").replace(", ", "、")


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

# ----------------------------------------------------------------------------- the catalog
# The converters a catalog entry may name under ``convert`` (placeholder: converter).
CONVERTERS: Mapping[str, Callable[[str], str]] = MappingProxyType({
    "list": _list, "etc": _etc, "paren_list": _paren_list, "std_list": _std_list, "pairs": _pairs,
    "reliability": _reliability, "htmt_level": _htmt_level, "ahp_name": _ahp_name,
    "ahp_worst": _ahp_worst, "rough_set_name": _rough_set_name, "separator_zh": _separator_zh,
    "unit": _unit, "scope": _scope, "inner": _inner, "rough_set_reason": _rough_set_reason,
    "treatment": _treatment, "matrix": _matrix, "weight_level": _weight_level, "file_kind": _file_kind,
    "encoding_zh": _encoding_zh, "summary_rows": _summary_rows, "read_as": _read_as,
})


def _pair(entry: Mapping[str, str]) -> tuple[str, str]:
    return entry["zh"], entry["en"]


def _template(entry: Mapping[str, Any]) -> Template:
    key = entry.get("key")
    if not all(isinstance(entry.get(k), str) and entry[k].strip() for k in ("key", "category", "en", "zh")):
        raise ValueError(f"resources/diagnostics.yaml: message {key!r} must give a key, a category and "
                         "non-empty en and zh texts")
    unknown = set(entry.get("convert", {}).values()) - set(CONVERTERS)
    if unknown:
        raise ValueError(f"resources/diagnostics.yaml: message {key!r} names unknown converter(s) "
                         f"{', '.join(sorted(unknown))}; known: {', '.join(CONVERTERS)}")
    rule = entry.get("collapse")
    collapse = None if rule is None else Collapse(
        tuple(rule["same"]), _pair(rule["item"]), _pair(rule["line"]),
        *([_pair(rule["sep"])] if "sep" in rule else []))
    convert = {name: CONVERTERS[how] for name, how in entry.get("convert", {}).items()}
    return Template(entry["key"], entry["category"], entry["en"], entry["zh"], tuple(entry["examples"]),
                    convert, collapse)


def _catalog(table: Mapping[str, Any]) -> tuple[tuple[Category, ...], tuple[Template, ...]]:
    """The categories and templates of the parsed ``resources/diagnostics.yaml``."""
    categories = tuple(Category(c["key"], c["zh"], c["en"]) for c in table["categories"])
    return categories, tuple(_template(entry) for entry in table["messages"])


CATEGORIES, CATALOG = _catalog(load_resource("diagnostics.yaml"))


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
