"""The regional report: a one-page summary, the sections, and the appendices, in Chinese or English.

Each function takes a :class:`~csi_research.study.pipeline.StudyResult` (and the change since the
previous wave, when there is one) and returns a :class:`~csi_research.render.html.Block`; the
notebook only displays them in order. Nothing here computes a statistic: the numbers come from
the result, the words from :mod:`csi_research.render.wording`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from csi_research.core.options import level_text
from csi_research.render import plots
from csi_research.render.headers import reader_table
from csi_research.render.html import Block, Markup, bullets, figure, heading, join, paragraph, table
from csi_research.render.wording import check_language, num, say, signed

TOP = 3  # weak links on the summary page
FIT_NAMES = {  # CB-SEM fit measures as readers know them
    "chi2": ("χ²", "χ²"),
    "df": ("自由度", "Degrees of freedom"),
    "p_value": ("p 值", "p-value"),
    "cfi": ("CFI", "CFI"),
    "tli": ("TLI", "TLI"),
    "rmsea": ("RMSEA", "RMSEA"),
    "rmsea_ci_lower": ("RMSEA 90% 区间下限", "RMSEA 90% lower"),
    "rmsea_ci_upper": ("RMSEA 90% 区间上限", "RMSEA 90% upper"),
    "srmr": ("SRMR", "SRMR"),
    "aic": ("AIC", "AIC"),
    "bic": ("BIC", "BIC"),
}
METHOD_NAMES = {
    "ahp": ("层次分析法", "AHP"),
    "rough_set": ("粗糙集", "rough set"),
    "combined": ("粗糙集与层次分析法组合", "rough set + AHP combined"),
    "weighted": ("加权平均型 M(·,+)", "weighted-average M(·,+)"),
    "maxmin": ("主因素决定型 M(∧,∨)", "max–min M(∧,∨)"),
}
LEVEL_NAMES = {
    "overall": ("总体", "Overall"),
    "construct": ("构面", "Construct"),
    "subindicator": ("二级指标", "Sub-indicator"),
    "item": ("题项", "Item"),
}


# ---------------------------------------------------------------------------- small helpers
def region_name(result: Any, language: str) -> str:
    cfg = result.config
    return cfg.region_zh if language == "zh" else cfg.region_en


def title(result: Any, language: str) -> str:
    """The report's title as plain text: region and wave (also the HTML page title)."""
    return say("title", language, region=region_name(result, language), wave=result.config.wave).unescape()


def _label(result: Any, construct: str, language: str) -> str:
    labels = getattr(result, "declared_model", result.model).labels  # components too
    zh, en = labels.get(construct, (construct, construct))  # an observed moderator: its column's name
    return zh if language == "zh" else en


def _verdict(lower: float, upper: float, target: float, language: str) -> Markup:
    key = "verdict_above" if lower > target else "verdict_below" if upper < target else "verdict_equal"
    return say(key, language, target=f"{target:g}")


def _csi(result: Any) -> pd.Series:
    return result.indices.loc[result.target]


def _section(key: str, language: str, *parts: Any) -> Block:
    return Block(join([heading(2, say(key, language)), *parts]), language=language)


def _readers(frame: pd.DataFrame, language: str) -> Markup:
    return table(reader_table(frame, language))


# ---------------------------------------------------------------------------- summary page
def summary(result: Any, language: str = "zh", change: pd.DataFrame | None = None) -> Block:
    """The first page: CSI against target and previous wave, the seven indices, the top weak
    links with their measures, the service-quality index with its KPIs, and the conclusion."""
    check_language(language)
    cfg = result.config
    csi = _csi(result)
    level = level_text(float(csi["level"]))
    parts: list[Any] = [heading(1, title(result, language))]
    if cfg.describe(language):
        parts.append(paragraph(cfg.describe(language), "lead"))
    if cfg.synthetic:
        parts.append(paragraph(say("synthetic", language), "note"))
    if result.quick:
        parts.append(paragraph(say("quick", language, n=result.n_boot, level=level), "note"))
    parts.append(paragraph(say("base", language, text=result.sample.describe(language)), "muted"))
    parts.append(_cards(result, language, change))
    parts.append(
        paragraph(
            say(
                "csi_sentence",
                language,
                label=_label(result, result.target, language),
                value=num(csi["index"]),
                level=level,
                lo=num(csi["ci_lower"]),
                hi=num(csi["ci_upper"]),
                verdict=_verdict(csi["ci_lower"], csi["ci_upper"], cfg.index_target, language),
            )
        )
    )
    if (predicted := prediction_sentence(result, language)) is not None:
        parts.append(paragraph(predicted))
    parts += _headline_parts(result, language)
    parts += [
        heading(3, say("indices_caption", language, level=level)),
        table(_index_summary(result, language, change)),
    ]
    parts += [heading(3, say("top_weak", language)), _weak_links(result, language, TOP)]
    parts += [heading(3, say("sqi_title", language)), _service_quality(result, language)]
    parts += [heading(3, say("conclusion", language)), paragraph(conclusion_text(result, language, change))]
    parts.append(Markup('<div class="page-end"></div>'))
    return Block(
        join(parts), _summary_text(result, language), title=title(result, language), language=language
    )


