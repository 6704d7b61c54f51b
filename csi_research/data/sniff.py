"""What a file really is, whatever its name says: its format from its first bytes, a text's encoding.

:func:`file_kind` tells a workbook from a CSV, a Word document, an archive or a password-protected
workbook by magic bytes (and, for zip files, by the members a format must hold), so that a survey
saved under the wrong extension is read for what it is or refused naming what it is.
:func:`text_encoding` finds a text file's encoding: a byte-order mark (UTF-8, UTF-16, UTF-32), UTF-16
without one (every other byte NUL), UTF-8, and else GB18030 or Big5, whichever decodes the text into
more common Chinese characters. :func:`encoding_notes` gives the note a reader gives when the text was
not UTF-8.
"""

from __future__ import annotations

import codecs
import gzip
import io
import re
import zipfile
from functools import cache
from typing import NoReturn

from csi_research.data.surveyproblems import EXAMPLES, SurveyProblem, fail, listing, quote, refuse, rows_text

# kind → what the file is, as a message says it
KINDS = {
    "xlsx": "an Excel workbook (.xlsx)",
    "xls": "an old Excel workbook (.xls)",
    "xlsb": "an Excel binary workbook (.xlsb)",
    "encrypted": "a password-protected (encrypted) Office file",
    "ods": "an OpenDocument spreadsheet (.ods)",
    "xml2003": "an Excel 2003 XML spreadsheet",
    "html": "an HTML table (a web page)",
    "docx": "a Word document (.docx)",
    "zip": "a zip archive",
    "gzip": "a gzip-compressed file",
    "parquet": "a parquet file",
    "sav": "an SPSS file (.sav)",
    "text": "a text file",
    "binary": "a binary file",
}
REFUSED = {  # kinds that are never read, and what to do instead
    "zip": "",  # names its members, see refuse_kind
    "docx": "a survey table is not read from a Word document; export the answers as .xlsx or CSV (UTF-8)",
    "encrypted": "open it in Excel/WPS with its password, remove the password (File → Info → Protect "
                 "Workbook → Encrypt with Password: clear it) and save it as .xlsx, or export the answers "
                 "as CSV",
    "xlsb": "open it in Excel/WPS and save it as an Excel Workbook (.xlsx) or as CSV (UTF-8)",
    "ods": "open it in LibreOffice/WPS/Excel and save it as an Excel Workbook (.xlsx) or as CSV (UTF-8)",
    "xml2003": "open it in Excel/WPS and save it as an Excel Workbook (.xlsx) or as CSV (UTF-8)",
    "binary": "export the survey as CSV (UTF-8) or .xlsx",
}


SNIFF_BYTES = 4096  # the start of a file that decides its kind
GZIP_LIMIT = 2 * 1024**3  # a decompressed survey larger than this is refused (a zip bomb is no survey)
_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
         (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))
_LABELS = {"utf-8-sig": "UTF-8", "utf-8": "UTF-8", "utf-16": "UTF-16", "utf-16-le": "UTF-16 (little-endian)",
           "utf-16-be": "UTF-16 (big-endian)", "utf-32": "UTF-32", "gb18030": "GB18030 (GBK)",
           "big5": "Big5"}


def file_kind(data: bytes) -> str:
    """A key of :data:`KINDS`: the file's format as its bytes say, "text" for anything readable as text."""
    if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):
        return _zip_kind(data)
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):  # OLE2: old Office, or an encrypted new one
        # an encrypted .xlsx is an OLE2 file holding the stream "EncryptedPackage" (names in UTF-16)
        return "encrypted" if "EncryptedPackage".encode("utf-16-le") in data else "xls"
    if data.startswith(b"\x1f\x8b"):
        return "gzip"
    if data.startswith(b"PAR1"):
        return "parquet"
    if data.startswith((b"$FL2", b"$FL3")):
        return "sav"
    head = data[:SNIFF_BYTES]
    if _utf16_without_bom(head) or head.startswith(tuple(b for b, _ in _BOMS)):
        text = head.decode(_bom_codec(head) or _utf16_without_bom(head) or "utf-8", errors="replace")
    elif b"\x00" in head:
        return "binary"
    else:
        text = head.decode("utf-8", errors="replace")
    start = text.lstrip("\ufeff \t\r\n").lower()
    if start.startswith("<?xml") and "urn:schemas-microsoft-com:office:spreadsheet" in start:
        return "xml2003"
    if start.startswith(("<!doctype html", "<html", "<table", "<meta")) or (
            start.startswith("<") and "<table" in start):
        return "html"
    return "text"


