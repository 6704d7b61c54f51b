"""The reports as readers get them: both languages, clean outputs, escaped user text, the change
since the previous wave, the page title — checked on a real batch of executed notebooks."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import nbformat
import pytest

from csi_research.data.simulate import simulate_survey
from csi_research.reporting import regional
from csi_research.run.batch import run_batch
from csi_research.study.pipeline import run_study

PAYLOAD = "<script>alert('x')</script>"
STUDY = """\
region: {{id: {region}, name_zh: "{name_zh}", name_en: "{name_en}"}}
wave: {wave}
synthetic: true
data: survey.csv
description: "{description}"
bootstrap: {{n_boot: 300, quick_n_boot: 150}}
seed: {seed}
segments: [customer_class]
industry_evaluation: default
internal_indicators: default
"""
# what a report must never show: errors, warnings, text reprs of figures, missing glyphs
FORBIDDEN = ("Traceback", "Warning", "<Figure", "Glyph", "missing from font", "\ufffd", "□")
CJK = re.compile(r"[\u4e00-\u9fff]")


def make_study(root: Path, name: str, wave: int, seed: int, **text: str) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    simulate_survey("donggang", n=260, seed=seed, wave=wave).to_csv(folder / "survey.csv")
    fields = {
        "name_zh": "东港（虚构）",
        "name_en": "Donggang (fictional)",
        "description": "Test study.",
        **text,
    }
    (folder / "study.yaml").write_text(
        STUDY.format(region="donggang", wave=wave, seed=seed, **fields), encoding="utf-8"
    )
    return folder


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    root = tmp_path_factory.mktemp("reports") / "studies"
    make_study(root, "donggang-2025", 2025, 11)
    make_study(
        root,
        "donggang-2026",
        2026,
        12,
        name_zh=f"东港{PAYLOAD}",
        name_en=f"Donggang {PAYLOAD}",
        description=f"Harbour city {PAYLOAD} & <b>bold</b>",
    )
    result = run_batch(root, quick=True, progress=False, language="both", workers=2)
    assert result.ok, result.summary().to_string()
    return root, result


def _reports(root: Path) -> list[Path]:
    return sorted(root.glob("*/output/*/report.*.html"))


def test_every_study_has_a_report_per_language(batch):
    root, result = batch
    for run in [*result.studies, result.comparison]:
        assert [p.name for p in run.reports] == ["report.zh.html", "report.en.html"]
        assert all(p.exists() for p in run.reports)
    # one bundle per study, saved by the first language's run only
    assert len(list(root.glob("*/output/*/bundle/results.json"))) == 2


def test_the_bundle_saves_the_figures_its_report_shows_rendered_once(batch):
    """The bundle is saved by the first language's run, with that report's figures, byte for byte."""
    root, _ = batch
    folders = [p.parents[1] for p in root.glob("*/output/*/bundle/results.json")]
    assert len(folders) == 2
    for folder in folders:
        zh = (folder / "report.zh.html").read_text(encoding="utf-8")
        en = (folder / "report.en.html").read_text(encoding="utf-8")
        pngs = sorted((folder / "bundle" / "figures").glob("*.png"))
        assert [p.stem for p in pngs] == ["indices", "ipma", "path_diagram"]
        for png in pngs:
            data = base64.b64encode(png.read_bytes()).decode("ascii")
            assert zh.count(data) == 1, f"{png.name} is not the zh report's figure"
            assert data not in en  # the English report draws its own, with English labels


def test_a_figure_is_rendered_once_per_language(monkeypatch, tmp_path):
    from csi_research.render import plots

    calls: list[int] = []
    render = plots.to_png
    monkeypatch.setattr(plots, "to_png", lambda fig, dpi=110: calls.append(1) or render(fig, dpi))
    result = run_study(make_study(tmp_path, "donggang-2026", 2026, 5) / "study.yaml", quick=True)
    result.save(tmp_path / "bundle", language="en")
    assert len(calls) == 3
    for section in (regional.structure, regional.index_figure, regional.weak_links):
        section(result, "en")
    assert len(calls) == 3
    regional.weak_links(result, "zh")
    assert len(calls) == 4
    assert result.figure("ipma", "zh") != result.figure("ipma", "en")


def test_no_executed_notebook_or_report_shows_a_problem(batch):
    root, _ = batch
    notebooks = sorted(root.glob("*/output/*/*.ipynb"))
    assert len(notebooks) == 6  # 2 studies + the comparison, in 2 languages
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            for out in cell.get("outputs", []):
                assert out["output_type"] != "error", f"{path.name}: {out.get('ename')}"
                assert not (out["output_type"] == "stream" and out["name"] == "stderr"), (
                    f"{path.name}: stderr {out['text'][:300]}"
                )
                text = json.dumps(out.get("data", {}).get("text/plain", "")) + out.get("text", "")
                html = "".join(out.get("data", {}).get("text/html", ""))
                for bad in FORBIDDEN:
                    assert bad not in text and bad not in html, f"{path.name}: {bad!r} in an output"
    for path in _reports(root):
        body = path.read_text(encoding="utf-8")
        for bad in FORBIDDEN:
            assert bad not in re.sub(r"<script.*?</script>", "", body, flags=re.S), f"{path}: {bad!r}"


def test_user_text_is_escaped_everywhere(batch):
    root, _ = batch
    reports = _reports(root)
    assert reports
    for path in reports:
        body = path.read_text(encoding="utf-8")
        assert PAYLOAD not in body, f"{path}: the user's <script> is executable"
        assert "<b>bold</b>" not in body
    zh = next(root.glob("donggang-2026/output/*/report.zh.html")).read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(" in zh  # shown as text, not dropped
    title = re.search(r"<title>(.*?)</title>", zh, re.S).group(1)
    assert "2026" in title and "&lt;script&gt;" in title


def test_reports_name_region_and_wave_and_speak_their_language(batch):
    root, _ = batch
    zh = next(root.glob("donggang-2025/output/*/report.zh.html")).read_text(encoding="utf-8")
    en = next(root.glob("donggang-2025/output/*/report.en.html")).read_text(encoding="utf-8")
    assert re.search(r"<title>东港（虚构）2025年", zh)
    assert re.search(r"<title>Donggang \(fictional\) — customer satisfaction study, wave 2025", en)
    for heading in re.findall(r"<h[123][^>]*>(.*?)</h[123]>", zh, re.S):
        text = re.sub(r"<[^>]+>", "", heading).strip()
        if text and not re.fullmatch(r"[\d\s]+", text):  # wave numbers as sub-headings are fine
            assert CJK.search(text), f"an untranslated heading in the Chinese report: {text!r}"
    for word in ("Measurement quality", "Weak links", "Appendix"):
        assert word not in zh and word in en
    assert "Notebook" not in re.search(r"<title>(.*?)</title>", en, re.S).group(1)
    for path in _reports(root):  # the page's language, which browsers and screen readers go by
        language = path.name.split(".")[1]
        assert re.search(r"<html[^>]*>", path.read_text(encoding="utf-8"))[0] == f'<html lang="{language}">'


def test_later_wave_reports_the_change_since_the_earlier_one(batch):
    root, _ = batch
    zh = next(root.glob("donggang-2026/output/*/report.zh.html")).read_text(encoding="utf-8")
    en = next(root.glob("donggang-2026/output/*/report.en.html")).read_text(encoding="utf-8")
    assert "较 2025 年" in zh and "Compared with the 2025 wave" in en
    first = next(root.glob("donggang-2025/output/*/report.en.html")).read_text(encoding="utf-8")
    assert "No result of this region's previous wave was found" in first


def test_change_since_previous_wave_is_the_difference_of_draws(batch):
    """Independent check: the interval is the percentile interval of the draw differences."""
    import numpy as np

    from csi_research.study import waves

    root, _ = batch
    result = run_study.quiet(root / "donggang-2026", quick=True)
    previous = waves.find_previous(result.config)
    assert previous is not None and "donggang-2025" in str(previous)
    table = waves.change_since(result, previous).set_index("construct")
    draws = __import__("pandas").read_csv(previous / "index_draws.csv")
    k = min(len(draws), len(result.index_draws))
    d = result.index_draws["Satisfaction"].to_numpy()[:k] - draws["Satisfaction"].to_numpy()[:k]
    lo, hi = np.quantile(d, [0.025, 0.975])
    row = table.loc["Satisfaction"]
    assert row["ci_lower"] == pytest.approx(lo) and row["ci_upper"] == pytest.approx(hi)
    assert row["significant"] == (lo > 0 or hi < 0)


def test_sections_escape_every_text_field(tmp_path):
    """Without a notebook: every block of the report, both languages, with <script> in each field."""
    folder = make_study(tmp_path, "x", 2025, 5, name_zh=PAYLOAD, name_en=PAYLOAD, description=PAYLOAD)
    result = run_study.quiet(folder, quick=True)
    blocks = [
        regional.summary,
        regional.data_quality,
        regional.measurement,
        regional.structure,
        regional.cbsem,
        regional.indices,
        regional.weak_links,
        regional.segments,
        regional.industry,
        regional.diagnostics,
    ]
    for language in ("zh", "en"):
        for block in blocks:
            html = block(result, language)._repr_mimebundle_()[0]["text/html"]
            assert "<script" not in html
