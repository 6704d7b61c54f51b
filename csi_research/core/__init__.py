"""Foundations every other layer stands on: errors, options, YAML, atomic output, diagnostics, the font."""

__version__ = "0.1.0"  # the package version (pyproject.toml states it too); bundles and --resume record it
