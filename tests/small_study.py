"""A small synthetic study folder for tests of what study.yaml declares (moderation, higher order…)."""

from __future__ import annotations

from pathlib import Path

from csi_research.data.simulate import simulate_survey

STUDY = """\
region: {id: beiling, name_zh: 测试, name_en: Test}
wave: 2025
synthetic: true
data: survey.csv
bootstrap: {n_boot: 300, quick_n_boot: 100}
seed: 5
"""


def small_study(root: Path, key: str, declared: str) -> Path:
    """``root/study.yaml`` on 300 synthetic Beiling answers, with ``key: declared`` added."""
    root.mkdir(parents=True, exist_ok=True)
    if not (root / "survey.csv").exists():
        simulate_survey("beiling", n=300, seed=5, wave=2025).to_csv(root / "survey.csv")
    (root / "study.yaml").write_text(f"{STUDY}{key}: {declared}\n", encoding="utf-8")
    return root / "study.yaml"
