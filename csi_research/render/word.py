"""The reports as Word documents, drawn from the very HTML pieces the HTML report shows.

A report is a sequence of HTML fragments built by :mod:`csi_research.render.html` (one per
section). :func:`word_report` parses them with the standard library's HTML parser into a small
tree and writes each element as its Word counterpart: headings as Word headings (so the navigation
pane and a table of contents see them), tables as editable Word tables whose header row repeats on
every page, figures as the embedded PNGs themselves, sized to print at their own resolution or
finer. Text is taken as text: an ``&amp;`` or a ``<b>`` typed into a study file arrives as those
characters, never as formatting. Chinese is set in a CJK face named as the East Asian font.
"""

from __future__ import annotations

import base64
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from io import BytesIO
from typing import Any
from xml.sax.saxutils import escape as xml_escape

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.image.image import Image
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.shared import Cm, Emu, Pt, RGBColor

__all__ = ["CJK_FALLBACK", "CJK_FONT", "LATIN_FONT", "word_report"]

CJK_FONT = "Noto Sans CJK SC"  # the face of the figures (core/fonts)
CJK_FALLBACK = "Microsoft YaHei"  # Word's stand-in where the Noto face is not installed
LATIN_FONT = "Arial"
PAGE = (Cm(21.0), Cm(29.7))  # A4
MARGIN = Cm(2.0)
TEXT_WIDTH = PAGE[0] - 2 * MARGIN
TEXT_HEIGHT = PAGE[1] - 2 * MARGIN - Cm(1.5)  # room for a caption line under a tall figure
INK = RGBColor(0x1D, 0x23, 0x30)
ACCENT = RGBColor(0x1F, 0x5F, 0x99)
MUTED = RGBColor(0x5B, 0x65, 0x75)
TONES = {"good": RGBColor(0x1B, 0x7A, 0x3D), "bad": RGBColor(0xB3, 0x26, 0x1E)}
HEADER_FILL, NOTE_FILL, CARD_FILL, NOTE_EDGE = "EEF3F8", "FFF6DB", "F5F8FB", "E0A800"
VOID = frozenset({"img", "br", "hr", "meta", "link", "input", "col", "wbr", "source"})
SKIPPED = frozenset({"style", "script", "head", "title"})
BLOCKS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6", "p", "ul", "ol", "li", "table", "div", "img", "hr",
                    "section", "article", "blockquote", "pre"})
SPACE = re.compile(r"\s+")
CHAR_WIDTH, CELL_PADDING = Cm(0.2), Cm(0.55)  # a 9 pt Latin character; a cell's inner margins
SHORT_COLUMN = 14.0  # a column whose longest cell is at most this many Latin characters is not wrapped
MIN_LONG_SHARE = 0.4  # ... as long as the wrapped columns keep at least this share of their own width


# ------------------------------------------------------------------------------- the HTML tree
@dataclass
class Node:
    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[Node | str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def elements(self, tag: str | None = None) -> list[Node]:
        return [c for c in self.children if isinstance(c, Node) and (tag is None or c.tag == tag)]

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)