def _cards(result: Any, language: str, change: pd.DataFrame | None) -> Markup:
    cfg = result.config
    csi = _csi(result)
    good = csi["ci_lower"] > cfg.index_target
    bad = csi["ci_upper"] < cfg.index_target
    tone = "good" if good else "bad" if bad else ""
    cards = [
        (
            say("card_csi", language),
            Markup('<span class="big {}">{}</span>').format(tone, num(csi["index"])),
            join(
                [
                    say(
                        "card_interval",
                        language,
                        level=level_text(float(csi["level"])),
                        lo=num(csi["ci_lower"]),
                        hi=num(csi["ci_upper"]),
                    ),
                    " · ",
                    say("card_target", language, target=f"{cfg.index_target:g}"),
                    *_band_note(result, "csi", language),
                ]
            ),
        )
    ]
    row = _change_row(result, change)
    if row is not None:
        tone = (
            "good" if row["significant"] and row["difference"] > 0 else ("bad" if row["significant"] else "")
        )
        cards.append(
            (
                say("card_change", language, wave=row["from_wave"]),
                Markup('<span class="big {}">{}</span>').format(tone, signed(row["difference"])),
                say(
                    "card_interval",
                    language,
                    level=level_text(float(row["level"])),
                    lo=signed(row["ci_lower"]),
                    hi=signed(row["ci_upper"]),
                ),
            )
        )
    sqi = _sqi_row(result)
    if sqi is not None:
        cards.append(
            (
                say("card_sqi", language),
                Markup('<span class="big">{}</span>').format(num(sqi["service_quality_index"])),
                "",
            )
        )
    cards += _headline_cards(result, language)
    grade = _fuzzy_grade(result, language)
    if grade:
        cards.append(
            (say("card_fuzzy", language), Markup('<span class="big">{}</span>').format(grade[0]), grade[1])
        )
    html = [
        Markup('<div class="card"><div class="muted">{}</div>{}<div class="muted">{}</div></div>').format(*c)
        for c in cards
    ]
    return Markup('<div class="cards">{}</div>').format(join(html))


# ---------------------------------------------------------------------------- headline figures
HEADLINE_UNITS = {"%": "headline_unit_percent", "points": "headline_unit_points",
                  "per 10,000": "headline_unit_per10k"}
CARD_FIGURES = ("satisfaction_rate", "recommendation_index")  # the summary's cards; the table has all


def _headline(result: Any) -> pd.DataFrame | None:
    table = getattr(result, "headline", None)
    return None if table is None or table.empty else table


def _band(result: Any, figure: str, language: str) -> str | None:
    """The band of a figure's value, with both ends' bands when they differ."""
    bands = getattr(result, "index_bands", None)
    if bands is None or figure not in set(bands["figure"]):
        return None
    row = bands.set_index("figure").loc[figure]
    value, lo, hi = (str(row[f"{p}band_{language}"]) for p in ("", "lower_", "upper_"))
    return value if lo == hi else f"{value}（{lo}–{hi}）" if language == "zh" else f"{value} ({lo}–{hi})"


def _band_note(result: Any, figure: str, language: str) -> list[Any]:
    band = _band(result, figure, language)
    return [" · ", say("card_band", language, band=band)] if band else []


def _headline_cards(result: Any, language: str) -> list[tuple[Any, Any, Any]]:
    table = _headline(result)
    if table is None:
        return []
    cards = []
    for row in table[table["figure"].isin(CARD_FIGURES)].itertuples():
        interval = say("card_interval", language, level=level_text(float(row.level)), lo=num(row.ci_lower),
                       hi=num(row.ci_upper))
        value = num(row.value) + ("%" if row.unit == "%" else "")
        big = Markup('<span class="big">{}</span>').format(value)
        cards.append((say(f"headline_{row.figure}", language), big,
                      join([interval, *_band_note(result, row.figure, language)])))
    return cards


def headline_table(result: Any, language: str) -> pd.DataFrame:
    """The headline figures for readers: the CSI first, then each figure, its interval, unit, n, band."""
    zh = language == "zh"
    csi = _csi(result)
    rows = [("csi", float(csi["index"]), float(csi["ci_lower"]), float(csi["ci_upper"]),
             "headline_unit_index", int(csi["n"]))]
    for row in _headline(result).itertuples():
        rows.append((row.figure, row.value, row.ci_lower, row.ci_upper, HEADLINE_UNITS[row.unit], int(row.n)))
    level = level_text(float(csi["level"]))
    return pd.DataFrame([{
        ("指标" if zh else "Figure"): say(f"headline_{figure}", language),
        ("数值" if zh else "Value"): num(value),
        (f"{level} 区间" if zh else f"{level} interval"): f"{num(lo)}–{num(hi)}",
        ("单位" if zh else "Unit"): say(unit, language),
        ("样本量" if zh else "Respondents"): str(n),
        ("等级" if zh else "Band"): _band(result, figure, language) or "–",
    } for figure, value, lo, hi, unit, n in rows])


def headline_definitions(result: Any, language: str) -> list[Markup]:
    """How each headline figure is computed, with its item, codes and treatment of missing answers."""
    from csi_research.evaluation.fuzzy import grade_bands

    table = _headline(result)
    book = result.survey.codebook
    zh = language == "zh"
    out = []
    for row in table.itertuples():
        values: dict[str, Any] = {}
        if row.item in book.item_ids:
            item = book.item(row.item)
            values = {"item": row.item, "text": item.text_zh if zh else item.text_en}
        if row.figure == "satisfaction_rate":
            values |= {"codes": row.counted, "k": _codes_in(book, row.item, row.counted)}
        elif row.figure == "recommendation_index":
            promoters, detractors = row.counted.split(" vs ")
            values |= {"promoters": promoters, "detractors": detractors}
        elif row.figure == "repeat_complainants_per_10k":
            values["repeat"] = row.counted.lstrip("≥")
        out.append(say(f"def_{row.figure}", language, **values))
    if getattr(result, "index_bands", None) is not None:
        scale = book.scale_of(result.model.constructs[result.target][0])
        bands = grade_bands(scale)
        shown = ("、" if zh else ", ").join(
            f"{r[f'label_{language}']} {num(r['lower'], 0)}–{num(r['upper'], 0)}"
            for _, r in bands.iterrows())
        out.append(say("def_bands", language, bands=shown, level=level_text(result.boot.ci)))
    out.append(say("def_intervals", language, n=result.n_boot, level=level_text(result.boot.ci)))
    return out


def _codes_in(book: Any, item: str, span: str) -> int:
    """How many codes of the item's scale a span such as "4–5" (or "5") covers."""
    ends = [int(x) for x in str(span).split("–")]
    return sum(ends[0] <= c <= ends[-1] for c in book.scale_of(item).codes)


def _headline_parts(result: Any, language: str) -> list[Any]:
    if _headline(result) is None:
        return []
    level = level_text(result.boot.ci)
    return [heading(3, say("headline_title", language, level=level)), table(headline_table(result, language)),
            paragraph(say("headline_definitions", language), "muted"),
            bullets(headline_definitions(result, language))]


