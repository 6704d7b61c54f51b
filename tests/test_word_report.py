"""The Word reports: every heading, table (with its header row) and figure of the HTML report, user
text as text, figures sharp in print, and Chinese that survives a conversion to PDF.

The HTML side is read with the standard library's parser here, the Word side with python-docx:
neither is the renderer's own reading.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from docx import Document
from docx.oxml.ns import qn

from csi_research.core import fonts
from csi_research.data.simulate import simulate_survey
from csi_research.run.batch import run_batch

NAME_ZH = "东港<b>港</b> & 湾"
NAME_EN = "Donggang <b>Harbour</b> & Bay"
STUDY = """\
region: {{id: donggang, name_zh: "{zh}", name_en: "{en}"}}
wave: {wave}
synthetic: true
data: survey.csv
description: "Harbour city & <i>bay</i>"
bootstrap: {{n_boot: 200, quick_n_boot: 100}}
seed: {seed}
segments: [customer_class]
industry_evaluation: default
internal_indicators: default
"""
SPACE = re.compile(r"\s+")


def squash(text: str) -> str:
    return SPACE.sub(" ", text).strip()


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    root = tmp_path_factory.mktemp("word") / "studies"
    for wave, seed in ((2025, 21), (2026, 22)):
        folder = root / f"donggang-{wave}"
        folder.mkdir(parents=True)
        simulate_survey("donggang", n=240, seed=seed, wave=wave).to_csv(folder / "survey.csv")
        (folder / "study.yaml").write_text(STUDY.format(zh=NAME_ZH, en=NAME_EN, wave=wave, seed=seed),
                                           encoding="utf-8")
    result = run_batch(root, quick=True, progress=False, language="both", workers=2)
    assert result.ok, result.summary().to_string()
    return root, result


class HTMLReport(HTMLParser):
    """Headings, tables' header cells and images of an HTML report, as a browser shows them."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.headings: list[tuple[int, str]] = []
        self.tables: list[list[str]] = []
        self.images = 0
        self._heading: list[str] | None = None
        self._cell: list[str] | None = None
        self._skip = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script"):
            self._skip = True
        elif tag in ("h1", "h2", "h3"):
            self._heading, self._level = [], int(tag[1])
        elif tag == "table":
            self.tables.append([])
        elif tag == "th":
            self._cell = []
        elif tag == "img" and dict(attrs).get("src", "").startswith("data:image/png"):
            self.images += 1

    def handle_endtag(self, tag):
        if tag in ("style", "script"):
            self._skip = False
        elif tag in ("h1", "h2", "h3") and self._heading is not None:
            self.headings.append((self._level, squash("".join(self._heading))))
            self._heading = None
        elif tag == "th" and self._cell is not None:
            self.tables[-1].append(squash("".join(self._cell)))
            self._cell = None

    def handle_data(self, data):
        if self._skip:
            return
        for sink in (self._heading, self._cell):
            if sink is not None:
                sink.append(data)


def word_parts(path: Path):
    doc = Document(str(path))
    headings = [(int(p.style.name.split()[-1]), squash(p.text)) for p in doc.paragraphs
                if p.style.name.startswith("Heading ")]
    tables = []  # tables with a header row (the summary's figure cards are laid out as a table too)
    for table in doc.tables:
        first = table.rows[0]._tr
        if first.trPr is not None and first.trPr.find(qn("w:tblHeader")) is not None:
            tables.append([squash(c.text) for c in table.rows[0].cells])
    return doc, headings, tables


def test_every_report_has_its_word_twin_with_the_same_headings_tables_and_figures(batch):
    root, result = batch
    htmls = sorted(root.glob("*/output/*/report.*.html"))
    assert len(htmls) == 6 and sum("_comparison" in str(p) for p in htmls) == 2  # 2 studies + comparison
    documents = sorted(p for run in result.runs for p in run.documents)
    assert documents == sorted(p.with_suffix(".docx") for p in htmls)
    for html in htmls:
        docx_path = html.with_suffix(".docx")
        assert docx_path.exists(), docx_path
        reference = HTMLReport(html.read_text(encoding="utf-8"))
        doc, headings, tables = word_parts(docx_path)
        assert reference.headings and headings == reference.headings, html
        assert tables == reference.tables, html
        assert all(tables) and len(tables) >= 3
        assert len(doc.inline_shapes) == reference.images > 0, html


def test_figures_print_at_200_dpi_or_finer(batch):
    root, _ = batch
    for path in sorted(root.glob("*/output/*/report.*.docx")):
        doc = Document(str(path))
        text_width = doc.sections[0].page_width - doc.sections[0].left_margin - doc.sections[0].right_margin
        for shape in doc.inline_shapes:
            blip = shape._inline.graphic.graphicData.pic.blipFill.blip
            image = doc.part.related_parts[blip.embed].image
            printed_inches = shape.width / 914400
            assert shape.width <= text_width + 1
            assert image.px_width / printed_inches >= 199.5, (path.name, image.px_width, printed_inches)


