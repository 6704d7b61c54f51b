"""Resolve the project's dependencies afresh and write them, pinned exactly, to ``requirements.lock``.

``make setup`` installs with ``-c requirements.lock``, so every machine gets the versions the
bundled studies' checksums (``requirements.checksums.json``) were made with. Run ``make lock`` to
move to newer versions on purpose, then ``make checksums`` and look at what changed.

The versions are resolved in a throwaway virtual environment from PyPI alone (the machine's
extra indexes and wheel folders are switched off), so the lock names only releases any fresh
machine can install. The project itself and pip, setuptools and wheel are left out.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
PYPI = "https://pypi.org/simple"
LEFT_OUT = {"pip", "setuptools", "wheel", "csi-research"}  # normalised names

HEADER = """\
# Exact versions of every package `make setup` installs (the project's dependencies, its test
# extra and everything they pull in), resolved from PyPI on Python {python} ({system}).
# `make setup` installs with `-c requirements.lock`; the project itself, pip, setuptools and
# wheel are not pinned here.
# Refresh on purpose with `make lock` (scripts/write_lock.py), then `make checksums` to see
# whether any number of the bundled studies moved.
"""


def normalise(name: str) -> str:
    """A distribution name as PEP 503 compares them (``Foo_Bar`` and ``foo-bar`` are one)."""
    return "-".join(name.replace("_", "-").replace(".", "-").lower().split("-"))


def resolve(python: str, pypi_only: bool = True) -> dict[str, str]:
    """Install ``.[test]`` into a new virtual environment; its packages and versions."""
    env = dict(os.environ)
    if pypi_only:  # what a fresh machine sees: nothing from this machine's own indexes or wheel folders
        env.update(PIP_CONFIG_FILE=os.devnull, PIP_INDEX_URL=PYPI, PIP_EXTRA_INDEX_URL="", PIP_FIND_LINKS="")
    with tempfile.TemporaryDirectory(prefix="csi-lock-") as tmp:
        venv = Path(tmp) / "venv"
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip"]
        subprocess.run([*pip, "install", "--quiet", "--upgrade", "pip"], check=True, env=env)
        subprocess.run([*pip, "install", "--quiet", "-e", f"{ROOT}[test]"], check=True, env=env)
        listed = subprocess.run([*pip, "list", "--format=json", "--exclude-editable"], check=True,
                                env=env, capture_output=True, text=True).stdout
    return {p["name"]: p["version"] for p in json.loads(listed) if normalise(p["name"]) not in LEFT_OUT}


def lock_text(versions: dict[str, str], python: str) -> str:
    """The lock file's text: the header, then ``name==version`` sorted by normalised name."""
    head = HEADER.format(python=python, system=f"{platform.system()} {platform.machine()}")
    pins = [f"{name}=={versions[name]}" for name in sorted(versions, key=normalise)]
    return head + "\n".join(pins) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable, help="interpreter for the throwaway venv")
    parser.add_argument("--out", type=Path, default=LOCK)
    parser.add_argument("--machine-indexes", action="store_true",
                        help="also use this machine's pip indexes and wheel folders (faster, but may "
                             "pick releases PyPI does not have)")
    args = parser.parse_args(argv)
    start = time.monotonic()
    versions = resolve(args.python, pypi_only=not args.machine_indexes)
    version = subprocess.run([args.python, "-c", "import platform; print(platform.python_version())"],
                             check=True, capture_output=True, text=True).stdout.strip()
    text = lock_text(versions, version)
    temporary = args.out.with_name(f".{args.out.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(args.out)  # the lock is replaced whole or not at all; git keeps the previous one
    print(f"wrote {args.out}: {len(versions)} packages pinned in {time.monotonic() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
