"""The cross-region report: rankings within each wave, the construct × region map, which
differences are real (one adjustment for intervals and verdicts), and the change between waves."""

from __future__ import annotations

from typing import Any

import pandas as pd

from csi_research.core.options import level_text
from csi_research.model import DEFAULT_LABELS
from csi_research.render import plots
from csi_research.render.headers import reader_table
from csi_research.render.html import Block, bullets, figure, heading, join, paragraph, table
from csi_research.render.wording import check_language, num, say, signed


def target(comparison: Any) -> float:
    """The index target the studies share (the first study's when they differ)."""
    return float(comparison.bundles[0].results["values"].get("index_target", 80.0))


def _construct(comparison: Any, language: str) -> str:
    zh, en = DEFAULT_LABELS.get(comparison.construct, (comparison.construct, comparison.construct))
    return zh if language == "zh" else en


def summary(comparison: Any, language: str = "zh") -> Block:
    check_language(language)
    ranking = comparison.ranking
    title = say("comparison_title", language).unescape()
    parts: list[Any] = [heading(1, title)]
    if comparison.synthetic:
        parts.append(paragraph(say("synthetic", language), "note"))
    parts.append(
        paragraph(
            say(
                "cmp_intro",
                language,
                k=len(comparison.bundles),
                regions=len({b.region for b in comparison.bundles}),
                waves=ranking["wave"].nunique(),
            )
        )
    )
    lines = []
    for wave, part in ranking.groupby("wave", sort=True):
        top, bottom = part.iloc[0], part.iloc[-1]
        if len(part) == 1:
            lines.append(say("cmp_single", language, wave=wave, top=top["region"], top_v=num(top["index"])))
            continue
        lines.append(
            say(
                "cmp_top",
                language,
                wave=wave,
                top=top["region"],
                top_v=num(top["index"]),
                bottom=bottom["region"],
                bottom_v=num(bottom["index"]),
            )
        )
    parts.append(bullets(lines))
    return Block(join(parts), title, title=title, language=language)


def ranking(comparison: Any, language: str = "zh") -> Block:
    """Rankings within each wave: the tables are the notebook's reproducibility contract."""
    table_ = comparison.ranking
    level = level_text(comparison.ci)
    parts: list[Any] = [
        heading(2, say("cmp_ranking", language, construct=_construct(comparison, language))),
        paragraph(say("cmp_ranking_intro", language, level=level)),
    ]
    for wave, part in table_.groupby("wave", sort=True):
        parts += [heading(3, str(wave)), table(reader_table(part.drop(columns="wave"), language))]
    text = table_.round({"index": 1, "ci_lower": 1, "ci_upper": 1}).to_string(index=False)
    return Block(join(parts), text, language=language)


RANKING_BARS = 12  # regions a wave's bar chart shows legibly (0.9 inch each); beyond, one line per region


def ranking_figures(comparison: Any, language: str = "zh") -> Block:
    """Each wave's ranking: bars for a few regions; for many, a dot plot with intervals, one line per
    region, unless the national section below draws that very plot (by province) for the wave."""
    from csi_research.programme.rollup import ranking_plot

    national = comparison.national or {}
    shown_below = set(national["ranking"]["wave"].astype(str)) if "ranking" in national else set()
    figures = []
    for wave, part in comparison.ranking.groupby("wave", sort=True):
        if len(part) <= RANKING_BARS:
            fig = plots.index_bars(part, x="region", threshold=target(comparison), language=language)
        elif str(wave) in shown_below:
            figures.append(paragraph(say("cmp_ranking_below", language, wave=wave, n=len(part))))
            continue
        else:
            fig = ranking_plot(part.rename(columns={"region": "name", "level": "ci"}), wave=str(wave),
                               language=language, threshold=target(comparison))
        figures.append(figure(fig, f"{wave}"))
    return Block(join(figures), "[figures: rankings]", language=language)


HEATMAP_COLUMNS = 40  # region-waves the construct × region heatmap shows; beyond, the tables hold them


def heatmap(comparison: Any, language: str = "zh") -> Block:
    goal = target(comparison)
    indices = comparison.indices.rename(
        index=lambda c: DEFAULT_LABELS.get(c, (c, c))[0 if language == "zh" else 1]
    )
    caption = say("cmp_heatmap", language, target=f"{goal:g}")
    if indices.shape[1] > HEATMAP_COLUMNS:  # a figure hundreds of inches wide helps no one
        note = say("cmp_heatmap_many", language, n=indices.shape[1], most=HEATMAP_COLUMNS)
        return Block(paragraph(note), "[heatmap: too many regions]", language=language)
    fig = plots.heatmap(indices, title=caption.unescape(), fmt=".1f", center=goal, language=language)
    return Block(figure(fig, caption.unescape()), "[figure: heatmap]", language=language)


