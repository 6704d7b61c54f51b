"""Every bad model or codebook file is one ModelSpecError naming the file, the key and the bad value.

Never a raw TypeError/ValueError/KeyError, never a message that pastes a whole file, and the file
itself is never touched.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from faults import Snapshot

from csi_research.core.errors import ModelSpecError
from csi_research.data.codebook import Codebook
from csi_research.model import CSIModel

MESSAGE_LIMIT = 420  # a message is a sentence or two, not a dump

GOOD_MODEL = """\
constructs:
  Image: [IMG1, IMG2]
  Quality: {items: [QUA1, QUA2], mode: A}
  Satisfaction: [SAT1, SAT2]
paths:
  - Image -> Quality
  - Image -> Satisfaction
  - Quality -> Satisfaction
"""


def _model(old: str, new: str) -> str:
    assert old in GOOD_MODEL
    return GOOD_MODEL.replace(old, new)


# (id, file text, fragments the message must contain besides the file name)
MODEL_CASES: list[tuple[str, str | bytes, tuple[str, ...]]] = [
    ("empty-file", "", ("model is empty", "constructs", "paths")),
    ("comment-only", "# nothing yet\n", ("model is empty",)),
    ("a-list", "- Image\n- Satisfaction\n", ("must be a mapping", "a list")),
    ("a-text", "Image -> Satisfaction\n", ("must be a mapping", "a text")),
    ("unknown-key", GOOD_MODEL + "weights: {}\n", ("unknown key(s) ['weights']", "allowed: constructs")),
    ("missing-paths", GOOD_MODEL.split("paths:")[0], ("needs the keys", "missing: paths")),
    ("constructs-empty", _model("constructs:\n  Image: [IMG1, IMG2]\n  Quality: {items: [QUA1, QUA2], "
                                "mode: A}\n  Satisfaction: [SAT1, SAT2]\n", "constructs: {}\n"),
     ("'constructs' must map each construct name",)),
    ("block-empty", _model("Image: [IMG1, IMG2]", "Image: []"), ("construct Image has no items",)),
    ("block-none", _model("Image: [IMG1, IMG2]", "Image:"), ("construct Image has no items",)),
    ("items-as-text", _model("Image: [IMG1, IMG2]", "Image: IMG1, IMG2"),
     ("construct Image: items must be a list", "'IMG1, IMG2'")),
    ("item-in-two-blocks", _model("SAT1, SAT2", "SAT1, IMG2"),
     ("item IMG2 is in two constructs (Image and Satisfaction)",)),
    ("item-twice-in-a-block", _model("[IMG1, IMG2]", "[IMG1, IMG1]"),
     ("construct Image lists item IMG1 twice",)),
    ("unknown-block-key", _model("mode: A", "mode: A, weight: 2"),
     ("construct Quality: unknown key(s) ['weight']", "allowed: items")),
    ("bad-mode", _model("mode: A", "mode: C"), ("construct Quality: mode 'C'", "'A' (reflective)")),
    ("numeric-mode", _model("mode: A", "mode: 1"), ("construct Quality: mode must be", "not 1")),
    ("blank-label", _model("mode: A", "mode: A, label_en: ''"), ("construct Quality: label_en must be",)),
    ("path-unknown-construct", _model("Image -> Quality", "Image -> Value"),
     ("path Image -> Value: unknown construct Value", "known constructs: Image, Quality, Satisfaction")),
    ("self-loop", GOOD_MODEL + "  - Quality -> Quality\n", ("path Quality -> Quality is a self-loop",)),
    ("cycle", GOOD_MODEL + "  - Satisfaction -> Image\n", ("cycle", "must be recursive")),
    ("paths-empty", GOOD_MODEL.split("paths:")[0] + "paths:\n",
     ("paths is empty", "needs paths", "measurement-only model (CFA")),
    ("paths-empty-list", GOOD_MODEL.split("paths:")[0] + "paths: []\n", ("paths is empty",)),
    ("paths-a-mapping", GOOD_MODEL.split("paths:")[0] + "paths: {Image: Satisfaction}\n",
     ("paths must be a list", "a mapping")),
    ("path-not-a-pair", GOOD_MODEL + "  - [Image, Quality, Satisfaction]\n",
     ("path ['Image', 'Quality', 'Satisfaction'] must name a source and a target",)),
    ("path-as-mapping", GOOD_MODEL + "  - Image: Satisfaction\n",
     ("path {'Image': 'Satisfaction'} must name a source and a target",)),
    ("path-without-arrow", GOOD_MODEL + "  - Image to Satisfaction\n",
     ("path 'Image to Satisfaction' must name a source and a target",)),
    ("target-not-a-construct", GOOD_MODEL + "target: Loyalty\n", ("target 'Loyalty' is not a construct",)),
    ("target-a-list", GOOD_MODEL + "target: [Satisfaction]\n", ("target must be a construct name",)),
    ("duplicate-construct-key", _model("  Satisfaction: [SAT1, SAT2]\n",
                                       "  Satisfaction: [SAT1, SAT2]\n  Image: [IMG3]\n"),
     ("key 'Image' is given twice", "line 5", "line 2")),
    ("invalid-yaml", "constructs: {Image: [IMG1\npaths: [", ("not valid YAML at line",)),
    ("tab-indent", "constructs:\n\tImage: [IMG1]\n", ("not valid YAML", "spaces, not tabs")),
    ("not-utf8", GOOD_MODEL.replace("Image -> Quality", "Image -> Quality  # 形象").encode("gbk"),
     ("not UTF-8",)),
    ("todo-left", _model("Image -> Quality", "TODO -> Quality"),
     ("line 6", "paths[0] is still 'TODO -> Quality'")),
    ("long-value", _model("Image: [IMG1, IMG2]", "Image: " + "IMG1 " * 200), ("items must be a list", "…")),
]


@pytest.mark.parametrize(("text", "fragments"), [c[1:] for c in MODEL_CASES], ids=[c[0] for c in MODEL_CASES])
def test_bad_model_files(tmp_path, text, fragments):
    _refused_naming_the_file(tmp_path / "my_model.yaml", text, fragments, CSIModel.from_yaml)


def test_the_good_model_file_loads(tmp_path):
    path = tmp_path / "my_model.yaml"
    path.write_text(GOOD_MODEL, encoding="utf-8")
    assert CSIModel.from_yaml(path).paths == (("Image", "Quality"), ("Image", "Satisfaction"),
                                              ("Quality", "Satisfaction"))


def test_a_model_without_paths_is_still_a_model_in_code():
    # measurement-only models are refused in files (see the message), not in the estimators' API
    assert CSIModel({"A": ["a1", "a2"]}, []).paths == ()


# ---------------------------------------------------------------------------- codebooks
def _default() -> dict[str, Any]:
    return copy.deepcopy(DEFAULT_SPEC)


DEFAULT_SPEC = Codebook.default().to_dict()


def _item(spec: dict[str, Any], item_id: str) -> dict[str, Any]:
    return next(i for i in spec["items"] if i["id"] == item_id)


Change = Callable[[dict[str, Any]], Any]


def _set(path: str, value: Any) -> Change:
    """Set spec[a][b]… to value, where path is 'a.b' (an item by its id: 'items.QUA1.scale')."""
    def change(spec: dict[str, Any]) -> None:
        keys = path.split(".")
        node: Any = spec
        for key in keys[:-1]:
            node = _item(spec, key) if node is spec["items"] else node[key]
        node[keys[-1]] = value
    return change


def _pop(path: str) -> Change:
    def change(spec: dict[str, Any]) -> None:
        keys = path.split(".")
        node: Any = spec
        for key in keys[:-1]:
            node = _item(spec, key) if node is spec["items"] else node[key]
        del node[keys[-1]]
    return change


def _duplicate_item(spec: dict[str, Any]) -> None:
    spec["items"].append(copy.deepcopy(_item(spec, "QUA3")))


CODEBOOK_CASES: list[tuple[str, Change, tuple[str, ...]]] = [
    ("unknown-top-key", _set("attribute", []), ("unknown key(s) ['attribute']", "allowed: name")),
    ("missing-items", _pop("items"), ("a codebook needs the keys", "missing: items")),
    ("scales-not-a-mapping", _set("scales", ["semantic5"]), ("scales must be a mapping", "['semantic5']")),
    ("items-empty", _set("items", []), ("items is empty",)),
    ("items-not-a-list", _set("items", {"QUA1": "Quality"}), ("items must be a list",)),
    ("codes-a-range", _set("scales.ten.codes", "1-5"),
     ("scale ten: codes must be a list of integers such as [1, 2, 3, 4, 5], not '1-5'",
      "write 1-5 as [1, 2, 3, 4, 5]")),
    ("codes-not-integers", _set("scales.ten.codes", [1, 2, 2.5, 3]),
     ("scale ten: codes must be a list of integers", "2.5")),
    ("codes-too-few", _set("scales.seven.codes", [1]), ("scale seven: codes [1] must be at least two",)),
    ("codes-not-increasing", _set("scales.seven.codes", [3, 2, 1]), ("at least two increasing integers",)),
    ("codes-missing", _pop("scales.seven.codes"), ("scale seven: missing key(s) codes",)),
    ("unknown-scale-key", _set("scales.seven.label", ["a"]), ("scale seven: unknown key(s) ['label']",)),
    ("labels-length", _set("scales.semantic5.labels_en", ["bad", "good"]),
     ("scale semantic5: labels_en has 2 entries for 5 codes",)),
    ("labels-not-a-list", _set("scales.semantic5.labels_zh", "很不满意 … 很满意"),
     ("scale semantic5: labels_zh must be a list of texts",)),
    ("grades-not-increasing", _set("scales.semantic5.grade_scores", [0, 60, 40, 80, 100]),
     ("scale semantic5: grade_scores", "must increase within 0–100")),
    ("grades-not-numbers", _set("scales.semantic5.grade_scores", ["low", 40, 60, 80, 100]),
     ("scale semantic5: grade_scores must be a list of numbers",)),
    ("construct-no-labels", _set("constructs.Image", "企业形象"), ("construct Image: expected a mapping",)),
    ("item-unknown-scale", _set("items.QUA1.scale", "hundred"),
     ("item QUA1: unknown scale hundred", "known: semantic5, ten")),
    ("item-unknown-construct", _set("items.QUA1.construct", "Qualty"),
     ("item QUA1: unknown construct Qualty", "known: Image")),
    ("item-unknown-subindicator", _set("items.QUA1.subindicator", "supply"),
     ("item QUA1: unknown sub-indicator supply",)),
    ("item-missing-key", _pop("items.QUA1.scale"), ("item QUA1: missing key(s) scale",)),
    ("item-duplicate", _duplicate_item, ("item QUA3 is listed twice",)),
    ("missing-code-clash", _set("items.QUA2.missing_codes", [5, 9]),
     ("item QUA2: missing code(s) [5] are also answer codes", "outside the scale")),
    ("missing-codes-text", _set("items.QUA2.missing_codes", "9"),
     ("item QUA2: missing_codes must be a list of integers", "'9'")),
    ("reverse-quoted", _set("items.CMP2.reverse", "false"), ("item CMP2: reverse must be true or false",)),
    ("item-a-text", lambda s: s["items"].append("QUA11"), ("item 31: expected a mapping", "'QUA11'")),
    ("subindicator-no-construct", _pop("subindicators.value.construct"),
     ("sub-indicator value: missing key(s) construct",)),
    ("category-not-a-pair", lambda s: s["attributes"][3]["categories"].update(urban="城市"),
     ("attribute area: category urban must have [chinese, english] labels", "'城市'")),
    ("attributes-absent", _pop("attributes"), ()),  # attributes are optional: loads
    ("id-column-a-list", _set("id_column", ["id"]), ("id_column must be a non-empty text",)),
    ("todo-left", _set("items.QUA1.construct", "TODO: which construct?"),
     ("items[QUA1].construct is still 'TODO: which construct?'", "fill in")),
    ("long-value", _set("scales.ten.codes", "one to ten " * 40), ("codes must be a list of integers", "…")),
]


@pytest.mark.parametrize(("change", "fragments"), [c[1:] for c in CODEBOOK_CASES],
                         ids=[c[0] for c in CODEBOOK_CASES])
def test_bad_codebook_files(tmp_path, change, fragments):
    spec = _default()
    change(spec)
    path = tmp_path / "my_codebook.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")
    snap = Snapshot(path)
    if not fragments:
        assert Codebook.from_yaml(path).attributes == ()
        return
    message = _error(lambda: Codebook.from_yaml(path))
    assert message.startswith(f"{path}: ")
    for fragment in fragments:
        assert fragment in message
    snap.unchanged()


@pytest.mark.parametrize(("text", "fragments"), [
    ("", ("codebook is empty",)),
    ("- scales\n- items\n", ("must be a mapping", "['scales', 'items']")),
    ("scales: {ten: {codes: [1, 2}\n", ("not valid YAML at line 1",)),
    ("name: 问卷\nscales: {}\n".encode("gb18030"), ("not UTF-8",)),
    ("name: a\nname: b\n", ("key 'name' is given twice",)),
], ids=["empty", "a-list", "invalid-yaml", "not-utf8", "duplicate-key"])
def test_unreadable_codebook_files(tmp_path, text, fragments):
    _refused_naming_the_file(tmp_path / "my_codebook.yaml", text, fragments, Codebook.from_yaml)


def test_a_todo_in_a_codebook_names_its_line(tmp_path):
    text = Path(__file__).resolve().parents[1].joinpath(
        "csi_research", "resources", "codebook_default.yaml").read_text(encoding="utf-8")
    lines = text.splitlines()
    k = next(i for i, line in enumerate(lines) if "id: QUA4," in line)
    lines[k] = lines[k].replace("subindicator: channels", "subindicator: TODO")
    path = tmp_path / "my_codebook.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    snap = Snapshot(path)
    message = _error(lambda: Codebook.from_yaml(path))
    assert message.startswith(f"{path}: line {k + 1}: items[QUA4].subindicator is still 'TODO'")
    snap.unchanged()


def test_check_errors_of_a_codebook_file_name_the_file(tmp_path):
    spec = _default()
    spec["attributes"].append({"id": "QUA1", "label_zh": "重复", "label_en": "duplicate"})
    path = tmp_path / "my_codebook.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    message = _error(lambda: Codebook.from_yaml(path))
    assert message.startswith(f"{path}: column name(s) ['QUA1'] are used twice")


def _refused_naming_the_file(path: Path, text: str | bytes, fragments: tuple[str, ...],
                             load: Callable[[Path], Any]) -> None:
    """Loading ``text`` from ``path``: one ModelSpecError naming the path and saying each fragment."""
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    snap = Snapshot(path)
    message = _error(lambda: load(path))
    assert message.startswith(f"{path}: ")
    for fragment in fragments:
        assert fragment in message
    snap.unchanged()


def _error(action: Callable[[], Any]) -> str:
    """The message of the ModelSpecError ``action`` raises (exactly that class, nothing raw)."""
    with pytest.raises(Exception) as info:
        action()
    assert type(info.value) is ModelSpecError, f"{type(info.value).__name__}: {info.value}"
    message = str(info.value)
    assert len(message) <= MESSAGE_LIMIT, message
    return message
