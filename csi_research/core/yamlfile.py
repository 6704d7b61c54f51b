"""Reading the project's YAML files (models, codebooks, studies) with one set of clear errors."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from csi_research.core.errors import ModelSpecError

# What `csi-research new-study` writes where only the researcher knows the answer; a value starting
# with it is refused by the loaders until it is filled in.
TODO = "TODO"
_TODO = re.compile(rf"\s*{TODO}\b")


class _DuplicateKey(yaml.YAMLError):
    def __init__(self, key: Any, line: int, first: int) -> None:
        super().__init__(f"key {short(key)} appears twice (lines {first} and {line})")
        self.key, self.line, self.first = key, line, first


class _Strict:
    """PyYAML keeps the last of two equal keys; a second ``Image:`` block would vanish silently."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node)  # type: ignore[attr-defined]
            line = key_node.start_mark.line + 1
            try:
                if key in seen:
                    raise _DuplicateKey(key, line, seen[key])
            except TypeError:  # an unhashable key: PyYAML reports it itself
                continue
            seen[key] = line
        return super().construct_mapping(node, deep=deep)  # type: ignore[misc]


# Safe loaders (no objects built): libyaml's parser first where PyYAML has it (its wheels do), several
# times faster; the pure-Python one when that fails, for its more helpful messages (tabs, say).
_LOADERS = tuple(type(f"_Strict{base.__name__}", (_Strict, base), {})
                 for base in (getattr(yaml, "CSafeLoader", None), yaml.SafeLoader) if base is not None)


def load_yaml(path: str | Path, what: str) -> tuple[Any, str]:
    """Parse ``path`` and return the data and the text; ``what`` names the file in errors."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelSpecError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ModelSpecError(f"{path}: the {what} is not UTF-8 text; save it as UTF-8") from None
    try:
        return parse_yaml(text), text
    except _DuplicateKey as exc:
        raise ModelSpecError(
            f"{path}: line {exc.line}: key {short(exc.key)} is given twice (also on line {exc.first}); "
            "YAML would keep only the last one: merge the two entries or rename one"
        ) from None
    except yaml.YAMLError as exc:
        raise ModelSpecError(f"{path}: not valid YAML{_where(exc)}") from None


def parse_yaml(text: str) -> Any:
    """YAML text as data, safely, refusing a key given twice in a mapping (raises yaml.YAMLError)."""
    return _read(yaml.load, text)


def _read(read: Any, text: str) -> Any:
    """``read(text, Loader=...)`` (load or compose) with each loader in turn; the last one's error rises."""
    for loader in _LOADERS[:-1]:
        try:
            return read(text, Loader=loader)
        except yaml.YAMLError:
            pass
    return read(text, Loader=_LOADERS[-1])


def load_resource(name: str) -> Any:
    """A YAML data file shipped with the package (``csi_research/resources/<name>``), parsed."""
    return parse_yaml(resources.files("csi_research").joinpath("resources", name).read_text("utf-8"))


def read_yaml(path: str | Path, what: str) -> Any:
    """Parse ``path``; ``what`` names the file in errors ("model file", "codebook", "study file")."""
    return load_yaml(path, what)[0]


def _where(exc: yaml.YAMLError) -> str:
    """`` at line L, column C: problem`` (PyYAML's own message repeats the text around the error)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if "'\\t'" in problem:
        problem += " (YAML indents with spaces, not tabs)"
    if mark is None:
        return f": {problem}"
    return f" at line {mark.line + 1}, column {mark.column + 1}: {problem}"


def find_todo(text: str) -> tuple[int, str, str] | None:
    """The first value left as ``TODO …``: its line (1-based), its key path and its text, else None."""
    try:
        root = _read(yaml.compose, text)
    except yaml.YAMLError:
        return None  # the parser reports it
    stack: list[tuple[yaml.Node | None, str]] = [(root, "")]
    while stack:
        node, where = stack.pop(0)
        if isinstance(node, yaml.ScalarNode):
            if node.tag == "tag:yaml.org,2002:str" and _TODO.match(node.value):
                return node.start_mark.line + 1, where, node.value.strip()
        elif isinstance(node, yaml.MappingNode):
            stack[:0] = [(v, f"{where}.{k.value}" if where else str(k.value)) for k, v in node.value
                         if isinstance(k, yaml.ScalarNode)]
        elif isinstance(node, yaml.SequenceNode):
            stack[:0] = [(v, f"{where}[{_entry_name(v, k)}]") for k, v in enumerate(node.value)]
    return None


def find_todo_value(data: Any, where: str = "") -> tuple[str, str] | None:
    """Like :func:`find_todo` for parsed data (no lines): the key path and text of the first TODO."""
    if isinstance(data, str):
        return (where, data.strip()) if _TODO.match(data) else None
    if isinstance(data, dict):
        entries = [(f"{where}.{k}" if where else str(k), v) for k, v in data.items()]
    elif isinstance(data, list | tuple):
        entries = [(f"{where}[{v.get('id', k) if isinstance(v, dict) else k}]", v)
                   for k, v in enumerate(data)]
    else:
        return None
    for key, value in entries:
        if found := find_todo_value(value, key):
            return found
    return None


def _entry_name(node: yaml.Node, index: int) -> str:
    """A list entry by its ``id`` when it has one (``items[QUA11]``), else by position."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == "id" and isinstance(value, yaml.ScalarNode):
                return value.value
    return str(index)


def short(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters: a bad value is quoted, not pasted whole."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def names(values: Any, limit: int = 12) -> str:
    """Comma-separated names, the first ``limit`` of them (lists of allowed values stay short)."""
    values = [str(v) for v in values]
    more = f", … ({len(values) - limit} more)" if len(values) > limit else ""
    return ", ".join(values[:limit]) + more