class _TreeBuilder(HTMLParser):
    """HTML text → :class:`Node` tree; character references become the characters they stand for."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("root")
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):  # a stray end tag closes nothing
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(html: str) -> Node:
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


# ------------------------------------------------------------------------------- the document
def word_report(fragments: Iterable[str], title: str | None = None, language: str = "en") -> bytes:
    """A report's HTML fragments (in reading order) as a ``.docx`` file's bytes.

    ``title`` becomes the document's title property; ``language`` (``zh`` or ``en``) its proofing
    language. Figures keep their PNG bytes: embed them at print resolution in the HTML.
    """
    doc = Document()
    _page(doc)
    _styles(doc, language)
    _font_table(doc)
    doc.core_properties.title = title or ""
    doc.core_properties.language = "zh-CN" if language == "zh" else "en-US"
    writer = _Writer(doc)
    for fragment in fragments:
        writer.blocks(parse(fragment).children)
    buffer = BytesIO()
    doc.save(buffer)
    return _timeless(buffer.getvalue())


ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry


def _timeless(package: bytes) -> bytes:
    """The package with every entry dated :data:`ZIP_EPOCH` instead of the moment it was saved, so
    the same report gives the same bytes whenever it is written (PNGs, compressed already, are
    stored as they are)."""
    source, buffer = zipfile.ZipFile(BytesIO(package)), BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for entry in source.infolist():
            stored = entry.filename.endswith((".png", ".jpeg"))
            info = zipfile.ZipInfo(entry.filename, date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            info.external_attr = entry.external_attr
            target.writestr(info, source.read(entry))
    return buffer.getvalue()


def _page(doc: Any) -> None:
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = PAGE
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, MARGIN)


def _set_fonts(rpr: Any, latin: str = LATIN_FONT, east_asia: str = CJK_FONT) -> None:
    """Name the fonts outright (a template's theme fonts would win otherwise)."""
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for theme in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(theme), None)
    for slot, name in (("w:ascii", latin), ("w:hAnsi", latin), ("w:cs", latin), ("w:eastAsia", east_asia)):
        fonts.set(qn(slot), name)
    fonts.set(qn("w:hint"), "eastAsia")


def _styles(doc: Any, language: str) -> None:
    styles = doc.styles
    defaults = styles.element.find(qn("w:docDefaults"))
    rpr = defaults.find(qn("w:rPrDefault")).find(qn("w:rPr"))
    _set_fonts(rpr)
    lang = rpr.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        rpr.append(lang)
    lang.set(qn("w:val"), "en-US")
    lang.set(qn("w:eastAsia"), "zh-CN")
    normal = styles["Normal"]
    normal.font.size = Pt(10.5)
    normal.font.color.rgb = INK
    _set_fonts(normal.element.get_or_add_rPr())
    normal.paragraph_format.space_after = Pt(4)
    normal.paragraph_format.line_spacing = 1.2
    for level, size in ((1, 18), (2, 14), (3, 11.5)):
        style = styles[f"Heading {level}"]
        style.font.size = Pt(size)
        style.font.bold = True
        style.font.italic = False
        style.font.color.rgb = ACCENT if level == 2 else INK
        _set_fonts(style.element.get_or_add_rPr())
        style.paragraph_format.space_before = Pt(12 if level < 3 else 8)
        style.paragraph_format.space_after = Pt(4)
        style.paragraph_format.keep_with_next = True
    for name in ("List Bullet", "List Number", "Table Grid"):
        _set_fonts(styles[name].element.get_or_add_rPr())


def _font_table(doc: Any) -> None:
    """Describe the CJK face in the font table: a word processor without it substitutes a Chinese
    font (the named alternative, else one of the GB2312 character set), not a Latin one."""
    part = doc.part
    table = next((r.target_part for r in part.rels.values() if r.reltype.endswith("/fontTable")), None)
    if table is None:
        return
    root = parse_xml(table.blob)
    for old in root.findall(qn("w:font")):
        if old.get(qn("w:name")) == CJK_FONT:
            root.remove(old)
    font = OxmlElement("w:font")
    font.set(qn("w:name"), CJK_FONT)
    for tag, value in (("w:altName", CJK_FALLBACK), ("w:panose1", "020B0500000000000000"),
                       ("w:charset", "86"), ("w:family", "swiss"), ("w:pitch", "variable")):
        child = OxmlElement(tag)
        child.set(qn("w:val"), value)
        font.append(child)
    root.append(font)
    from lxml import etree

    table._blob = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


@dataclass
class _Format:
    bold: bool = False
    italic: bool = False
    size: float | None = None
    color: RGBColor | None = None