def headline(result: Any, language: str = "zh") -> Block:
    """The headline figures as a section of its own (the summary page shows the same table)."""
    check_language(language)
    return Block(join(_headline_parts(result, language)), language=language)


def _change_row(result: Any, change: pd.DataFrame | None) -> pd.Series | None:
    if change is None or change.empty:
        return None
    rows = change[change["construct"] == result.target]
    return None if rows.empty else rows.iloc[0]


def _index_summary(result: Any, language: str, change: pd.DataFrame | None) -> pd.DataFrame:
    target = result.config.index_target
    zh = language == "zh"
    rows = []
    for construct, r in result.indices.iterrows():
        row = {
            ("构面" if zh else "Construct"): _label(result, construct, language),
            ("指数" if zh else "Index"): num(r["index"]),
            (
                f"{level_text(float(r['level']))} 区间" if zh else f"{level_text(float(r['level']))} interval"
            ): f"{num(r['ci_lower'])}–{num(r['ci_upper'])}",
            (f"与目标 {target:g} 之差" if zh else f"vs target {target:g}"): signed(r["index"] - target),
            ("达到目标" if zh else "Target met"): "✓" if r["ci_lower"] > target else "–",
        }
        if change is not None and not change.empty and construct in set(change["construct"]):
            c = change.set_index("construct").loc[construct]
            row[("上一轮" if zh else "Previous wave")] = num(c["before"])
            row[("变化" if zh else "Change")] = signed(c["difference"]) + (" *" if c["significant"] else "")
        rows.append(row)
    return pd.DataFrame(rows)


def _weak_links(result: Any, language: str, top: int) -> Markup:
    zh = language == "zh"
    priorities = result.ipma.priorities.head(top)
    kpi_values = _kpi_lookup(result, language)
    blocks = []
    for r in priorities.itertuples():
        line = say(
            "weak_line",
            language,
            rank=r.rank,
            aspect=getattr(r, "subindicator_zh" if zh else "subindicator_en") or r.construct,
            item=getattr(r, "label_zh" if zh else "label_en"),
            id=r.item,
            perf=num(r.performance),
            imp=num(r.importance, 2),
            gain=num(r.potential_gain),
        )
        measures = str(getattr(r, "measures_zh" if zh else "measures_en", "") or "")
        details = [
            join(
                [
                    Markup("<b>{}</b>").format(say("measures", language)),
                    measures or say("no_measures", language),
                ]
            )
        ]
        kpis = [k for k in str(getattr(r, "kpis", "") or "").split(",") if k.strip()]
        if kpis:
            details.append(
                join(
                    [
                        Markup("<b>{}</b>").format(say("kpis", language)),
                        ("；" if zh else "; ").join(kpi_values.get(k.strip(), k.strip()) for k in kpis),
                    ]
                )
            )
        blocks.append(join([paragraph(line), bullets(details)]))
    return join(blocks)


def _kpi_lookup(result: Any, language: str) -> dict[str, str]:
    """Internal indicator id → 'name value unit (target …)' for the study's region and wave."""
    internal = _internal_scores(result)
    if internal is None:
        return {}
    out = {}
    for r in internal.itertuples():
        out[r.indicator] = f"{_kpi_name(r, language)} {_kpi_value(r.value, r, language)}" + (
            f"（目标 {_kpi_target(r, language)}）"
            if language == "zh"
            else f" (target {_kpi_target(r, language)})"
        )
    return out


def _internal_scores(result: Any) -> pd.DataFrame | None:
    industry = result.industry
    internal = getattr(industry, "internal", None) if industry is not None else None
    if internal is None or internal.scores.empty:
        return None
    return internal.scores


def _kpi_name(r: Any, language: str) -> str:
    return r.name_zh if language == "zh" else r.name_en


def _kpi_unit(r: Any, language: str) -> str:
    return r.unit_zh if language == "zh" else r.unit


def _kpi_value(value: float, r: Any, language: str) -> str:
    if pd.isna(value):
        return "–"
    if r.unit == "rate":
        return f"{value * 100:.{_rate_digits(r.target)}f}%"
    return f"{value:g} {_kpi_unit(r, language)}"


def _rate_digits(target: float) -> int:
    """Enough decimals to tell 99.99 % from 99.9 %."""
    text = f"{target * 100:.6g}"
    return len(text.split(".")[1]) if "." in text else 0


def _kpi_target(r: Any, language: str) -> str:
    sign = "≥" if r.direction == "benefit" else "≤"
    return f"{sign} {_kpi_value(r.target, r, language)}"


def _sqi_row(result: Any) -> pd.Series | None:
    industry = result.industry
    quality = getattr(industry, "quality_index", None) if industry is not None else None
    if quality is None or not len(quality):
        return None
    return quality.iloc[0]


def _service_quality(result: Any, language: str) -> Markup:
    sqi = _sqi_row(result)
    internal = _internal_scores(result)
    if sqi is None or internal is None:
        return paragraph(say("no_internal", language))
    sentence = say(
        "sqi_sentence",
        language,
        beta=f"{sqi['beta']:g}",
        rest=f"{1 - sqi['beta']:g}",
        ext=num(sqi["external_csi"]),
        internal=num(sqi["internal_score"]),
        value=num(sqi["service_quality_index"]),
    )
    return join([paragraph(sentence), table(kpi_table(result, language))])


def kpi_table(result: Any, language: str) -> pd.DataFrame:
    """Internal indicators for readers: name, raw value with unit, target, score (0–100)."""
    internal = _internal_scores(result)
    if internal is None:
        return pd.DataFrame()
    zh = language == "zh"
    return pd.DataFrame(
        {
            ("指标" if zh else "Indicator"): [_kpi_name(r, language) for r in internal.itertuples()],
            ("实际值" if zh else "Value"): [_kpi_value(r.value, r, language) for r in internal.itertuples()],
            ("目标值" if zh else "Target"): [_kpi_target(r, language) for r in internal.itertuples()],
            ("得分" if zh else "Score"): [num(s) if pd.notna(s) else "–" for s in internal["score"]],
            ("达标" if zh else "Met"): ["✓" if s >= 100 else "–" for s in internal["score"].fillna(0)],
        }
    )