# Waves of more regions than this get the count of real differences, not every pair: 13 regions
# are 78 pairs already; the ranking with rank intervals is the readable comparison at that size.
PAIRS_LISTED = 12


def pairwise(comparison: Any, language: str = "zh") -> Block:
    pairs = comparison.pairwise
    parts: list[Any] = [heading(2, say("cmp_pairs", language))]
    if pairs.empty:
        return Block(join([*parts, paragraph(say("cmp_pairs_none", language))]), language=language)
    for wave, part in pairs.groupby("wave", sort=True):
        m = len(part)
        parts += [
            heading(3, str(wave)),
            paragraph(
                say(
                    "cmp_pairs_intro",
                    language,
                    m=m,
                    adjusted=f"{float(part['adjusted_level'].iloc[0]) * 100:.4g}%",
                )
            ),
        ]
        real = part[part["distinguishable"]]
        if len(set(part["region_a"]) | set(part["region_b"])) > PAIRS_LISTED:  # counted, not listed
            parts.append(paragraph(say("cmp_pairs_many", language, k=len(real), m=m, regions=PAIRS_LISTED)))
            continue
        if real.empty:
            parts.append(paragraph(say("cmp_pairs_noreal", language)))
        else:
            sep = "；" if language == "zh" else "; "
            listed = sep.join(
                f"{r.region_a} − {r.region_b}: {signed(r.difference)}" for r in real.itertuples()
            )
            parts.append(paragraph(say("cmp_pairs_real", language, k=len(real), m=m, pairs=listed)))
        shown = part.drop(columns=[c for c in ("wave",) if c in part.columns])
        parts.append(table(reader_table(shown, language)))
    return Block(join(parts), language=language)


def waves(comparison: Any, language: str = "zh") -> Block:
    table_ = comparison.waves
    parts: list[Any] = [heading(2, say("cmp_waves", language))]
    if table_.empty:
        return Block(join([*parts, paragraph(say("cmp_waves_none", language))]), language=language)
    rows = table_[table_["construct"] == comparison.construct]
    lines = [
        say(
            "cmp_wave_line",
            language,
            region=r.region,
            a=r.from_wave,
            b=r.to_wave,
            construct=_construct(comparison, language),
            diff=signed(r.difference),
            level=level_text(float(r.level)),
            lo=signed(r.ci_lower),
            hi=signed(r.ci_upper),
            verdict=say("change_real" if r.significant else "change_noise", language),
        )
        for r in rows.itertuples()
    ]
    shown = table_.assign(
        construct=[DEFAULT_LABELS.get(c, (c, c))[0 if language == "zh" else 1] for c in table_["construct"]]
    )
    return Block(join([*parts, bullets(lines), table(reader_table(shown, language))]), language=language)


def _cbsem_kind(row: Any) -> str:
    """The wording key of one study's CB-SEM method (as the regional report's method sentence)."""
    if row.estimator == "FIML":
        return "cmp_cbsem_fiml"
    if row.n_imputed and row.missing in ("em", "mean"):
        return f"cmp_cbsem_ml_{row.missing}"
    return "cmp_cbsem_ml"


def cbsem(comparison: Any, language: str = "zh") -> Block:
    """Which estimator and standard errors stand behind each region's CB-SEM check, and its fit."""
    table_ = comparison.cbsem
    parts: list[Any] = [heading(2, say("cmp_cbsem", language))]
    if table_ is None or table_.empty:
        return Block(join([*parts, paragraph(say("cmp_cbsem_none", language))]), language=language)
    sep = "、" if language == "zh" else ", "

    def regions(rows: pd.DataFrame) -> str:
        return sep.join(f"{r.region} {r.wave}" for r in rows.itertuples())

    def info(value: str) -> str:
        return say(f"cbsem_info_{value}", language).unescape()

    kinds = table_.apply(_cbsem_kind, axis=1)
    lines = [say(key, language, regions=regions(rows), information=info(information))
             for (key, information), rows in table_.groupby([kinds, table_["information"]], sort=True)]
    for key, rows in (("cmp_cbsem_weighted", table_[table_["weighted"]]),
                      ("cmp_cbsem_bad", table_[~table_["admissible"]])):
        if len(rows):
            lines.append(say(key, language, regions=regions(rows)))
    # the page shows what tells the regions apart; weights and missing-data treatment are in the lines
    # above, TLI beside CFI in cbsem.csv
    shown = table_.assign(information=[info(v) for v in table_["information"]])
    shown = shown.drop(columns=["missing", "weighted", "tli"])
    return Block(join([*parts, paragraph(say("cmp_cbsem_intro", language)), bullets(lines),
                       table(reader_table(shown, language))]), language=language)