class _Writer:
    def __init__(self, doc: Any) -> None:
        self.doc = doc
        self.style_ids = {s.name: s.style_id for s in doc.styles}

    def styled(self, style: str) -> Any:
        """A new paragraph in ``style``, named by its id (python-docx's lookup by name is slow)."""
        para = self.doc.add_paragraph()
        para._p.get_or_add_pPr().get_or_add_pStyle().val = self.style_ids[style]
        return para

    # ---------------------------------------------------------------- block level
    def blocks(self, nodes: list[Node | str]) -> None:
        loose: list[Node | str] = []  # inline content between blocks makes a paragraph of its own
        for node in nodes:
            if isinstance(node, Node) and (node.tag in BLOCKS or node.tag in SKIPPED):
                self._loose(loose)
                loose = []
                self.block(node)
            else:
                loose.append(node)
        self._loose(loose)

    def _loose(self, nodes: list[Node | str]) -> None:
        if any(isinstance(n, Node) or n.strip() for n in nodes):
            self.inline(self.doc.add_paragraph(), nodes)

    def block(self, node: Node) -> None:
        tag, classes = node.tag, node.classes
        if tag in SKIPPED:
            return
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self.inline(self.styled(f"Heading {tag[1]}"), node.children)
        elif tag == "p":
            self.paragraph(node)
        elif tag in ("ul", "ol"):
            style = "List Bullet" if tag == "ul" else "List Number"
            for item in node.elements("li"):
                self.inline(self.styled(style), item.children)
        elif tag == "table":
            self.table(node)
        elif tag == "img":
            self.picture(node)
        elif tag == "pre":  # text output: its lines as they are
            para = self.doc.add_paragraph()
            for k, line in enumerate(node.text().strip("\n").split("\n")):
                if k:
                    para.add_run().add_break()
                run = para.add_run(line)
                run.font.size = Pt(8.5)
                run.font.name = "Courier New"
        elif "cards" in classes:
            self.cards(node)
        elif "page-end" in classes:
            self.doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        else:  # a wrapper (the report's own div, a section): its content in order
            self.blocks(node.children)

    def paragraph(self, node: Node) -> None:
        para = self.doc.add_paragraph()
        fmt = _Format()
        if "muted" in node.classes:
            fmt = _Format(size=9, color=MUTED)
        elif "lead" in node.classes:
            fmt = _Format(size=12)
        elif "note" in node.classes:
            _shade(para, NOTE_FILL, edge=NOTE_EDGE)
        self.inline(para, node.children, fmt)

    # ---------------------------------------------------------------- inline level
    def inline(self, para: Any, nodes: list[Node | str], fmt: _Format | None = None) -> None:
        for item in self.runs(nodes, fmt):
            if item is None:
                para.add_run().add_break()
                continue
            text, f = item
            run = para.add_run(text)
            run.bold = f.bold or None
            run.italic = f.italic or None
            if f.size:
                run.font.size = Pt(f.size)
            if f.color is not None:
                run.font.color.rgb = f.color

    def runs(self, nodes: list[Node | str], fmt: _Format | None = None) -> list[tuple[str, _Format] | None]:
        """The text runs of inline content with their formats (None: a line break), spaces collapsed
        as a browser shows them, none at either end."""
        runs: list[tuple[str, _Format] | None] = []
        self._collect(nodes, fmt or _Format(), runs)
        texts = [r for r in runs if r is not None]
        if texts:
            first, last = runs.index(texts[0]), len(runs) - 1 - runs[::-1].index(texts[-1])
            runs[first] = (texts[0][0].lstrip(), texts[0][1])
            runs[last] = (runs[last][0].rstrip(), runs[last][1])  # type: ignore[index]
        return [r for r in runs if r is None or r[0]]

    def _collect(self, nodes: list[Node | str], fmt: _Format, runs: list) -> None:
        for node in nodes:
            if isinstance(node, str):
                text = SPACE.sub(" ", node)
                if runs and runs[-1] is not None and runs[-1][0].endswith(" ") and text.startswith(" "):
                    text = text[1:]
                runs.append((text, fmt))
                continue
            if node.tag in SKIPPED:
                continue
            if node.tag == "br":
                runs.append(None)
                continue
            sub = _Format(fmt.bold, fmt.italic, fmt.size, fmt.color)
            if node.tag in ("b", "strong", "th"):
                sub.bold = True
            if node.tag in ("i", "em"):
                sub.italic = True
            if "big" in node.classes:
                sub.bold, sub.size = True, 20
            if "muted" in node.classes:
                sub.size, sub.color = 9, MUTED
            for tone, colour in TONES.items():
                if tone in node.classes:
                    sub.color = colour
            self._collect(node.children, sub, runs)

    # ---------------------------------------------------------------- tables, cards, figures
    def table(self, node: Node) -> None:
        head = [row for part in node.elements("thead") for row in part.elements("tr")]
        body = [row for part in node.elements("tbody") for row in part.elements("tr")]
        body += node.elements("tr")
        if not head and body and all(c.tag == "th" for c in body[0].elements()):
            head, body = body[:1], body[1:]
        rows = [[c for c in row.elements() if c.tag in ("th", "td")] for row in (*head, *body)]
        width = max((len(r) for r in rows), default=0)
        if not width:
            return
        size = 9 if width <= 7 else 8 if width <= 10 else 7
        spans = _widths([[c.text() for c in cells] for cells in rows], width)
        # written as XML in one go: python-docx's cell by cell objects take ~20x as long on big tables
        xml = [f'<w:tbl {nsdecls("w")}><w:tblPr><w:tblStyle w:val="{self.style_ids["Table Grid"]}"/>'
               f'<w:tblW w:w="{sum(spans)}" w:type="dxa"/><w:jc w:val="center"/>'
               '<w:tblLayout w:type="fixed"/><w:tblLook w:val="04A0" w:firstRow="1" w:lastRow="0" '
               'w:firstColumn="0" w:lastColumn="0" w:noHBand="0" w:noVBand="1"/></w:tblPr><w:tblGrid>',
               *(f'<w:gridCol w:w="{span}"/>' for span in spans), "</w:tblGrid>"]
        for i, cells in enumerate(rows):
            header = i < len(head)
            xml.append('<w:tr><w:trPr><w:cantSplit/>' + ('<w:tblHeader/>' if header else '') + '</w:trPr>')
            for j in range(width):
                cell = cells[j] if j < len(cells) else Node("td")
                align = ("center" if header else "right" if cell.tag == "td" and "text" not in cell.classes
                         else "left")
                fill = f'<w:shd w:val="clear" w:color="auto" w:fill="{HEADER_FILL}"/>' if header else ""
                runs = self.runs(cell.children, _Format(bold=header or cell.tag == "th", size=size))
                xml.append(f'<w:tc><w:tcPr><w:tcW w:w="{spans[j]}" w:type="dxa"/>{fill}</w:tcPr><w:p><w:pPr>'
                           f'<w:spacing w:after="0" w:line="240" w:lineRule="auto"/><w:jc w:val="{align}"/>'
                           f'</w:pPr>{"".join(_run_xml(r) for r in runs)}</w:p></w:tc>')
            xml.append("</w:tr>")
        xml.append("</w:tbl>")
        self.doc.element.body._insert_tbl(parse_xml("".join(xml)))

    def cards(self, node: Node) -> None:
        cards = [c for c in node.elements("div") if "card" in c.classes]
        if not cards:
            return
        table = self.doc.add_table(rows=1, cols=len(cards))
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        for card, cell in zip(cards, table.rows[0].cells, strict=True):
            _shade_cell(cell, CARD_FILL)
            first = True
            for line in card.children:
                if isinstance(line, str) and not line.strip():
                    continue
                para = cell.paragraphs[0] if first else cell.add_paragraph()
                first = False
                para.paragraph_format.space_after = Pt(1)
                self.inline(para, [line])
        self.doc.add_paragraph().paragraph_format.space_after = Pt(2)

    def picture(self, node: Node) -> None:
        source = node.attrs.get("src", "")
        if not source.startswith("data:image/") or ";base64," not in source:
            return  # a report embeds its figures; a link to elsewhere has nothing to print
        blob = base64.b64decode(source.split(";base64,", 1)[1])
        image = Image.from_blob(blob)
        width = Emu(int(image.px_width / max(image.horz_dpi, 1) * 914400))  # the figure's own size
        height = Emu(int(image.px_height / max(image.vert_dpi, 1) * 914400))
        scale = min(1.0, TEXT_WIDTH / width, TEXT_HEIGHT / height)
        para = self.doc.add_paragraph()
        para.alignment = WD_ALIGN_PARAGRAPH.CENTER
        para.paragraph_format.keep_together = True
        shape = para.add_run().add_picture(BytesIO(blob), width=Emu(int(width * scale)),
                                           height=Emu(int(height * scale)))
        alt = node.attrs.get("alt", "")
        if alt:  # the description a screen reader gives
            shape._inline.docPr.set("descr", alt)