def _fuzzy_grade(result: Any, language: str) -> tuple[str, str] | None:
    industry = result.industry
    if industry is None:
        return None
    root = industry.fuzzy.table.iloc[0]
    label = root.get("grade_label_zh" if language == "zh" else "grade_label_en", root.get("grade_label", ""))
    if not label:
        return None
    return str(label), num(root["score"])


def _summary_text(result: Any, language: str) -> str:
    csi = _csi(result)
    return f"{title(result, language)}\nCSI {csi['index']:.1f} [{csi['ci_lower']:.1f}, {csi['ci_upper']:.1f}]"


def conclusion_text(result: Any, language: str, change: pd.DataFrame | None = None) -> Markup:
    """A short conclusion from the numbers: CSI vs target, extremes, first weak link, change."""
    cfg = result.config
    csi = _csi(result)
    indices = result.indices["index"]
    parts = [
        say(
            "conc_csi",
            language,
            region=region_name(result, language),
            wave=cfg.wave,
            value=num(csi["index"]),
            verdict=_verdict(csi["ci_lower"], csi["ci_upper"], cfg.index_target, language),
        ),
        say(
            "conc_constructs",
            language,
            best=_label(result, indices.idxmax(), language),
            best_v=num(indices.max()),
            worst=_label(result, indices.idxmin(), language),
            worst_v=num(indices.min()),
        ),
    ]
    row = _change_row(result, change)
    if row is not None:
        parts.append(_change_sentence(row, language))
    priorities = result.ipma.priorities
    if len(priorities):
        first = priorities.iloc[0]
        name = first["label_zh"] if language == "zh" else first["label_en"]
        kpis = [k.strip() for k in str(first.get("kpis", "") or "").split(",") if k.strip()]
        names = _kpi_names(result, kpis, language)
        if names:
            parts.append(
                say("conc_weak", language, first=name, kpi=("、" if language == "zh" else ", ").join(names))
            )
        else:
            parts.append(say("conc_weak_nokpi", language, first=name))
    if result.cbsem is not None and not result.cbsem.admissible:
        parts.append(say("conc_admissible", language))
    return join(parts) if language == "zh" else Markup(" ").join(parts)


def _kpi_names(result: Any, kpis: list[str], language: str) -> list[str]:
    internal = _internal_scores(result)
    if internal is None:
        return []
    names = internal.drop_duplicates("indicator").set_index("indicator")
    return [names.at[k, "name_zh" if language == "zh" else "name_en"] for k in kpis if k in names.index]


def _change_sentence(row: pd.Series, language: str) -> Markup:
    direction = "up" if row["difference"] > 0 else "down"
    return say(
        "change_csi",
        language,
        wave=row["from_wave"],
        direction=say(direction, language),
        diff=num(abs(row["difference"])) if language == "zh" else signed(row["difference"]),
        level=level_text(float(row["level"])),
        lo=signed(row["ci_lower"]),
        hi=signed(row["ci_upper"]),
        verdict=say("change_real" if row["significant"] else "change_noise", language),
    )


# ---------------------------------------------------------------------------- sections
def data_quality(result: Any, language: str = "zh") -> Block:
    q = result.survey.quality
    sample = result.sample
    worst = q.item_missing.sort_values(ascending=False).head(3)
    sep = "，" if language == "zh" else ", "
    missing = sep.join(f"{item} {share:.1%}" for item, share in worst.items() if share > 0)
    lines = [
        say(
            "data_lines",
            language,
            received=q.n_respondents,
            n=sample.n,
            treatment={
                "em": ("EM 插补", "EM imputation"),
                "mean": ("题项均值替代", "item-mean replacement"),
                "listwise": ("整份剔除", "listwise deletion"),
            }[sample.missing][language != "zh"],
            imputed=sample.n_imputed,
            dropped=sample.n_dropped,
        ),
        say("missing_items", language, items=missing or say("none", language)),
        say(
            "straight",
            language,
            k=len(q.straight_liners),
            share=f"{len(q.straight_liners) / max(q.n_respondents, 1):.1%}",
            out=len(q.outliers),
        ),
        say(
            "duplicates",
            language,
            dup=len(q.duplicate_ids),
            zero=sep.join(q.zero_variance_items) or say("none", language),
        ),
    ]
    fig = plots.response_distribution(result.survey, result.survey.codebook, language=language)
    return _section("sec_data", language, bullets(lines), figure(fig, say("sec_data", language)))


def measurement(result: Any, language: str = "zh") -> Block:
    rel = result.measurement.reliability
    passes = rel[["alpha_ok", "rho_c_ok", "ave_ok"]].all(axis=1)
    weak = [_label(result, c, language) for c in passes.index[~passes]]
    verdict = (
        say("measurement_weak", language, names=("、" if language == "zh" else ", ").join(weak))
        if weak
        else say("measurement_ok", language)
    )
    reliability = rel.reset_index()
    reliability["construct"] = [_label(result, c, language) for c in reliability["construct"]]
    htmt = result.measurement.htmt.rename(
        index=lambda c: _label(result, c, language), columns=lambda c: _label(result, c, language)
    )
    fig = plots.heatmap(htmt, title="HTMT", language=language)
    return _section(
        "sec_measurement",
        language,
        paragraph(say("measurement_intro", language)),
        paragraph(verdict),
        _readers(reliability, language),
        figure(fig, "HTMT"),
    )


def structure(result: Any, language: str = "zh") -> Block:
    paths = result.paths()
    shown = paths.assign(
        source=[_label(result, s, language) for s in paths["source"]],
        target=[_label(result, t, language) for t in paths["target"]],
        f2_size=[str(say(f"f2_{size}", language)) if size else "" for size in paths["f2_size"]],
    )
    cb_notes = []
    if "cbsem_std" in shown.columns:  # the CB-SEM check's column: its method, or why it is left out
        if result.cbsem.admissible:
            method = cbsem_method(result.cbsem, language)
            cb_notes = [paragraph(say("structure_cbsem", language, method=method), "muted")]
        else:
            shown = shown.drop(columns="cbsem_std")
            cb_notes = [paragraph(say("structure_cbsem_bad", language), "muted")]
    r2 = result.pls.r2.rename("r2").rename_axis("construct").reset_index()
    r2["construct"] = [_label(result, c, language) for c in r2["construct"]]
    return _section(
        "sec_structure",
        language,
        paragraph(say("structure_intro", language, level=level_text(result.boot.ci))),
        figure(result.figure("path_diagram", language), say("sec_structure", language)),
        _readers(shown, language),
        *cb_notes,
        paragraph(say("f2_note", language), "muted"),
        _readers(r2, language),
        *_mediation(result, language),
        *_higher_order(result, language),
        *_moderations(result, language),
        *_prediction(result, language),
    )