_INVARIANCE = {"full": ("完全不变", "full"), "partial": ("部分不变", "partial"), "no": ("不具备", "none")}


def comparable(comparability: Any, language: str = "zh") -> Block:
    """Whether each pair's indices are built alike (MICOM step 2), said beside the ranking."""
    parts: list[Any] = [heading(2, say("cmp_comparable", language))]
    verdicts = comparability.verdicts
    if verdicts.empty:
        return Block(join([*parts, paragraph(say("cmp_comparable_none", language))]), language=language)
    parts.append(paragraph(say("cmp_comparable_intro", language, n_perm=comparability.n_perm)))
    lines = []
    for (scope, unit), part in verdicts.groupby(["scope", "unit"], sort=False):
        where = _unit(scope, unit, language)
        failing = part[part["not_comparable"] != ""]
        if failing.empty:
            lines.append(say("cmp_comparable_all", language, unit=where, m=len(part)))
        for r in failing.itertuples():
            constructs = _labels(r.not_comparable.split(", "), language)
            lines.append(say("cmp_comparable_not", language, unit=where, a=r.group_a, b=r.group_b,
                             constructs=constructs))
    shown = verdicts.assign(
        unit=[_unit(s, u, language) for s, u in zip(verdicts["scope"], verdicts["unit"], strict=True)],
        invariance=[_INVARIANCE[v][0 if language == "zh" else 1] for v in verdicts["invariance"]],
        not_comparable=[_labels(v.split(", "), language) if v else "" for v in verdicts["not_comparable"]],
    ).drop(columns=["scope", "reason"])
    text = verdicts.drop(columns="reason").to_string(index=False)
    html = join([*parts, bullets(lines), table(reader_table(shown, language))])
    return Block(html, text, language=language)


def drivers(comparability: Any, language: str = "zh") -> Block:
    """Which structural paths differ between the compared regions (or waves), Holm-adjusted."""
    parts: list[Any] = [heading(2, say("cmp_drivers", language))]
    mga = comparability.mga
    if mga.empty:
        return Block(join([*parts, paragraph(say("cmp_comparable_none", language))]), language=language)
    parts.append(paragraph(say("cmp_drivers_intro", language, n_perm=comparability.n_perm)))
    lines = []
    for (scope, unit), part in mga.groupby(["scope", "unit"], sort=False):
        where = _unit(scope, unit, language)
        real = part[part["significant"].astype(bool)]
        if real.empty:
            lines.append(say("cmp_drivers_none", language, unit=where))
        for r in real.itertuples():
            lines.append(say("cmp_drivers_line", language, unit=where, a=r.group_a, b=r.group_b,
                             source=_labels([r.source], language), target=_labels([r.target], language),
                             ea=num(r.estimate_a, 3), eb=num(r.estimate_b, 3), p=f"{r.p_adjusted:.3f}"))
    parts.append(bullets(lines))
    real = mga[mga["significant"].astype(bool)]
    if not real.empty:
        shown = real.assign(
            unit=[_unit(s, u, language) for s, u in zip(real["scope"], real["unit"], strict=True)],
            source=[_labels([c], language) for c in real["source"]],
            target=[_labels([c], language) for c in real["target"]],
        ).drop(columns=["scope", "significant"])
        parts.append(table(reader_table(shown, language, kinds={"difference": "coefficient"})))
    text = mga[mga["significant"].astype(bool)].to_string(index=False) if len(real) else "no path differs"
    return Block(join(parts), text, language=language)


