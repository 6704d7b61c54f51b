"""A new study folder for a researcher's own survey file: ``study.yaml`` and a codebook draft.

:func:`new_study` reads the header and the first rows of the survey file (never the whole file,
never writing to it) and writes two files into a new folder:

``study.yaml``
    region, wave, data path, codebook and model, a seed derived from the file's SHA-256 (so two
    researchers scaffolding the same file get the same bootstrap draws), the segment columns it
    found, and ``synthetic: false`` with no bundled expert matrices or KPIs.
``codebook.yaml``
    columns named like items or attributes of the built-in questionnaire keep their definitions
    (matched case-insensitively, under the file's spelling); the respondent id column is detected;
    every other column becomes an item or attribute whose unknown parts read ``TODO``.

Whatever only the researcher knows is written as ``TODO``: the study loader and the codebook loader
refuse a value starting with it, naming the key (and for the codebook the line), so a half-filled
study cannot run by accident.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from csi_research.core.errors import OutputError, SurveyDataError
from csi_research.core.yamlfile import TODO
from csi_research.data.codebook import Codebook, Scale, _subindicator_dict

SAMPLE_ROWS = 2000  # rows read to infer scales, codes and single-valued columns
# Answer scales an item may be on, tried in this order: the first whose codes hold the answers wins.
SCALES: tuple[tuple[str, int, int], ...] = (
    ("semantic5", 1, 5), ("seven", 1, 7), ("ten", 1, 10), ("eleven", 0, 10),
)
ID_NAMES = ("respondent_id", "respondent", "resp_id", "id", "case_id", "caseid", "record_id", "serial",
            "编号", "问卷编号", "样本编号", "受访者编号", "答卷编号", "序号")
SEGMENTS = ("customer_class", "area", "voltage")  # attributes a study compares by default
MIN_DISTINCT_CODES = 3  # observed codes before a column is taken for a scale item


def new_study(
    survey_file: str | Path,
    folder: str | Path | None = None,
    *,
    region: str | None = None,
    wave: str | None = None,
    sheet: str | None = None,
) -> list[Path]:
    """Write ``study.yaml`` and a ``codebook.yaml`` draft for ``survey_file`` into a new folder.

    ``folder`` defaults to ``<cwd>/studies/<file name as a slug>``; it must not exist or be empty
    (nothing is ever overwritten). ``region`` and ``wave`` default to the file's single-valued
    ``region``/``wave`` columns, else to its name (``linxi_2025.csv``). Returns the paths written.
    """
    path = Path(survey_file)
    if not path.is_file():
        reason = "it is a folder" if path.is_dir() else "no such file"
        raise SurveyDataError(f"{path}: cannot read the survey file: {reason}")
    folder = Path(folder) if folder is not None else Path.cwd() / "studies" / _slug(path.stem)
    _check_empty(folder)
    frame, sheet_used = _read_sample(path, sheet)
    digest = _sha256(path)
    book = Codebook.default()
    columns = _classify(frame, book)
    codebook_text = _codebook_text(path, frame, book, columns, digest)
    study_text = _study_text(path, folder, frame, columns, digest, region, wave, sheet_used)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in (("study.yaml", study_text), ("codebook.yaml", codebook_text)):
        target = folder / name
        with open(target, "x", encoding="utf-8", newline="\n") as handle:  # "x": never over a file
            handle.write(text)
        written.append(target)
    return written


# ---------------------------------------------------------------------------- the folder and the file
def _slug(stem: str) -> str:
    """``Linxi_2025`` → ``linxi-2025`` (the study folders' naming); Chinese letters are kept."""
    return re.sub(r"[\W_]+", "-", stem.lower()).strip("-") or "new-study"


def _check_empty(folder: Path) -> None:
    if folder.is_file():
        raise OutputError(f"{folder}: a file is in the way of the new study folder; give another folder")
    if folder.is_dir() and any(folder.iterdir()):
        raise OutputError(
            f"{folder}: the folder exists and is not empty; new-study never overwrites a study: give a "
            "new folder (--out) or move the old one away"
        )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_sample(path: Path, sheet: str | None) -> tuple[pd.DataFrame, str | None]:
    """The header and the first :data:`SAMPLE_ROWS` rows (as read by pandas), and the Excel sheet used."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            frame, used = _read_csv(path), None
        elif suffix in (".xlsx", ".xls"):
            frame, used = _read_excel(path, sheet)
        elif suffix == ".sav":
            import pyreadstat

            frame, meta = pyreadstat.read_sav(str(path), row_limit=SAMPLE_ROWS, apply_value_formats=False)
            frame = _spss_labels(frame, meta)
            used = None
        elif suffix == ".parquet":
            import pyarrow.parquet as pq

            batches = pq.ParquetFile(path).iter_batches(batch_size=SAMPLE_ROWS)
            first = next(batches, None)
            frame = first.to_pandas() if first is not None else pq.read_schema(path).empty_table().to_pandas()
            used = None
        else:
            raise SurveyDataError(
                f"{path}: unsupported file type {suffix or '(none)'!r}; "
                "use .csv, .xlsx, .xls, .sav or .parquet"
            )
    except SurveyDataError:
        raise
    except ImportError as exc:
        raise SurveyDataError(
            f"{path}: reading {suffix} files needs the package {exc.name}; install it"
        ) from None
    except Exception as exc:  # every reader has its own exceptions; the file is what the user must fix
        raise SurveyDataError(f"{path}: cannot parse the file as {suffix}: {str(exc)[:200]}") from None
    frame = frame.rename(columns=lambda c: str(c).strip())
    if frame.shape[1] == 0:
        raise SurveyDataError(f"{path}: the file has no columns; export the survey with a header row")
    return frame, used


def _spss_labels(frame: pd.DataFrame, meta: Any) -> pd.DataFrame:
    """Attribute columns as their value labels (2 → 商业, matched against the categories) and the
    variable labels kept for the draft's item texts; item codes stay codes."""
    attributes = {a.lower() for a in Codebook.default().attribute_ids}
    for column, labels in (meta.variable_value_labels or {}).items():
        if str(column).strip().lower() in attributes:
            frame[column] = frame[column].map(lambda v, t=labels: t.get(v, v))
    frame.attrs["labels"] = {str(k).strip(): v for k, v in (meta.column_names_to_labels or {}).items() if v}
    return frame


def _read_csv(path: Path) -> pd.DataFrame:
    with open(path, "rb") as handle:
        head = handle.read(1 << 16)
    if not head.strip():
        raise SurveyDataError(f"{path}: the file is empty; export the survey with a header row and answers")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            # final=False: a character cut at the end of the chunk is not an error
            text = codecs.getincrementaldecoder(encoding)().decode(head, final=False)
        except UnicodeDecodeError:
            continue
        header = text.splitlines()[0] if text.splitlines() else ""
        sep = max((",", ";", "\t", "|"), key=header.count)
        return pd.read_csv(path, encoding=encoding, sep=sep, nrows=SAMPLE_ROWS, dtype=str)
    raise SurveyDataError(
        f"{path}: the text is neither UTF-8 nor GB18030; save the CSV as UTF-8 (Excel: 'CSV UTF-8')"
    )


def _read_excel(path: Path, sheet: str | None) -> tuple[pd.DataFrame, str]:
    with pd.ExcelFile(path) as book:
        names = [str(n) for n in book.sheet_names]
        if sheet is not None and sheet not in names:
            raise SurveyDataError(f"{path}: no sheet {sheet!r}; sheets: {', '.join(names)}")
        if sheet is None:  # the sheet naming most questionnaire items holds the survey
            known = {i.upper() for i in Codebook.default().item_ids}
            score = {n: sum(str(c).strip().upper() in known
                            for c in pd.read_excel(book, sheet_name=n, nrows=0).columns)
                     for n in names}
            sheet = max(names, key=lambda n: score[n])
        return pd.read_excel(book, sheet_name=sheet, nrows=SAMPLE_ROWS, dtype=object), sheet


# ---------------------------------------------------------------------------- what each column is
class _Column:
    """One column of the file and what the draft makes of it."""

    def __init__(self, name: str, values: pd.Series) -> None:
        self.name = name
        self.kind = "unknown"  # item | attribute | id | unknown
        self.known: Any = None  # the built-in Item or Attribute
        self.comment = ""  # a line for the draft above the column's entry
        present = values.dropna()
        present = present[present.astype(str).str.strip() != ""]
        self.text = present.astype(str).str.strip()
        numbers = pd.to_numeric(self.text, errors="coerce")
        self.numeric = bool(len(numbers)) and bool(numbers.notna().all())
        self.numbers = numbers.to_numpy(dtype=float) if self.numeric else np.array([])
        self.empty = present.empty
        self.unique = not self.empty and len(present) == len(values) and self.text.is_unique

    def codes(self) -> list[int]:
        return sorted({int(v) for v in self.numbers}) if self.is_integer() else []

    def is_integer(self) -> bool:
        return self.numeric and bool(np.all(self.numbers == np.round(self.numbers)))


def _classify(frame: pd.DataFrame, book: Codebook) -> list[_Column]:
    items = {i.id.upper(): i for i in book.items}
    attributes = {a.id.lower(): a for a in book.attributes}
    columns = [_Column(str(name), frame.iloc[:, k]) for k, name in enumerate(frame.columns)]
    for col in columns:  # a built-in id is taken once (IMG1 and img1 in one file: the second is unknown)
        key = col.name.strip()
        if key.upper() in items:
            col.kind, col.known = "item", items.pop(key.upper())
        elif key.lower() in attributes:
            col.kind, col.known = "attribute", attributes.pop(key.lower())
    rest = [c for c in columns if c.kind == "unknown"]
    named = [c for c in rest if c.name.strip().lower() in ID_NAMES]
    # an id: a column named like one, else a column with a different value in every row (not a scale)
    candidates = named or [c for c in rest if c.unique and len(c.text) >= 10 and _scale_of(c) is None]
    if candidates:
        candidates[0].kind = "id"
    return columns


def _scale_of(col: _Column) -> tuple[str, int, int, list[int]] | None:
    """The first scale of :data:`SCALES` holding the column's codes, and the codes outside it that look
    like "don't know" (at least two steps away from the scale, e.g. 9 or 99 next to 1–5)."""
    codes = col.codes()
    for name, lo, hi in SCALES:
        inside = [c for c in codes if lo <= c <= hi]
        outside = [c for c in codes if not lo <= c <= hi]
        if len(inside) < MIN_DISTINCT_CODES or max(inside) < hi - 2:
            continue
        if all(c >= hi + 2 or c <= lo - 2 for c in outside):
            return name, lo, hi, outside
    return None


# ---------------------------------------------------------------------------- codebook.yaml
def _flow(value: Any) -> str:
    """One YAML flow value on one line (quoted where YAML needs it)."""
    return yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10**6,
                          sort_keys=False).strip().removesuffix("...").strip()