MEDIATION_SHOWN = ["source", "via", "target", "estimate", "ci_lower", "ci_upper", "direct", "type"]


def mediation_table(result: Any, language: str) -> pd.DataFrame:
    """The report's mediation table: indirect effects through one mediator, labelled for readers."""
    table = result.mediation()
    single = table[~table["via"].str.contains("→", regex=False)] if len(table) else table
    return single[MEDIATION_SHOWN].assign(
        **{column: [_label(result, c, language) for c in single[column]]
           for column in ("source", "via", "target")},
        type=[str(say("med_" + t.replace("-", "_").replace(" ", "_"), language)) for t in single["type"]],
    ).reset_index(drop=True)


def _mediation(result: Any, language: str) -> list[Any]:
    table = mediation_table(result, language)
    if table.empty:
        return [heading(3, say("mediation_title", language)), paragraph(say("mediation_none", language))]
    return [heading(3, say("mediation_title", language)),
            paragraph(say("mediation_intro", language, level=level_text(result.boot.ci)), "muted"),
            _readers(table, language)]


HOC_SHOWN = ["component", "weight", "weight_lower", "weight_upper", "loading", "loading_lower",
             "loading_upper", "vif", "index"]
VIF_COLLINEAR = 5.0  # a formative block's weights are unstable from here (Hair et al. 2022)


def _higher_order(result: Any, language: str) -> list[Any]:
    """What forms each declared higher-order construct: a sentence, its components, their reliability."""
    declared = getattr(result, "declared_model", result.model)
    if not declared.higher_order:
        return []
    method = next(iter(declared.higher_order.values())).method
    modes = sorted({declared.modes[h] for h in declared.higher_order})
    mode_text = Markup("").join(say(f"hoc_mode_{m.lower()}", language) for m in modes)
    parts = [heading(3, say("hoc_title", language)),
             paragraph(say(f"hoc_intro_{method}", language, level=level_text(result.boot.ci),
                           mode_text=mode_text), "muted")]
    for hoc, rows in result.components().groupby("construct", sort=False):
        names = {c: _label(result, c, language) for c in rows["component"]}
        parts += _hoc_sentences(result, hoc, rows, names, declared.modes[hoc], language)
        shown = rows[HOC_SHOWN].assign(component=[names[c] for c in rows["component"]])
        parts.append(_readers(shown.dropna(axis=1, how="all"), language))
    if getattr(result, "first_stage", None) is not None:
        reliability = result.first_stage.reliability.loc[list(declared.components)].reset_index()
        shown = reliability.assign(construct=[_label(result, c, language) for c in reliability["construct"]])
        parts += [paragraph(say("hoc_reliability", language), "muted"), _readers(shown, language)]
    return parts


def _hoc_sentences(result: Any, hoc: str, rows: pd.DataFrame, names: dict[str, str], mode: str,
                   language: str) -> list[Any]:
    """The strongest component and the range of their indices; collinear or empty components."""
    kind = "weight" if rows["weight"].notna().any() else "loading"
    top = rows.loc[rows[kind].idxmax()]
    label, sep = _label(result, hoc, language), "、" if language == "zh" else ", "
    out = []
    by_index = rows.dropna(subset=["index"]).sort_values("index")
    if len(by_index):
        low, high = by_index.iloc[0], by_index.iloc[-1]
        out.append(paragraph(say(
            "hoc_sentence", language, hoc=label, n=len(rows), top=names[top["component"]],
            kind=say(f"hoc_kind_{kind}", language), value=num(top[kind], 3), lo=num(top[f"{kind}_lower"], 3),
            hi=num(top[f"{kind}_upper"], 3), low=num(low["index"]), low_name=names[low["component"]],
            high=num(high["index"]), high_name=names[high["component"]])))
    collinear = [names[c] for c, v in zip(rows["component"], rows["vif"], strict=True) if v >= VIF_COLLINEAR]
    if mode == "B" and collinear:
        out.append(paragraph(say("hoc_collinear", language, hoc=label, names=sep.join(collinear)), "note"))
    weights = zip(rows["component"], rows["weight"], rows["weight_lower"], strict=True)
    empty = [names[c] for c, w, lo in weights if w < 0 or lo <= 0]
    if empty:
        out.append(paragraph(say("hoc_negative", language, hoc=label, names=sep.join(empty)), "note"))
    return out


def _moderations(result: Any, language: str) -> list[Any]:
    if not result.moderation:
        return []
    parts = [heading(3, say("moderation_title", language)),
             paragraph(say("moderation_intro", language, level=level_text(result.boot.ci)), "muted")]
    for i, m in enumerate(result.moderation, start=1):
        row = m.paths.set_index("source").loc[m.interaction]
        moderator = (m.moderator_label[language == "en"] if m.moderator_label
                     else _label(result, m.moderator, language))
        names = {"x": _label(result, m.predictor, language), "m": moderator,
                 "y": _label(result, m.target, language)}
        key = "moderation_significant" if m.significant else "moderation_not_significant"
        slopes = m.slopes.set_index("moderator_sd")["slope"]
        parts.append(paragraph(say(key, language, **names, b=num(row["estimate"], 3),
                                   lo=num(row["ci_lower"], 3), hi=num(row["ci_upper"], 3),
                                   low=num(slopes[-1.0], 3), high=num(slopes[1.0], 3), f2=num(m.f2, 3))))
        if m.added_main_effect:
            parts.append(paragraph(say("moderation_added", language, **names), "muted"))
        shown = m.paths[["source", "estimate", "se", "ci_lower", "ci_upper"]].assign(
            source=[names["x"] + " × " + names["m"] if s == m.interaction else moderator if s == m.moderator
                    else _label(result, s, language) for s in m.paths["source"]])
        parts += [_readers(shown, language), _readers(m.slopes, language),
                  figure(result.figure(f"simple_slopes_{i}", language), say("moderation_title", language))]
    return parts


