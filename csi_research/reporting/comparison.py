"""The cross-region report: rankings within each wave, the construct × region map, which
differences are real (one adjustment for intervals and verdicts), and the change between waves."""

from __future__ import annotations

from typing import Any

from csi_research import plots
from csi_research.model import DEFAULT_LABELS
from csi_research.options import level_text
from csi_research.reporting.headers import reader_table
from csi_research.reporting.html import Block, bullets, figure, heading, join, paragraph, table
from csi_research.reporting.wording import check_language, num, say, signed


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


def ranking_figures(comparison: Any, language: str = "zh") -> Block:
    figures = []
    for wave, part in comparison.ranking.groupby("wave", sort=True):
        fig = plots.index_bars(part, x="region", threshold=target(comparison), language=language)
        figures.append(figure(fig, f"{wave}"))
    return Block(join(figures), "[figures: rankings]", language=language)


def heatmap(comparison: Any, language: str = "zh") -> Block:
    goal = target(comparison)
    indices = comparison.indices.rename(
        index=lambda c: DEFAULT_LABELS.get(c, (c, c))[0 if language == "zh" else 1]
    )
    caption = say("cmp_heatmap", language, target=f"{goal:g}")
    fig = plots.heatmap(indices, title=caption.unescape(), fmt=".1f", center=goal, language=language)
    return Block(figure(fig, caption.unescape()), "[figure: heatmap]", language=language)


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