def _zip_kind(data: bytes) -> str:
    names = zip_members(data)
    if names is None:
        return "zip"
    if "xl/workbook.bin" in names:
        return "xlsb"
    if "xl/workbook.xml" in names:
        return "xlsx"
    if "word/document.xml" in names:
        return "docx"
    if "mimetype" in names:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if b"opendocument.spreadsheet" in archive.read("mimetype")[:100]:
                return "ods"
    return "zip"


def zip_members(data: bytes) -> list[str] | None:
    """The names in a zip archive (None when it is no readable archive)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return None


def gunzip(name: str, data: bytes) -> bytes:
    """The content of a gzip file; a broken one or a decompression bomb is refused."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            inner = stream.read(GZIP_LIMIT + 1)
    except (OSError, EOFError) as exc:
        refuse(name, "unparsable", f"the file is gzip-compressed but cannot be decompressed ({exc}); "
               "compress it again or give the uncompressed CSV")
    if len(inner) > GZIP_LIMIT:
        refuse(name, "too_large", f"the gzip file decompresses to more than {GZIP_LIMIT // 1024**3} GB; "
               "give the uncompressed file")
    return inner


def refuse_kind(name: str, kind: str, data: bytes) -> NoReturn:
    """Refuse a file of a kind no reader takes (:data:`REFUSED`), saying what it is and what to do."""
    if kind == "zip":
        members = [m for m in zip_members(data) or [] if not m.endswith("/")]
        held = f"holding {listing([repr(m) for m in members], 5)}" if members else "that cannot be opened"
        refuse(name, "file_type", f"the file is a zip archive {held}; unpack it and give the survey file "
               "itself (.csv, .xlsx, .sav or .parquet)")
    if kind == "binary":
        refuse(name, "binary", f"the file is binary, not text (it holds NUL bytes); {REFUSED[kind]}")
    refuse(name, "file_type", f"the file is {KINDS[kind]}; {REFUSED[kind]}")


# ---------------------------------------------------------------------------- encodings
def _bom_codec(data: bytes) -> str | None:
    return next((codec for bom, codec in _BOMS if data.startswith(bom)), None)


