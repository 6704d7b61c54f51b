"""The reports' wording, headers and diagnostic messages are data files: both languages, same parts."""

from __future__ import annotations

import string
from importlib import resources

import pytest
import yaml

import csi_research.render.wording as wording
from csi_research.render import messages
from csi_research.render.headers import COLUMNS, TABLE_NAMES
from csi_research.render.wording import TEXT, bilingual

# where the Chinese sentence needs a part the English one carries in its sign (上升/下降)
ZH_ONLY = {"change_csi": {"direction"}}


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def resource(name: str) -> str:
    return resources.files("csi_research").joinpath("resources", name).read_text("utf-8")


@pytest.mark.parametrize("key", sorted(TEXT))
def test_every_sentence_has_both_languages_with_the_same_parts(key):
    zh, en = TEXT[key]
    assert zh.strip() and en.strip()
    assert fields(zh) == fields(en) | ZH_ONLY.get(key, set()), key


def test_headers_and_sheet_names_have_both_languages():
    for table in (COLUMNS, TABLE_NAMES):
        for key, (zh, en) in table.items():
            assert zh.strip() and en.strip(), key


@pytest.mark.parametrize("name", ["wording.yaml", "headers.yaml", "diagnostics.yaml"])
def test_the_tables_are_read_from_their_data_files(name):
    data = yaml.safe_load(resource(name))
    if name == "wording.yaml":
        assert {k: (v["zh"], v["en"]) for k, v in data.items()} == TEXT
    elif name == "headers.yaml":
        assert {k: (v["zh"], v["en"]) for k, v in data["tables"].items()} == TABLE_NAMES
        assert all(COLUMNS[k] == (v["zh"], v["en"]) for k, v in data["columns"].items())
    else:
        assert [m["key"] for m in data["messages"]] == [t.key for t in messages.CATALOG]
        assert [(m["en"], m["zh"]) for m in data["messages"]] == [(t.en, t.zh) for t in messages.CATALOG]


@pytest.mark.parametrize("entry", [{"zh": "标题"}, {"zh": "标题", "en": ""}, "Title",
                                   {"zh": "标题", "en": "Title", "fr": "Titre"}])
def test_an_entry_missing_a_language_is_refused_naming_it(monkeypatch, entry):
    table = {"title": {"zh": "x", "en": "y"}, "broken": entry}
    monkeypatch.setattr(wording, "load_resource", lambda name: table)
    with pytest.raises(ValueError, match=r"wording\.yaml: entry 'broken' must give a non-empty zh and en"):
        bilingual("wording.yaml")


def test_a_message_missing_its_chinese_or_naming_an_unknown_converter_is_refused():
    table = yaml.safe_load(resource("diagnostics.yaml"))
    first = dict(table["messages"][0])
    with pytest.raises(ValueError, match=rf"message '{first['key']}' must give .* non-empty en and zh"):
        messages._catalog({**table, "messages": [{**first, "zh": " "}]})
    with pytest.raises(ValueError, match=r"unknown converter\(s\) shout"):
        messages._catalog({**table, "messages": [{**first, "convert": {"items": "shout"}}]})
    categories, catalog = messages._catalog(table)
    assert [t.key for t in catalog] == [t.key for t in messages.CATALOG] and categories == messages.CATEGORIES