def prediction_sentence(result: Any, language: str) -> Markup | None:
    """Whether the model predicts the target out of sample better than the benchmark (summary)."""
    power = result.prediction_power()
    if power is None:
        return None
    key = {"no relevance": "pred_irrelevant"}.get(power.level, f"pred_{power.level}")
    return say(key, language, target=_label(result, power.construct, language), n=power.n_items,
               m=power.n_beating_lm, q2=num(power.q2_min, 3))


def _prediction(result: Any, language: str) -> list[Any]:
    prediction = result.prediction
    if prediction is None:
        return []
    items = prediction.summary()
    items = items[items["construct"] == result.target]
    shown = items[["item", "q2_predict", "rmse_pls", "rmse_lm", "mae_pls", "mae_lm", "pls_beats_lm"]]
    target = _label(result, result.target, language)
    return [heading(3, say("prediction_title", language)),
            paragraph(say("prediction_intro", language, k=prediction.k, r=prediction.repeats, target=target),
                      "muted"),
            paragraph(prediction_sentence(result, language)),
            _readers(shown.reset_index(drop=True), language),
            *_cvpat(result, language)]


def _p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"= {p:.3f}"


def _cvpat(result: Any, language: str) -> list[Any]:
    tested = result.cvpat
    if tested is None:
        return []
    table = tested.table
    verdicts = [say("cvpat_better" if r.p_value < 0.05 else "cvpat_not_better", language,
                    benchmark=say(f"cvpat_{r.benchmark.lower()}", language), p=_p(r.p_value))
                for r in table.itertuples()]
    shown = table[["benchmark", "loss_model", "loss_benchmark", "loss_difference", "t", "p_value"]].assign(
        benchmark=[str(say(f"cvpat_{b.lower()}", language)) for b in table["benchmark"]])
    return [paragraph(say("cvpat_intro", language, items=len(tested.items)), "muted"),
            paragraph(say("cvpat_sentence", language, verdicts=say("cvpat_join", language).join(verdicts))),
            _readers(shown, language)]


def cbsem(result: Any, language: str = "zh") -> Block:
    cb = result.cbsem
    if cb is None:
        return _section("sec_cbsem", language, paragraph(say("cbsem_none", language)))
    if not cb.admissible:
        return _section("sec_cbsem", language, paragraph(say("cbsem_bad", language), "note"),
                        paragraph(cbsem_method(cb, language), "muted"))
    fit = cb.fit_indices.rename("value").rename_axis("measure").reset_index()
    fit["measure"] = [FIT_NAMES.get(m, (m, m))[language != "zh"] for m in fit["measure"]]
    return _section("sec_cbsem", language, paragraph(say("cbsem_ok", language)),
                    paragraph(cbsem_method(cb, language), "muted"), _readers(fit, language))


def cbsem_method(cb: Any, language: str) -> Markup:
    """Which estimator, which data and which standard errors stand behind the CB-SEM tables."""
    sample = cb.sample
    if cb.estimator == "FIML":
        key = "cbsem_method_fiml"
    elif sample.n_imputed and sample.missing == "em":
        key = "cbsem_method_ml_em"
    elif sample.n_imputed and sample.missing == "mean":
        key = "cbsem_method_ml_mean"
    else:
        key = "cbsem_method_ml"
    parts = [say(key, language, n=sample.n, imputed=sample.n_imputed,
                 information=say(f"cbsem_info_{cb.options.get('information', 'expected')}", language))]
    if sample.weighted:
        parts.append(say("cbsem_method_weighted", language))
    return Markup("" if language == "zh" else " ").join(parts)  # Chinese sentences are not spaced


def indices(result: Any, language: str = "zh") -> Block:
    """The index tables (ACSI and grade-score); the notebook's reproducibility contract.

    No figure here: nbval compares this block's HTML, and a PNG's bytes depend on the machine's
    font rendering; :func:`index_figure` shows the chart.
    """
    table_ = result.indices.reset_index()
    shown = table_.assign(construct=[_label(result, c, language) for c in table_["construct"]])
    shown = shown.drop(columns=["label_zh", "label_en"], errors="ignore")
    grade = result.grade_index[result.grade_index["level"].isin(["overall", "construct"])]
    grade = grade.assign(
        node=[_node_label(result, c, language) for c in grade["node"]],
        level=[LEVEL_NAMES.get(v, (v, v))[language != "zh"] for v in grade["level"]],
    )
    grade = grade.drop(columns=["parent"], errors="ignore")
    contract = result.indices[["index", "ci_lower", "ci_upper"]].round(1).to_string()
    return Block(
        join(
            [
                heading(2, say("sec_indices", language)),
                paragraph(
                    say(
                        "indices_intro",
                        language,
                        level=level_text(result.boot.ci),
                        label=_label(result, result.target, language),
                    )
                ),
                _readers(shown, language),
                heading(3, say("grade_caption", language)),
                _readers(grade, language),
            ]
        ),
        contract,
        language=language,
    )


def index_figure(result: Any, language: str = "zh") -> Block:
    png = result.figure("indices", language)
    return Block(figure(png, say("sec_indices", language)), "[figure: indices]", language=language)


def weak_links(result: Any, language: str = "zh") -> Block:
    from csi_research.stats.ipma import describe_priorities, lowest_performers_note

    ipma = result.ipma
    target = _label(result, ipma.target, language)
    priorities = ipma.priorities.head(10)
    zh = language == "zh"
    shown = priorities[
        [
            "rank",
            "subindicator_zh" if zh else "subindicator_en",
            "label_zh" if zh else "label_en",
            "item",
            "importance",
            "performance",
            "potential_gain",
        ]
    ]
    context = ipma.context[["item", "label_zh" if zh else "label_en", "performance"]]
    constructs = ipma.constructs.assign(
        construct=[_label(result, c, language) for c in ipma.constructs["construct"]]
    )
    constructs = constructs[["construct", "importance", "performance", "potential_gain"]]
    return _section(
        "sec_weak",
        language,
        paragraph(say("weak_intro", language, target=target)),
        bullets(describe_priorities(ipma, language, TOP)),
        paragraph(lowest_performers_note(ipma, language)),
        _readers(shown, language),
        heading(3, say("context_title", language)),
        _readers(context, language),
        paragraph(say("ipma_constructs", language, target=target), "muted"),
        figure(result.figure("ipma", language), say("sec_weak", language)),
        _readers(constructs, language),
    )