def test_user_text_arrives_as_text(batch):
    root, _ = batch
    for path in sorted(root.glob("donggang-*/output/*/report.*.docx")):
        doc = Document(str(path))
        text = "\n".join(p.text for p in doc.paragraphs)
        name = NAME_ZH if path.name == "report.zh.docx" else NAME_EN
        assert name in text, path
        assert "Harbour city & <i>bay</i>" in text
        assert "&amp;" not in text and "&lt;" not in text


def test_chinese_text_is_set_in_a_cjk_font(batch):
    root, _ = batch
    doc = Document(str(next(root.glob("donggang-2026/output/*/report.zh.docx"))))
    fonts_of = doc.styles.element.find(qn("w:docDefaults")).find(qn("w:rPrDefault")).find(qn("w:rPr"))
    assert fonts_of.find(qn("w:rFonts")).get(qn("w:eastAsia")) == "Noto Sans CJK SC"
    for name in ("Normal", "Heading 1", "Heading 2", "Heading 3"):
        rfonts = doc.styles[name].element.rPr.find(qn("w:rFonts"))
        assert rfonts.get(qn("w:eastAsia")) == "Noto Sans CJK SC"
        assert rfonts.get(qn("w:eastAsiaTheme")) is None  # a theme font would win over the name


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed")
def test_libreoffice_prints_the_chinese_report_with_a_cjk_font(batch, tmp_path):
    root, _ = batch
    source = next(root.glob("donggang-2026/output/*/report.zh.docx"))
    html = HTMLReport(source.with_suffix(".html").read_text(encoding="utf-8"))
    # the project's own face, where LibreOffice finds it (a machine may have no CJK font of its own)
    conf = tmp_path / "fonts.conf"
    conf.write_text(f'<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
                    f'<include ignore_missing="yes">/etc/fonts/fonts.conf</include>'
                    f"<dir>{fonts.font_file().parent}</dir><cachedir>{tmp_path / 'fc'}</cachedir>"
                    f"</fontconfig>", encoding="utf-8")
    env = {**os.environ, "FONTCONFIG_FILE": str(conf), "HOME": str(tmp_path)}
    subprocess.run(["soffice", "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path), str(source)],
                   check=True, env=env, capture_output=True, timeout=240)
    pdf = tmp_path / "report.zh.pdf"
    assert pdf.exists()
    if shutil.which("pdffonts"):
        listing = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
        assert "NotoSansCJK" in listing, listing  # the face the document names (its CFF says "jp"), embedded
    if shutil.which("pdftotext"):
        text = squash(subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                                     check=True).stdout)
        for _, heading in html.headings[:6]:
            assert squash(heading).replace(" ", "") in text.replace(" ", ""), heading
        assert "\ufffd" not in text and "□" not in text


def test_a_wide_tables_number_columns_keep_their_width_and_its_text_columns_wrap():
    """The headline table: numbers such as 2088.9 must not break across lines in Word."""
    from csi_research.render.word import CELL_PADDING, CHAR_WIDTH, TEXT_WIDTH, _widths

    rows = [["Figure", "Value", "95% interval", "Unit", "Respondents", "Band"],
            ["Complaints per 10,000 respondents", "2088.9", "1598.9–2535.0", "per 10,000 respondents", "450",
             "basically satisfied (basically satisfied–fairly satisfied)"]]
    twips = _widths(rows, 6)
    assert sum(twips) <= TEXT_WIDTH / 635
    for j in (1, 2, 4):  # value, interval, n: as wide as their longest cell
        longest = max(len(r[j]) for r in rows)
        assert twips[j] == int((longest * CHAR_WIDTH + CELL_PADDING) / 635)
    assert twips[5] < int((36 * CHAR_WIDTH + CELL_PADDING) / 635)  # the band wraps
    narrow = _widths([["a", "b"], ["x", "y"]], 2)  # a narrow table is left as it is
    assert narrow == [int((3 * CHAR_WIDTH + CELL_PADDING) / 635)] * 2


def test_the_same_report_gives_the_same_bytes_whenever_it_is_written():
    """A .docx is a zip whose entries carry a date: it must not be the moment of writing."""
    import zipfile
    from io import BytesIO

    from csi_research.render.word import ZIP_EPOCH, word_report

    fragments = ["<h2>Summary</h2><p>Index 78.3</p>", "<table><tr><th>a</th></tr><tr><td>1</td></tr></table>"]
    first = word_report(fragments, "t", "en")
    package = zipfile.ZipFile(BytesIO(first))
    assert {entry.date_time for entry in package.infolist()} == {ZIP_EPOCH}
    assert package.testzip() is None
    assert word_report(fragments, "t", "en") == first
