"""The command line with a user's mistakes: one message naming the problem, the right exit code,
no traceback, no input changed and no existing file replaced."""

from __future__ import annotations

from pathlib import Path

import pytest
from faults import Snapshot

from csi_research.run import cli
from csi_research.run.cli import main

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    return code, captured.err


def test_simulate_never_overwrites_a_different_file(tmp_path, capsys):
    out = tmp_path / "linxi_2025.csv"
    out.write_text("my own survey\n", encoding="utf-8")
    snap = Snapshot(tmp_path)
    code, err = run(capsys, "simulate", "--region", "linxi", "--n", "20", "--out", str(tmp_path))
    assert code == 2 and str(out) in err and "never overwritten" in err
    snap.unchanged()


def test_simulate_again_leaves_the_same_file_alone(tmp_path, capsys):
    args = ("simulate", "--region", "linxi", "--n", "20", "--out", str(tmp_path / "a.csv"))
    assert run(capsys, *args)[0] == 0
    snap = Snapshot(tmp_path)
    assert main(list(args)) == 0
    assert "unchanged" in capsys.readouterr().out
    snap.unchanged()


def test_simulate_all_refuses_a_changed_readme(tmp_path, capsys):
    (tmp_path / "README.md").write_text("notes of my own\n", encoding="utf-8")
    snap = Snapshot(tmp_path)
    code, err = run(capsys, "simulate", "--all", "--out", str(tmp_path))
    assert code == 2 and "README.md" in err
    snap.unchanged()


@pytest.mark.parametrize("n", ["-5", "0", "many", "2.5"])
def test_simulate_needs_a_positive_number_of_respondents(tmp_path, capsys, n):
    code, err = run(capsys, "simulate", "--region", "linxi", "--n", n, "--out", str(tmp_path))
    assert code == 2 and "--n" in err and n in err
    assert not list(tmp_path.iterdir())


def test_simulate_into_a_path_under_a_file(tmp_path, capsys):
    (tmp_path / "blocker").write_text("x")
    code, err = run(capsys, "simulate", "--region", "linxi", "--n", "20",
                    "--out", str(tmp_path / "blocker" / "s.csv"))
    assert code == 2 and "blocker" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("argv", [["frobnicate"], ["run", "--workers", "0"], ["run", "--language", "fr"],
                                  ["validate"], ["new-study"]])
def test_usage_errors_exit_2(capsys, argv):
    code, err = run(capsys, *argv)
    assert code == 2 and "usage: csi-research" in err


def test_run_a_folder_that_does_not_exist(tmp_path, capsys):
    code, err = run(capsys, "run", str(tmp_path / "missing"), "--no-progress")
    assert code == 2 and "missing" in err


def test_run_a_folder_without_studies(tmp_path, capsys):
    code, err = run(capsys, "run", str(tmp_path), "--no-progress")
    assert code == 2 and "no study.yaml" in err


@pytest.mark.parametrize("option", ["--only", "--exclude"])
def test_run_only_a_study_that_does_not_exist(capsys, option):
    snap = Snapshot(REPO / "studies" / "linxi-2025" / "study.yaml")
    code, err = run(capsys, "run", str(REPO / "studies"), option, "linxi-2052", "--no-progress")
    assert code == 2 and "linxi-2052" in err and "linxi-2025" in err
    snap.unchanged()


@pytest.mark.parametrize("command", ["validate", "summary"])
def test_validate_a_missing_file(tmp_path, capsys, command):
    code, err = run(capsys, command, str(tmp_path / "nope.csv"))
    assert code == 2 and "nope.csv" in err


def test_validate_a_folder(tmp_path, capsys):
    code, err = run(capsys, "validate", str(tmp_path))
    assert code == 2 and str(tmp_path.name) in err


def test_validate_with_a_missing_codebook(tmp_path, capsys):
    code, err = run(capsys, "validate", str(DATA / "linxi_2025.csv"), "--codebook", str(tmp_path / "cb.yaml"))
    assert code == 2 and "cb.yaml" in err


def test_validate_with_a_broken_codebook(tmp_path, capsys):
    book = tmp_path / "cb.yaml"
    book.write_text("scales: [unclosed\n", encoding="utf-8")
    snap = Snapshot(book)
    code, err = run(capsys, "validate", str(DATA / "linxi_2025.csv"), "--codebook", str(book))
    assert code == 2 and "cb.yaml" in err and "YAML" in err
    snap.unchanged()


def test_validate_with_study_wide_missing_codes(tmp_path, capsys):
    survey = tmp_path / "s.csv"
    survey.write_text((DATA / "linxi_2025.csv").read_text(encoding="utf-8").replace(",9,", ",99,"),
                      encoding="utf-8")
    snap = Snapshot(survey)
    assert run(capsys, "validate", str(survey))[0] == 2
    assert main(["validate", str(survey), "--missing-codes", "99"]) == 0
    snap.unchanged()


def test_new_study_refuses_an_existing_folder(tmp_path, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "study.yaml").write_text("keep me\n", encoding="utf-8")
    snap = Snapshot(tmp_path)
    code, err = run(capsys, "new-study", str(DATA / "linxi_2025.csv"), "--out", str(folder))
    assert code == 2 and "mine" in err
    snap.unchanged()


def test_new_study_of_a_missing_file(tmp_path, capsys):
    code, err = run(capsys, "new-study", str(tmp_path / "survey.sav"), "--out", str(tmp_path / "s"))
    assert code == 2 and "survey.sav" in err
    assert not (tmp_path / "s").exists()


def test_a_bug_is_one_line_and_its_traceback_is_kept(monkeypatch, capsys):
    def broken(args):
        raise TypeError("unsupported operand")

    monkeypatch.setattr(cli, "_validate", broken)
    code, err = run(capsys, "validate", str(DATA / "linxi_2025.csv"))
    assert code == 1 and "unsupported operand" in err and "bug" in err
    log = Path(err.rsplit("saved in ", 1)[1].strip())
    assert "Traceback" in log.read_text(encoding="utf-8")
    log.unlink()


def test_long_messages_are_cut(monkeypatch, capsys):
    from csi_research.core.errors import SurveyDataError

    def huge(args):
        raise SurveyDataError("x" * 10**6)

    monkeypatch.setattr(cli, "_validate", huge)
    code, err = run(capsys, "validate", str(DATA / "linxi_2025.csv"))
    assert code == 2 and len(err) < cli.MESSAGE_LIMIT + 200 and "more characters" in err