def segments(result: Any, language: str = "zh") -> Block:
    table_ = result.segments
    if table_.empty:
        return _section("sec_segments", language, paragraph(say("segments_none", language)))
    keys = ["attribute", "segment"]
    wide = table_.pivot_table(index=keys, columns="construct", values="index", observed=True, sort=False)
    wide = wide.rename(columns=lambda c: _label(result, c, language))
    n = table_.groupby(keys, observed=True, sort=False)["n"].first()
    small = table_.groupby(keys, observed=True, sort=False)["small"].first()
    wide.insert(0, "n", n)
    wide.insert(1, "small", small)
    wide = wide.reset_index()
    wide["segment"] = [
        _category_label(result, a, s, language)
        for a, s in zip(wide["attribute"], wide["segment"], strict=True)
    ]
    wide["attribute"] = [_attribute_label(result, a, language) for a in wide["attribute"]]
    formatted = reader_table(wide, language)
    for c in wide.columns[4:]:
        formatted[c] = [num(v) if pd.notna(v) else "–" for v in wide[c]]
    return _section("sec_segments", language, paragraph(say("segments_intro", language)), table(formatted))


def _attribute(result: Any, attribute: str) -> Any:
    book = result.survey.codebook
    attributes = getattr(book, "attributes", None) or {}
    found = (
        attributes.get(attribute)
        if isinstance(attributes, dict)
        else next((a for a in attributes if a.id == attribute), None)
    )
    return found


def _attribute_label(result: Any, attribute: str, language: str) -> str:
    a = _attribute(result, attribute)
    return ((a.label_zh if language == "zh" else a.label_en) or attribute) if a is not None else attribute


def _category_label(result: Any, attribute: str, segment: str, language: str) -> str:
    a = _attribute(result, attribute)
    labels = a.categories.get(str(segment)) if a is not None else None
    return (labels[0] if language == "zh" else labels[1]) if labels else str(segment)


def change(result: Any, change_table: pd.DataFrame | None, language: str = "zh") -> Block:
    if change_table is None or change_table.empty:
        return _section("sec_change", language, paragraph(say("change_none", language)))
    row = _change_row(result, change_table)
    shown = change_table.assign(construct=[_label(result, c, language) for c in change_table["construct"]])
    shown = shown[
        ["construct", "before", "now", "difference", "ci_lower", "ci_upper", "level", "significant"]
    ]
    parts = [paragraph(say("change_intro", language, wave=change_table["from_wave"].iloc[0]))]
    if row is not None:
        parts.append(paragraph(_change_sentence(row, language)))
    parts.append(_readers(shown, language))
    return _section("sec_change", language, *parts)


# ---------------------------------------------------------------------------- appendices
def records(result: Any, language: str = "zh") -> Block:
    """What the service records (95598 work orders) say about dissatisfaction, overall and for
    high-value customers: the drivers ranked, and the Pareto of critical-to-satisfaction events."""
    analysis = result.records
    if analysis is None:
        return _section("sec_records", language, paragraph(say("records_none", language)))
    zh = language == "zh"
    segments = analysis.segments.set_index("segment")
    parts: list[Any] = [paragraph(say("records_intro", language, threshold=num(result.config.index_target, 0),
                                      high_value=_high_value_text(analysis.definitions["high_value"], zh)))]
    lines = []
    for segment in segments.index:
        ranked = analysis.ranking[analysis.ranking["segment"] == segment].sort_values("rank")
        harmful = ranked[ranked["direction"] == "raises"].head(3)
        if harmful.empty:
            continue
        drivers = ("、" if zh else ", ").join(
            f"{r.label_zh}（每增加 1 个标准差，不满意的几率 ×{num(r.odds_ratio_per_sd, 2)}）" if zh else
            f"{r.label_en} (odds of dissatisfaction ×{num(r.odds_ratio_per_sd, 2)} per SD)"
            for r in harmful.itertuples())
        vital = analysis.pareto[(analysis.pareto["segment"] == segment) & analysis.pareto["vital_few"]]
        few = ("、" if zh else ", ").join(vital["label_zh" if zh else "label_en"])
        lines.append(say("records_line", language, segment=_segment_name(segment, zh),
                         n=int(segments.at[segment, "customers"]),
                         share=f"{segments.at[segment, 'share_dissatisfied'] * 100:.0f}%",
                         drivers=drivers, few=few or "–"))
    parts.append(bullets(lines))
    from csi_research.records import plot_pareto

    for segment in segments.index:
        fig = plot_pareto(analysis, segment=segment, language=language)
        parts.append(figure(fig, _segment_name(segment, zh)))
    shown = analysis.ranking[analysis.ranking["rank"] <= 5].assign(
        segment=[_segment_name(v, zh) for v in analysis.ranking["segment"][analysis.ranking["rank"] <= 5]])
    shown = shown.assign(service_event=shown["label_zh" if zh else "label_en"])[
        ["segment", "rank", "service_event", "odds_ratio_per_sd", "importance_mean"]]
    parts += [heading(3, say("records_table", language)), _readers(shown, language)]
    return _section("sec_records", language, *parts)


def _segment_name(segment: str, zh: bool) -> str:
    names = {"all": ("全部受访客户", "all respondents"), "high_value": ("高价值客户", "high-value customers")}
    return names.get(segment, (segment, segment))[0 if zh else 1]


def _high_value_text(definition: str, zh: bool) -> str:
    """The high-value definition of the driver analysis, in the report's language."""
    classes = {"industrial": "工业", "commercial": "商业", "residential": "居民"}
    if definition.startswith("customer_class in {"):
        names = [c.strip() for c in definition[19:-1].split(",")]
        if not zh:
            return f"{' or '.join(names)} customers (customer_class)"
        return "客户类别为" + "或".join(classes.get(c, c) for c in names) + "的客户"
    if not zh:
        return definition
    if definition.startswith("top "):
        return "用电量最高的前 20% 客户（" + definition + "）"
    return definition