def _scale_spec(scale: Scale) -> dict[str, Any]:
    """A scale as the default file writes it: labels and grade scores only when not the plain ones."""
    spec: dict[str, Any] = {"codes": list(scale.codes)}
    linear = Scale.linear(scale.name, scale.codes)
    if scale.labels_zh != linear.labels_zh:
        spec["labels_zh"] = list(scale.labels_zh)
    if scale.labels_en != linear.labels_en:
        spec["labels_en"] = list(scale.labels_en)
    if scale.grade_scores != linear.grade_scores:
        spec["grade_scores"] = [int(g) if float(g).is_integer() else g for g in scale.grade_scores]
    return spec


def _span(codes: Iterable[int]) -> str:
    codes = list(codes)
    return ", ".join(map(str, codes[:12])) + (", …" if len(codes) > 12 else "")


def _codebook_text(path: Path, frame: pd.DataFrame, book: Codebook, columns: list[_Column],
                   digest: str) -> str:
    items = [c for c in columns if c.kind == "item"]
    attributes = [c for c in columns if c.kind == "attribute"]
    unknown = [c for c in columns if c.kind == "unknown"]
    id_col = next((c for c in columns if c.kind == "id"), None)
    rename = {c.known.id: c.name for c in items}  # built-in id -> the file's spelling
    items.sort(key=lambda c: book.item_ids.index(c.known.id))
    attributes.sort(key=lambda c: book.attribute_ids.index(c.known.id))

    item_lines: list[str] = []
    scales_used = {book.scales[c.known.scale].name for c in items}
    for col in items:
        spec = _known_item(col, book, rename)
        scales_used.add(spec["scale"])
        if col.comment:
            item_lines.append(f"  # {col.comment}")
        item_lines.append(f"  - {_flow(spec)}")
    for col in unknown:
        found = _scale_of(col) if col.numeric else None
        if found is None:
            continue
        name, _, _, outside = found
        scales_used.add(name)
        label = frame.attrs.get("labels", {}).get(col.name)  # an SPSS variable label is the question
        spec = {"id": col.name, "construct": TODO, "subindicator": TODO, "scale": name,
                "missing_codes": outside, "text_zh": label or TODO, "text_en": TODO}
        if not outside:
            del spec["missing_codes"]
        item_lines.append(
            f"  # {TODO}: column {col.name} is not in the built-in questionnaire "
            f"(codes {_span(col.codes())}): give its construct, sub-indicator and texts, or delete the "
            "entry to keep it aside unanalysed"
            + ("; likert5 if it asks for agreement" if name == "semantic5" else "")
        )
        item_lines.append(f"  - {_flow(spec)}")
        col.kind = "item"

    present = {c.known.construct for c in items} or set(book.constructs)
    constructs = {n: labels for n, labels in book.constructs.items() if n in present}
    subs = _subindicators(book, constructs, rename, {c.known.id for c in items})

    lines = [
        f"# Codebook draft for {path.name} (sha256 {digest[:12]}…), written by `csi-research new-study`",
        f"# from its header and first {min(len(frame), SAMPLE_ROWS)} rows.",
        "# Columns named like those of the built-in questionnaire (resources/codebook_default.yaml) keep",
        "# its definitions: check that the questions and answer scales really are the same. Fill in every",
        "# value TODO (or delete its entry): the codebook is refused while one is left.",
        f"name: {_flow(_slug(path.stem).replace('-', '_'))}",
    ]
    if id_col is None:
        lines.append("# no respondent id column found: respondents are numbered by row")
    lines.append(f"id_column: {_flow(id_col.name if id_col else book.id_column)}")
    lines += ["", "scales:"]
    for name, scale in book.scales.items():
        lines.append(f"  {name}: {_flow(_scale_spec(scale))}")
    if "eleven" in scales_used:
        lines.append(f"  eleven: {_flow({'codes': list(range(11))})}  # 0-10, found in the data")
    lines += ["", "constructs:"]
    lines += [f"  {n}: {_flow({'label_zh': zh, 'label_en': en})}" for n, (zh, en) in constructs.items()]
    missing = [n for n in book.constructs if n not in constructs]
    if missing:
        lines.append(f"  # not in this file: {', '.join(missing)}; copy them from the built-in codebook if "
                     "your own items measure them")
    lines += ["", "subindicators:"]
    dumped = yaml.safe_dump(subs, allow_unicode=True, sort_keys=False, width=1000, default_flow_style=None)
    lines += ["  " + line for line in dumped.splitlines()]
    lines += ["", "items:"]
    choices = "; ".join(f"{c}: {', '.join(s for s, sub in subs.items() if sub['construct'] == c)}"
                        for c in constructs)
    if any(TODO in line for line in item_lines):
        lines.append(f"  # sub-indicators by construct: {choices}")
    lines += item_lines
    attribute_lines = _attribute_lines(attributes, unknown)
    if attribute_lines:
        lines += ["", "# Respondent attributes (segments); one without categories accepts any value.",
                  "attributes:", *attribute_lines]
    return "\n".join(lines) + "\n"