def _utf16_without_bom(head: bytes) -> str | None:
    """utf-16-le / utf-16-be when nearly every other byte is NUL (ASCII text in UTF-16), else None."""
    sample = head[: len(head) // 2 * 2]
    if len(sample) < 8:
        return None
    even, odd = sample[0::2], sample[1::2]
    for nul, other, codec in ((odd, even, "utf-16-le"), (even, odd, "utf-16-be")):
        if nul.count(0) >= 0.6 * len(nul) and other.count(0) <= 0.05 * len(other):
            return codec
    return None


def encoding_label(codec: str) -> str:
    """The encoding as a user knows it (UTF-8, GB18030 (GBK), Big5…)."""
    return _LABELS.get(codec, codec)


def encoding_notes(name: str, codec: str) -> list[str]:
    """The note for a text that is not UTF-8, naming the encoding it was read in; none for UTF-8."""
    if codec in ("utf-8", "utf-8-sig"):
        return []
    label = encoding_label(codec)
    return [f"{name}: the text is not UTF-8; it was read as {label} (check that Chinese labels read "
            "correctly; saving the file as UTF-8 removes this note)"]


def text_encoding(name: str, data: bytes) -> str:
    """The codec that decodes ``data`` (see the module doc); mixed or undecodable text is refused.

    A UTF-8 file with some lines in another encoding is refused naming those lines: decoding the whole
    file in the other encoding would garble the UTF-8 text.
    """
    codec = _bom_codec(data) or _utf16_without_bom(data[:SNIFF_BYTES])
    if codec and codec != "utf-8-sig":
        try:
            data.decode(codec)
            return codec
        except UnicodeDecodeError:
            refuse(name, "encoding", f"the text starts as {encoding_label(codec)} but does not decode as it; "
                   "save the CSV as UTF-8 (Excel: 'CSV UTF-8')")
    try:
        data.decode("utf-8")
        return "utf-8-sig"
    except UnicodeDecodeError:
        pass
    _refuse_mixed(name, data)
    decoded = {}
    for candidate in ("gb18030", "big5"):
        try:
            decoded[candidate] = data.decode(candidate)
        except UnicodeDecodeError:
            pass
    if not decoded:
        refuse(name, "encoding", "the text is neither UTF-8 nor GB18030 nor Big5 (nor UTF-16/UTF-32); "
               "save the CSV as UTF-8 (Excel: 'CSV UTF-8')")
    if len(decoded) == 1:
        return next(iter(decoded))
    return max(decoded, key=lambda c: (common_share(decoded[c], c), c == "gb18030"))


def common_share(text: str, codec: str) -> float:
    """Share of the non-ASCII characters of ``text`` that are common characters of ``codec``'s script.

    Chinese text decoded in the wrong one of GB18030 and Big5 still decodes, but mostly into rare
    characters and symbols; in the right one nearly every character is a common one.
    """
    sample = [ch for ch in text[:200_000] if ord(ch) > 127]
    if not sample:
        return 0.0
    common = _common_characters("big5" if codec == "big5" else "gb2312")
    return sum(ch in common for ch in sample) / len(sample)


@cache
def _common_characters(codec: str) -> frozenset[str]:
    """The first level of a national character set, taken from Python's own codec.

    GB2312 level 1 (rows 0xB0–0xD7) holds the 3,755 most common simplified characters; Big5 level 1
    (0xA440–0xC67E) the 5,401 common traditional ones.
    """
    if codec == "gb2312":
        leads, trails = range(0xB0, 0xD8), range(0xA1, 0xFF)
    else:
        leads, trails = range(0xA4, 0xC7), [*range(0x40, 0x7F), *range(0xA1, 0xFF)]
    out = set()
    for lead in leads:
        for trail in trails:
            if codec == "big5" and (lead, trail) > (0xC6, 0x7E):
                break
            try:
                out.add(bytes([lead, trail]).decode(codec))
            except UnicodeDecodeError:
                continue
    return frozenset(out)


def _refuse_mixed(name: str, data: bytes) -> None:
    """Refuse a mostly-UTF-8 file with some lines in another encoding, naming those lines."""
    bad, good = _non_utf8_lines(data)
    if not bad or not (good >= len(bad) or data.startswith(b"\xef\xbb\xbf")):
        return
    lines = data.split(b"\n")
    try:
        sample = lines[bad[0] - 1].decode("gb18030").strip()
        looks = f"they look GBK/GB18030, e.g. row {bad[0]} reads {quote(sample)}"
    except UnicodeDecodeError:
        looks = "they hold bytes of another encoding"
    many = len(bad) > 1
    text = (f"row{'s' if many else ''} {rows_text(bad[:EXAMPLES], len(bad))}"
            + (f" ({len(bad)} rows)" if len(bad) > EXAMPLES else "")
            + f" {'are' if many else 'is'} not UTF-8 while the rest of the file is ({looks}); "
            "re-save the whole file as UTF-8 (Excel: 'CSV UTF-8') or retype those rows")
    fail(name, [SurveyProblem("", "encoding", len(bad), tuple(bad[:EXAMPLES]), (), text)])


def _non_utf8_lines(data: bytes) -> tuple[list[int], int]:
    """Lines (1-based) that are not UTF-8, and the number of non-ASCII lines that are.

    Only non-ASCII lines are decoded; a file whose first 2,000 of them all fail is taken for a
    file in another encoding without looking further.
    """
    bad: list[int] = []
    good = 0
    for number, line in enumerate(data.split(b"\n"), start=1):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
            good += 1
        except UnicodeDecodeError:
            bad.append(number)
            if not good and len(bad) >= 2000:
                break
    return bad, good


def html_encoding(data: bytes) -> str:
    """An HTML page's encoding: its byte-order mark, else its ``charset``, else UTF-8 or GB18030."""
    codec = _bom_codec(data) or _utf16_without_bom(data[:SNIFF_BYTES])
    if codec:
        return codec
    declared = re.search(rb"""charset\s*=\s*["']?([A-Za-z0-9_-]+)""", data[:SNIFF_BYTES], re.IGNORECASE)
    if declared:
        try:
            return codecs.lookup(declared.group(1).decode("ascii")).name
        except LookupError:
            pass
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return "gb18030"
