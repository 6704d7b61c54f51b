"""The locked environment: requirements.lock pins what pyproject.toml asks for, the running venv is
the locked one, setup installs from the lock, bundles record their versions, and a bundled study
recomputed here gives the numbers requirements.checksums.json holds.

The dependency tree is walked from the installed packages' own metadata (not from the lock or
the script that wrote it), so a lock that misses a package, or a venv that drifted from it, fails.
"""

from __future__ import annotations

import importlib.util
import json
import platform
import re
import shutil
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest
import scipy
import semopy
import sklearn
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from csi_research.study.bundle import load_bundle

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
LEFT_OUT = {"pip", "setuptools", "wheel", "csi-research"}  # never pinned (the installer and the project)
STUDY = "beiling-2025"  # the study recomputed here: it has every part (CB-SEM, moderation, service records)


def _load_script() -> ModuleType:
    path = ROOT / "scripts" / "refresh_checksums.py"
    spec = importlib.util.spec_from_file_location("refresh_checksums", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


checksums = _load_script()


def pins() -> dict[str, Version]:
    """The lock's ``name==version`` lines by normalised name; anything else there fails."""
    found: dict[str, Version] = {}
    for number, line in enumerate(LOCK.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        req = Requirement(line)
        spec = list(req.specifier)
        assert len(spec) == 1 and spec[0].operator == "==" and "*" not in spec[0].version, \
            f"{LOCK.name} line {number}: {line!r} is not an exact pin name==version"
        assert not req.extras and req.marker is None, \
            f"{LOCK.name} line {number}: {line!r} has extras or a marker"
        name = canonicalize_name(req.name)
        assert name not in found, f"{LOCK.name} line {number}: {req.name} pinned twice"
        found[name] = Version(spec[0].version)
    return found


def declared() -> list[Requirement]:
    """pyproject.toml's dependencies and its test extra (what `make setup` installs)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [Requirement(r) for r in [*project["dependencies"], *project["optional-dependencies"]["test"]]]


def installed_tree(roots: list[Requirement]) -> tuple[dict[str, str], list[str]]:
    """Every installed distribution ``roots`` reach (markers and extras evaluated here) with its
    version, and the required names that are not installed."""
    versions: dict[str, str] = {}
    extras_seen: dict[str, set[str]] = {}
    missing: list[str] = []
    stack = list(roots)
    while stack:
        req = stack.pop()
        name = canonicalize_name(req.name)
        if name in extras_seen and set(req.extras) <= extras_seen[name]:
            continue
        extras_seen[name] = extras_seen.get(name, set()) | set(req.extras)
        try:
            dist = distribution(req.name)
        except PackageNotFoundError:
            missing.append(req.name)
            continue
        versions[name] = dist.version
        for line in dist.requires or []:
            sub = Requirement(line)
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in {"", *req.extras}):
                stack.append(sub)
    return versions, missing


# ---------------------------------------------------------------- the lock
def test_lock_parses_into_exact_pins_without_the_installer_or_the_project():
    locked = pins()
    assert len(locked) > 50  # the whole tree, not only the direct dependencies
    assert not LEFT_OUT & set(locked)
    text = LOCK.read_text(encoding="utf-8")
    assert text.startswith("#") and "make lock" in text.split("\n\n")[0]  # says how to refresh it


def test_every_pyproject_requirement_is_pinned_within_its_range():
    locked = pins()
    for req in declared():
        name = canonicalize_name(req.name)
        assert name in locked, f"pyproject.toml requires {req}, {LOCK.name} does not pin it; run `make lock`"
        assert req.specifier.contains(locked[name], prereleases=True), (
            f"{LOCK.name} pins {req.name}=={locked[name]}, outside pyproject.toml's {req}; run `make lock`")


def test_the_lock_pins_exactly_the_installed_dependency_tree():
    tree, missing = installed_tree(declared())
    assert not missing, f"required but not installed: {', '.join(sorted(missing))}; run `make setup`"
    tree = {name: v for name, v in tree.items() if name not in LEFT_OUT}
    locked = pins()
    unpinned = sorted(set(tree) - set(locked))
    assert not unpinned, f"installed, required and not in {LOCK.name}: {', '.join(unpinned)}; run `make lock`"
    stale = sorted(set(locked) - set(tree))
    assert not stale, (f"{LOCK.name} pins packages nothing in pyproject.toml requires any more: "
                       f"{', '.join(stale)}; run `make lock`")


def test_the_running_environment_is_the_locked_one():
    tree, _ = installed_tree(declared())
    drifted = [f"{name} {tree[name]} installed, {version} locked" for name, version in sorted(pins().items())
               if name in tree and Version(tree[name]) != version]
    assert not drifted, (
        f"this environment ({sys.prefix}) drifted from {LOCK.name}: " + "; ".join(drifted)
        + ". Run `make setup` to install the locked versions, or `make lock` (then `make checksums`) "
        "to move the lock on purpose")


def test_setup_installs_from_the_lock_and_reruns_when_it_changes():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    rule = re.search(r"^\$\(STAMP\):(.*)\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert rule, "Makefile has no $(STAMP) rule"
    assert {"pyproject.toml", "requirements.lock"} <= set(rule.group(1).split())
    installs = [line for line in rule.group(2).splitlines() if ".[test]" in line]
    assert len(installs) == 1 and re.search(r"pip install .*-c requirements\.lock", installs[0]), installs
    assert re.search(r"^lock:.*\n\t.*scripts/write_lock\.py", makefile, re.MULTILINE)
    assert re.search(r"^checksums:.*\n\t.*scripts/refresh_checksums\.py", makefile, re.MULTILINE)
    for target in ("study", "test"):  # both run in the locked environment
        assert re.search(rf"^{target}: \$\(STAMP\)", makefile, re.MULTILINE)


# ---------------------------------------------------------------- a bundled study recomputed
@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    """The quick-mode bundle of :data:`STUDY`, saved as the checksum script saves it."""
    out = tmp_path_factory.mktemp("checksums")
    checksums.study_checksums(ROOT / "studies" / STUDY / "study.yaml", out)
    return out / STUDY


def test_bundle_records_the_versions_it_was_computed_with(bundle, tmp_path):
    results = json.loads((bundle / "results.json").read_text(encoding="utf-8"))
    versions = results["versions"]
    # the modules' own version attributes, not importlib.metadata which the recorder reads
    assert versions["python"] == platform.python_version()
    for name, module in {"numpy": np, "scipy": scipy, "pandas": pd, "semopy": semopy,
                         "scikit-learn": sklearn}.items():
        assert versions[name] == module.__version__, name
    assert "matplotlib" in versions and "blas" in versions
    assert load_bundle(bundle).versions == versions

    older = tmp_path / "older"  # a bundle written before versions were recorded still loads
    shutil.copytree(bundle, older)
    del results["versions"]
    (older / "results.json").write_text(json.dumps(results), encoding="utf-8")
    assert load_bundle(older).versions == {}
    assert load_bundle(older).results["values"] == load_bundle(bundle).results["values"]


def test_bundled_study_gives_the_recorded_checksums(bundle):
    recorded = checksums.load()
    assert recorded["digits"] == checksums.DIGITS and recorded["quick"] is True
    differences = checksums.compare(recorded["studies"][STUDY], checksums.bundle_checksums(bundle))
    changes = checksums.version_changes(recorded["versions"], json.loads(
        (bundle / "results.json").read_text(encoding="utf-8"))["versions"])
    assert not differences, (
        f"{STUDY} in quick mode no longer gives the numbers of requirements.checksums.json: "
        + "; ".join(differences) + ". Versions changed since: " + ("; ".join(changes) or "none")
        + ". If intended, run `make checksums` and commit the file")


def test_checksums_cover_every_bundled_study():
    studies = {p.parent.name for p in (ROOT / "studies").glob("*/study.yaml")}
    assert set(checksums.load()["studies"]) == studies, "after adding or removing studies: `make checksums`"
    assert all({"results.json", "index_draws.csv", "tables/indices.csv"} <= set(files)
               for files in checksums.load()["studies"].values())


def test_a_moved_number_is_reported_by_file(bundle, tmp_path):
    moved = tmp_path / "moved"
    shutil.copytree(bundle, moved)
    table = moved / "tables" / "indices.csv"
    frame = pd.read_csv(table)
    frame.loc[0, "index"] += 1e-3  # below what a report shows (two decimals), far above rounding noise
    frame.to_csv(table, index=False)
    assert checksums.compare(checksums.bundle_checksums(bundle), checksums.bundle_checksums(moved)) == [
        "tables/indices.csv: differs"]


# ---------------------------------------------------------------- what is hashed
def test_rounding_ignores_last_bit_noise_but_not_a_changed_digit():
    def digest(text: str) -> bytes:
        return checksums.canonical("t.csv", text.encode("utf-8"))

    assert digest("a,b\n72.123456789012,0.5\n") == digest("a,b\n72.123456789013,0.5000000000000001\n")
    assert digest("x\n-3.1e-17\n") == digest("x\n2.2e-16\n") == digest("x\n0.0\n")  # noise around zero
    assert digest("x\n72.1234\n") != digest("x\n72.1236\n")
    assert digest("IMAG1,2025-01-03,v1.2.3\n") == b"IMAG1,2025-01-03,v1.2.3\n"  # words and dates untouched


def test_results_json_is_hashed_without_the_environment_it_ran_in():
    def digest(results: dict) -> bytes:
        return checksums.canonical("results.json", json.dumps(results).encode("utf-8"))

    base = {"values": {"csi": 76.123456789, "n": 450}, "versions": {"numpy": "2.4.6"},
            "package_version": "0.1.0"}
    other_env = {**base, "versions": {"numpy": "3.0.0"}, "package_version": "0.2.0"}
    assert digest(base) == digest(other_env)
    assert digest(base) != digest({**base, "values": {"csi": 76.124, "n": 450}})