def _known_item(col: _Column, book: Codebook, rename: Mapping[str, str]) -> dict[str, Any]:
    """The built-in definition under the file's spelling; scale and missing codes follow the data."""
    item = col.known
    spec = {"id": rename[item.id], "construct": item.construct, "subindicator": item.subindicator,
            "scale": item.scale, "missing_codes": list(item.missing_codes), "text_zh": item.text_zh,
            "text_en": item.text_en}
    if item.reverse:
        spec = {**dict(list(spec.items())[:5]), "reverse": True, **dict(list(spec.items())[5:])}
    found = _scale_of(col) if col.numeric else None
    scale = book.scales[item.scale]
    if col.empty:
        col.comment = f"{col.name}: no answers in the rows read; check the column"
    elif found is None:
        col.comment = (f"{col.name}: the codes {_span(col.codes()) or 'read'} fit no usual scale; check its "
                       "scale and missing_codes")
    else:
        name, lo, hi, outside = found
        if (lo, hi) != (scale.min, scale.max):
            spec["scale"] = name
            col.comment = f"{col.name}: answers on {lo}-{hi}, not the built-in {scale.span}: check the item"
        spec["missing_codes"] = sorted((set(spec["missing_codes"]) | set(outside)) - set(range(lo, hi + 1)))
    if not spec["missing_codes"]:
        del spec["missing_codes"]
    return spec