def rollup(tables: Any, construct: str, language: str = "zh") -> Block:
    """Provincial and national indices of ``construct``, and the regions missing from a wave."""
    parts: list[Any] = [heading(2, say("cmp_rollup", language))]
    aggregate = tables.get("rollup") if tables else None
    if aggregate is None or aggregate.empty:
        return Block(join([*parts, paragraph(say("cmp_rollup_none", language))]), language=language)
    rows = aggregate[aggregate["construct"] == construct]
    basis = "客户数" if language == "zh" else "customer count"
    parts.append(paragraph(say("cmp_rollup_intro", language, basis=basis,
                               level=level_text(float(rows["ci"].iloc[0])))))
    shown = rows[["level", "unit", "wave", "index", "ci_lower", "ci_upper", "n_regions", "coverage"]]
    shown = shown.assign(level=[_LEVELS[v][0 if language == "zh" else 1] for v in shown["level"]])
    parts.append(table(reader_table(shown, language)))
    parts += _headline_rollup(tables.get("headline"), language)
    missing = tables.get("missing")
    if missing is not None and not missing.empty:
        parts += [paragraph(say("cmp_rollup_missing", language)),
                  table(reader_table(_missing_by_province(missing, language), language))]
    text = rows[["level", "unit", "wave", "index", "ci_lower", "ci_upper"]].round(1).to_string(index=False)
    return Block(join(parts), text, language=language)


def _headline_rollup(headline: pd.DataFrame | None, language: str) -> list[Any]:
    """The provinces' and the nation's headline figures, customer-weighted, with their intervals."""
    if headline is None or headline.empty:
        return []
    shown = headline[["level", "unit", "wave", "figure", "value", "ci_lower", "ci_upper", "n_regions",
                      "coverage"]]
    shown = shown.assign(level=[_LEVELS[v][0 if language == "zh" else 1] for v in shown["level"]],
                         figure=[str(say(f"headline_{f}", language)) for f in shown["figure"]])
    kinds = dict.fromkeys(("value", "ci_lower", "ci_upper"), "index")
    return [heading(3, say("cmp_headline", language)),
            paragraph(say("cmp_headline_intro", language, level=level_text(float(headline["ci"].iloc[0])))),
            table(reader_table(shown, language, kinds=kinds))]


MISSING_NAMED = 8  # regions named per province and wave; the rest are counted (national_missing lists all)


def _missing_by_province(missing: pd.DataFrame, language: str) -> pd.DataFrame:
    """One row per wave and province: how many regions lack a result, naming the first few.

    A national programme can miss hundreds of regions in a wave (new ones not yet surveyed), so
    a row per region would bury the roll-up; the full list is the national_missing table.
    """
    zh = language == "zh"
    name, province = ("region_zh", "province") if zh else ("region_en", "province_en")
    rows = []
    for (wave, place), part in missing.groupby(["wave", province], sort=True):
        names = list(part[name])
        shown = ("、" if zh else ", ").join(names[:MISSING_NAMED])
        if len(names) > MISSING_NAMED:
            shown += f" 等 {len(names)} 个" if zh else f" and {len(names) - MISSING_NAMED} more"
        rows.append({"wave": wave, "province": place, "n_missing": len(names), "missing_regions": shown})
    return pd.DataFrame(rows, columns=["wave", "province", "n_missing", "missing_regions"])


def rollup_figures(tables: Any, language: str = "zh") -> Block:
    from csi_research.programme.rollup import national_figures

    if not tables or tables["rollup"].empty:
        return Block("", "", language=language)
    figures = [fig for wave in dict.fromkeys(tables["ranking"]["wave"])
               for fig in national_figures(tables, language, wave=wave).values()]
    return Block(join([figure(fig, "") for fig in figures]), "[figures: roll-up]", language=language)


_LEVELS = {"province": ("省级", "province"), "city": ("市级", "city"), "county": ("县级", "county"),
           "nation": ("全国", "nation")}


def _unit(scope: str, unit: str, language: str) -> str:
    if scope == "wave":
        return f"{unit} 年度" if language == "zh" else f"wave {unit}"
    return f"{unit}（跨年度）" if language == "zh" else f"{unit} (across waves)"


def _labels(constructs: Any, language: str) -> str:
    names = [DEFAULT_LABELS.get(c, (c, c))[0 if language == "zh" else 1] for c in constructs]
    return ("、" if language == "zh" else ", ").join(names)


def diagnostics(comparison: Any, language: str = "zh") -> Block:
    """The comparison's notes (adjusted intervals on few draws, regions missing from a roll-up...)."""
    from csi_research.reporting.regional import diagnostics_section

    return diagnostics_section(comparison.diagnostics, language, key="cmp_diagnostics")
