"""Reading the project's YAML files (models, codebooks, studies) with one set of clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from csi_research.errors import ModelSpecError


def read_yaml(path: str | Path, what: str) -> Any:
    """Parse ``path``; ``what`` names the file in errors ("model file", "codebook", "study file")."""
    path = Path(path)
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ModelSpecError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ModelSpecError(f"{path}: the {what} is not UTF-8 text; save it as UTF-8") from None
    except yaml.YAMLError as exc:
        raise ModelSpecError(f"{path}: not valid YAML: {exc}") from None