def _subindicators(book: Codebook, constructs: Mapping[str, Any], rename: Mapping[str, str],
                   present: set[str]) -> dict[str, Any]:
    """The built-in sub-indicators of the constructs kept; measures name items as the file spells them,
    and a measure for items the file lacks is left out."""
    out: dict[str, Any] = {}
    for sid, sub in book.subindicators.items():
        if sub.construct not in constructs:
            continue
        has_items = any(i.subindicator == sid and i.id in present for i in book.items)
        if present and not has_items:
            continue
        spec = _subindicator_dict(sub)
        measures = []
        for measure in spec.get("measures", []):
            if "items" in measure:
                kept = [rename[i] for i in measure["items"] if i in present]
                if not kept:
                    continue
                measure = {**measure, "items": kept}
            measures.append(measure)
        if measures:
            spec["measures"] = measures
        else:
            spec.pop("measures", None)
        out[sid] = spec
    return out


def _attribute_lines(known: list[_Column], unknown: list[_Column]) -> list[str]:
    lines = []
    for col in known:
        attribute = col.known
        spec: dict[str, Any] = {"id": col.name, "label_zh": attribute.label_zh,
                                "label_en": attribute.label_en}
        if attribute.categories:
            spec["categories"] = {k: list(v) for k, v in attribute.categories.items()}
            other = sorted(set(col.text) - set(attribute.lookup()))
            if other:
                lines.append(f"  # {col.name}: values not among the categories: {_span(other)}; add them as "
                             "categories or recode them")
        lines.append(f"  - {_flow(spec)}")
    for col in unknown:
        if col.kind != "unknown":
            continue
        if col.empty:
            seen = "empty in the rows read"
        elif col.numeric:
            seen = f"numbers {col.numbers.min():g} to {col.numbers.max():g}"
        else:
            values = sorted(set(col.text))
            seen = f"{len(values)} values such as {_span(values[:5])}"
        lines.append(f"  # {TODO}: column {col.name} ({seen}) is not in the built-in questionnaire: name it, "
                     "or delete the entry to keep it aside unanalysed")
        lines.append(f"  - {_flow({'id': col.name, 'label_zh': TODO, 'label_en': TODO})}")
    return lines