def industry(result: Any, language: str = "zh") -> Block:
    ind = result.industry
    if ind is None:
        return _section("appendix_industry", language, paragraph(say("industry_none", language)))
    zh = language == "zh"
    fuzzy = ind.fuzzy
    root = fuzzy.table.iloc[0]
    grade = root.get("grade_label_zh" if zh else "grade_label_en", "")
    method = METHOD_NAMES.get(ind.spec["weighting"], (ind.spec["weighting"],) * 2)[not zh]
    operator = METHOD_NAMES.get(ind.spec["operator"], (ind.spec["operator"],) * 2)[not zh]
    lines = [
        say("weighting", language, method=method, alpha=ind.spec["alpha"]),
        say("fuzzy_sentence", language, operator=operator, score=num(fuzzy.score), grade=grade),
    ]
    if ind.anp is not None:
        lines.insert(1, say("weighting_anp", language))
    alpha = root.get("max_validity")
    max_label = root.get("max_grade_label_zh" if zh else "max_grade_label_en", "")
    if alpha is not None and pd.notna(alpha):
        key = (
            "fuzzy_max_weak"
            if not max_label
            else "fuzzy_max_same"
            if max_label == grade
            else "fuzzy_max_differs"
        )
        lines.append(say(key, language, grade=max_label, alpha=num(alpha, 2)))
    weights = ind.weights
    weights = weights[weights["level"] <= 3]
    weights = weights.assign(node=[_node_label(result, n, language) for n in weights["node"]])
    weights = weights[["level", "node", "local_weight", "global_weight", "cr"]]
    members = fuzzy.summary(language)["evaluation"]
    members = members[members["level"] <= 2].reset_index()
    members["node"] = [_node_label(result, n, language) for n in members["node"]]
    members = members.drop(columns=[c for c in ("parent", "local_weight") if c in members.columns])
    parts = [
        bullets(lines),
        heading(3, say("weights_caption", language)),
        _readers(weights, language),
        heading(3, say("fuzzy_caption", language)),
        _readers(members, language),
    ]
    if ind.anp is not None:
        parts += _anp_parts(result, ind.anp, language)
    if ind.methods is not None:
        parts += _method_parts(result, ind.methods, language)
    if _internal_scores(result) is not None:
        parts += [heading(3, say("kpi_caption", language)), table(kpi_table(result, language))]
    return _section("appendix_industry", language, *parts)


def _anp_parts(result: Any, network: Any, language: str) -> list[Any]:
    """The top level's ANP weights: the limit supermatrix of the indicators' mutual influence."""
    weights = network.weights[network.weights["evaluated"]]
    shown = pd.DataFrame({"node": [_node_label(result, n, language) for n in weights["element"]],
                          "weight": weights["weight"].to_numpy()})
    comparisons = network.comparisons
    worst = float(comparisons["cr"].max()) if comparisons["cr"].notna().any() else 0.0
    text = say("anp_sentence", language, k=len(comparisons), cr=num(worst, 3),
               period=network.period)
    return [heading(3, say("anp_caption", language)), paragraph(text), _readers(shown, language)]


def _method_parts(result: Any, methods: Any, language: str) -> list[Any]:
    """Fuzzy grade, set pair connection degree and the ACSI-style index of the top nodes, side by side."""
    zh = language == "zh"
    label = "grade_label_zh" if zh else "grade_label_en"
    table_ = methods.table[methods.table["level"] <= 2]
    rows = []
    for node, part in table_.groupby("node", sort=False):
        by = part.set_index("method")
        rows.append({"node": _node_label(result, node, language),
                     "fuzzy": by.at["fuzzy", "value"], "fuzzy_grade": by.at["fuzzy", label],
                     "set_pair": by.at["set_pair", "value"], "set_pair_grade": by.at["set_pair", label],
                     "acsi": by.at["acsi", "value"], "acsi_grade": by.at["acsi", label]})
    shown = pd.DataFrame(rows)
    root = shown.iloc[0]
    grades = {root["fuzzy_grade"], root["set_pair_grade"], root["acsi_grade"]}
    key = "methods_agree" if len(grades) == 1 else "methods_differ"
    text = say(key, language, fuzzy=root["fuzzy_grade"], spa=root["set_pair_grade"], acsi=root["acsi_grade"],
               mu=num(root["set_pair"], 3))
    kinds = {"fuzzy": "index", "set_pair": "coefficient", "acsi": "index"}
    return [heading(3, say("methods_caption", language)), paragraph(say("spa_method", language)),
            paragraph(text), table(reader_table(shown, language, kinds=kinds))]


def _node_label(result: Any, node: str, language: str) -> str:
    if node in result.model.labels:
        return _label(result, node, language)
    book = result.survey.codebook
    sub = getattr(book, "subindicators", {}).get(node) if book is not None else None
    if sub is not None:
        return sub.label_zh if language == "zh" else sub.label_en
    if node in ("CSI", "overall"):
        return "综合满意度" if language == "zh" else "Overall CSI"
    return str(node)


def diagnostics(result: Any, language: str = "zh") -> Block:
    nodes = [] if result.industry is None else list(dict.fromkeys(result.industry.weights["node"]))
    names = {node: _node_label(result, node, language) for node in [*result.model.constructs, *nodes]}
    return diagnostics_section(result.diagnostics, language, names=names)


def diagnostics_section(messages: Any, language: str = "zh", key: str = "appendix_diagnostics",
                        names: Mapping[str, str] | None = None) -> Block:
    """Messages once each, translated and grouped by category under the heading ``key``.

    ``names``: labels for the keys of the study's constructs and evaluation nodes (Chinese lines).
    """
    from csi_research.render.messages import group

    groups = group(list(messages), language, names)
    if not groups:
        return _section(key, language, paragraph(say("diagnostics_none", language)))
    parts = []
    for name, found in groups:
        parts += [heading(3, name), bullets(found)]
    return _section(key, language, *parts)