def _shade(para: Any, fill: str, edge: str | None = None) -> None:
    ppr = para._p.get_or_add_pPr()
    if edge:
        borders = OxmlElement("w:pBdr")
        left = OxmlElement("w:left")
        for key, value in (("w:val", "single"), ("w:sz", "24"), ("w:space", "6"), ("w:color", edge)):
            left.set(qn(key), value)
        borders.append(left)
        ppr.append(borders)
    shd = OxmlElement("w:shd")
    for key, value in (("w:val", "clear"), ("w:color", "auto"), ("w:fill", fill)):
        shd.set(qn(key), value)
    ppr.append(shd)


def _shade_cell(cell: Any, fill: str) -> None:
    shd = OxmlElement("w:shd")
    for key, value in (("w:val", "clear"), ("w:color", "auto"), ("w:fill", fill)):
        shd.set(qn(key), value)
    cell._tc.get_or_add_tcPr().append(shd)


def _repeat_header(row: Any) -> None:
    """The row repeats at the top of every page the table runs onto (Word's 'header row')."""
    flag = OxmlElement("w:tblHeader")
    flag.set(qn("w:val"), "true")
    row._tr.get_or_add_trPr().append(flag)


def _keep_row(row: Any) -> None:
    flag = OxmlElement("w:cantSplit")
    flag.set(qn("w:val"), "true")
    row._tr.get_or_add_trPr().append(flag)