# ---------------------------------------------------------------------------- study.yaml
def _single(columns: list[_Column], name: str) -> str | None:
    """The one value of the file's ``name`` column (e.g. region), or None."""
    col = next((c for c in columns if c.name.strip().lower() == name and not c.empty), None)
    if col is None or col.text.nunique() != 1:
        return None
    value = col.text.iloc[0]
    return value[:-2] if value.endswith(".0") and value[:-2].isdigit() else value


GENERIC_WORDS = {"survey", "surveys", "data", "csi", "export", "results", "questionnaire", "answers",
                 "responses", "final", "clean", "raw", "wave", "sheet", "copy", "new", "v"}


def _from_name(stem: str) -> tuple[str | None, str | None]:
    """``linxi_2025`` → region ``linxi``, wave ``2025`` (words such as "survey" name no region)."""
    tokens = [t for t in re.split(r"[\W_]+", stem.lower()) if t]
    years = [t for t in tokens if re.fullmatch(r"(19|20)\d\d", t)]
    words = [t for t in tokens if t not in years and t not in GENERIC_WORDS
             and re.fullmatch(r"[a-z][a-z0-9]*", t)]
    return ("_".join(words) or None), (years[0] if years else None)


def _study_text(path: Path, folder: Path, frame: pd.DataFrame, columns: list[_Column], digest: str,
                region: str | None, wave: str | None, sheet: str | None) -> str:
    named_region, named_wave = _from_name(path.stem)
    region_id, region_from = (region.strip(), "as given") if region else (None, "")
    name_zh = None
    if (value := _single(columns, "region")) and re.search(r"[\u4e00-\u9fff]", value):
        name_zh = value  # a Chinese region column names the region; the id stays to be chosen
    elif not region_id and value:
        region_id, region_from = value, "from the file's region column"
    if not region_id and named_region:
        region_id, region_from = named_region, "from the file name"
    wave_value, wave_from = (wave.strip(), "as given") if wave else (None, "")
    if not wave_value and (value := _single(columns, "wave")):
        wave_value, wave_from = value, "from the file's wave column"
    if not wave_value and named_wave:
        wave_value, wave_from = named_wave, "from the file name"
    english = region_id.replace("_", " ").title() if region_id else None
    region_spec = {
        "id": region_id or f"{TODO}: a short id such as linxi",
        "name_zh": name_zh or f"{TODO}: Chinese name of the region",
        "name_en": f"{TODO} (e.g. {english})" if english else f"{TODO}: English name of the region",
    }
    wave_text = (_flow(int(wave_value)) if wave_value and wave_value.isdigit()
                 else _flow(wave_value or f"{TODO}: the survey wave, e.g. 2025"))
    try:
        data = Path(os.path.relpath(path.resolve(), folder.resolve())).as_posix()
    except ValueError:  # another drive (Windows): no relative path
        data = path.resolve().as_posix()
    segments = [c.name for c in columns if c.kind == "attribute" and c.known.id in SEGMENTS]
    seed = int.from_bytes(bytes.fromhex(digest[:8]), "big")
    lines = [
        f"# Study of {path.name}, scaffolded by `csi-research new-study`. Fill in every TODO (the study is",
        "# refused while one is left) and check codebook.yaml, the draft of the questionnaire.",
        "# description: {zh: ..., en: ...}   # optional: one sentence on the region for the reports",
        "language: zh          # report language: zh | en",
        f"region: {_flow(region_spec)}" + (f"  # id {region_from}" if region_id else ""),
        f"wave: {wave_text}" + (f"  # {wave_from}" if wave_value else ""),
        "synthetic: false      # real survey data: the bundled fictional inputs are refused",
        f"data: {_flow(data)}  # relative to this file",
    ]
    if sheet is not None:
        lines.append(f"sheet: {_flow(sheet)}  # the Excel sheet holding the survey")
    lines += [
        "codebook: codebook.yaml",
        "model: default        # the standard CSI paths among the codebook's constructs, or a model file",
        "estimation:",
        "  scheme: path        # path | centroid | factorial",
        "  scaled: true",
        "  missing: em         # em (EM imputation) | mean | listwise",
        "  cbsem: true",
        "  cbsem_estimator: auto  # auto (FIML when answers are missing, else ML) | ML | FIML",
        "bootstrap:",
        "  n_boot: 2000",
        "  quick_n_boot: 200",
        "  ci: 0.95",
        f"seed: {seed}  # from the survey file's SHA-256: the same file gives the same bootstrap draws",
        f"segments: {_flow(segments)}",
        "index_target: 80",
        "industry_evaluation: null   # your experts' AHP matrices (e.g. experts.yaml), or null",
        "internal_indicators: null   # your company's indicator file (kpis.csv), or null",
        "service_records: null       # the respondents' 95598 work orders (records.csv), or null",
        "# place: {province: ..., city: ...}   # for provincial and national roll-ups",
        "# customers: 100000                   # the region's weight in those roll-ups",
    ]
    return "\n".join(lines) + "\n"
