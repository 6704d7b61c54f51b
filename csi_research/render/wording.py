"""Every sentence and label of the reports, in Chinese and English, from one table.

The table is data: ``resources/wording.yaml`` (key: zh, en); this module says a sentence.

A template is trusted markup; the values formatted into it are escaped (``markupsafe``), so
region names, descriptions and item texts from users' files can never become HTML. Numbers
are formatted by the caller (one decimal for indices) before they reach a template.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from csi_research.core.options import LANGUAGES
from csi_research.core.yamlfile import load_resource


def bilingual(name: str, part: str | None = None) -> dict[str, tuple[str, str]]:
    """The resource table ``name`` (or its section ``part``), key: {zh, en}, as key → (zh, en).

    Every entry must give both languages, non-empty: a sentence missing in one language fails
    at import, not in a reader's report.
    """
    table = load_resource(name)
    where = f"resources/{name}" + (f", section {part}" if part else "")
    if part is not None:
        table = table[part]
    for key, entry in table.items():
        if not isinstance(entry, dict) or set(entry) != set(LANGUAGES) or not all(
                isinstance(entry[k], str) and entry[k].strip() for k in LANGUAGES):
            raise ValueError(f"{where}: entry {key!r} must give a non-empty zh and en text, not {entry!r}")
    return {key: (entry["zh"], entry["en"]) for key, entry in table.items()}


TEXT: dict[str, tuple[str, str]] = bilingual("wording.yaml")


def say(key: str, language: str, **values: Any) -> Markup:
    """The sentence ``key`` in ``language`` with ``values`` escaped into it."""
    zh, en = TEXT[key]
    return Markup(zh if check_language(language) == "zh" else en).format(**values)


def check_language(language: str) -> str:
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, not {language!r}")
    return language


def num(x: float, digits: int = 1) -> str:
    """A number for readers: fixed decimals, a real minus sign."""
    return f"{x:.{digits}f}".replace("-", "−")


def signed(x: float, digits: int = 1) -> str:
    return ("+" if x > 0 else "") + num(x, digits)