def _text_width(text: str) -> float:
    """Printed width in Latin characters: a CJK character takes about two."""
    return sum(2.0 if ord(ch) > 0x2E80 else 1.0 for ch in text)


def _widths(texts: list[list[str]], width: int) -> list[int]:
    """Column widths in twips: as wide as the longest cell (within bounds), at most the text width."""
    need = [3.0] * width
    for row in texts:
        for j, text in enumerate(row[:width]):
            need[j] = max(need[j], min(_text_width(text.strip()), 36.0))
    natural = [n * CHAR_WIDTH + CELL_PADDING for n in need]
    if sum(natural) > TEXT_WIDTH:
        # A wide table: short columns (numbers, intervals, codes) keep their width, so no number
        # breaks across lines; the long ones (labels, sentences) share what is left, which wraps text.
        short = [n <= SHORT_COLUMN for n in need]
        left = TEXT_WIDTH - sum(w for w, s in zip(natural, short, strict=True) if s)
        long = sum(w for w, s in zip(natural, short, strict=True) if not s)
        if long and left >= long * MIN_LONG_SHARE:
            natural = [w if s else w * left / long for w, s in zip(natural, short, strict=True)]
        else:  # too many columns for that: every column shares the text width by what it needs
            natural = [TEXT_WIDTH * n / sum(natural) for n in natural]
    return [int(n / 635) for n in natural]  # EMU → twips


def _run_xml(run: tuple[str, _Format] | None) -> str:
    if run is None:
        return "<w:r><w:br/></w:r>"
    text, f = run
    props = "".join([
        "<w:b/>" if f.bold else "", "<w:i/>" if f.italic else "",
        f'<w:color w:val="{f.color}"/>' if f.color is not None else "",
        f'<w:sz w:val="{round(f.size * 2)}"/><w:szCs w:val="{round(f.size * 2)}"/>' if f.size else "",
    ])
    return f'<w:r><w:rPr>{props}</w:rPr><w:t xml:space="preserve">{_xml_text(text)}</w:t></w:r>'


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(text: str) -> str:
    """Text for an XML element: markup characters escaped, characters XML cannot hold dropped."""
    return xml_escape(_NOT_XML.sub("", text))
