"""The child-process side of :mod:`~csi_research.run.batch`: execute a study's notebook(s), write its reports.

``python -m csi_research.run.execute '<task json>'`` runs in a process of its own (its own session),
so the batch can stop it at once and for good by signalling processes, which it cannot do to
papermill running in a thread. The last line it prints is ``{"ok": ..., "error": ...}``.

Where ``fork`` is available the batch forks studies from a warm process instead (see
:mod:`csi_research.run.zygote`); the files are the same.

Kernels talk to this process over private Unix sockets (zmq ``ipc``) in a fresh temporary folder
instead of TCP ports: jupyter_client picks "free" TCP ports, closes them and lets the kernel bind
them later, and between the two another process starting a kernel can take one ("Address already
in use"). Socket files in a folder of our own cannot be taken by anyone else.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ERROR_FILE = "error.txt"
REPORT_TASK = "report_task.json"  # what draws an on-demand run's reports later (see save_bundle)
MAX_SOCKET_PATH = 100  # Unix socket paths are limited to 104-108 bytes; "-<n>" is appended


def report_path(folder: Path, language: str) -> Path:
    return folder / f"report.{language}.html"


def document_path(folder: Path, language: str) -> Path:
    """The Word version of :func:`report_path`'s report: the same sections, tables and figures."""
    return folder / f"report.{language}.docx"


@contextmanager
def kernel_options() -> Iterator[dict[str, Any]]:
    """papermill/nbclient options that start the kernel on ipc sockets in a new private folder.

    Falls back to jupyter_client's TCP default where there are no Unix sockets (Windows) or the
    temporary folder's path is too long for one.
    """
    if os.name != "posix":
        yield {}
        return
    from traitlets.config import Config

    folder = tempfile.mkdtemp(prefix="csi-k-")
    try:
        ip = os.path.join(folder, "k")
        if len(ip) + 4 > MAX_SOCKET_PATH:
            yield {}
        else:
            yield {"config": Config({"KernelManager": {"transport": "ipc", "ip": ip}})}
    finally:
        shutil.rmtree(folder, ignore_errors=True)



def execute(
    notebook: Path, out: Path, params: dict[str, Any], languages: tuple[str, ...],
    run: Callable[..., tuple[bool, str]] | None = None, reports: str = "all",
) -> tuple[bool, str]:
    """Execute ``notebook`` once per language into ``out``; the first saves the bundle, each writes a report.

    ``run`` executes one language (default :func:`execute_language`, on a kernel process; the
    warm path of :mod:`csi_research.run.zygote` runs each in a fork instead). Every language starts
    afresh. ``reports="on-demand"``: only the bundle (:func:`save_bundle`). Returns (ok, error line);
    a failure also writes ``error.txt`` with the traceback.
    """
    if reports == "on-demand":
        return save_bundle(notebook, out, params, languages)
    run = run or execute_language
    for k, lang in enumerate(languages):
        ok, error = run(notebook, out, params, lang, k == 0)
        if not ok:
            return False, error
    return True, ""


def execute_language(notebook: Path, out: Path, params: dict[str, Any], lang: str, first: bool,
                     kernel: Callable[[], Any] = kernel_options) -> tuple[bool, str]:
    """One language: the executed notebook and its report, exported from the notebook in memory.

    ``kernel`` gives papermill's options for the kernel (a context manager; default: a kernel
    process on private ipc sockets).
    """
    executed = out / f"{notebook.stem}.{lang}.ipynb"
    run_params = {**params, "language": lang, "output_dir": str(out) if first else None}
    try:
        import papermill

        with kernel() as options:
            node = papermill.execute_notebook(  # the notebook is written once, when it has run
                str(notebook), str(executed), parameters=run_params, progress_bar=False,
                request_save_on_cell_execute=False,
                kernel_name="python3", extra_arguments=["--log-level=ERROR"], **options,
            )
        from csi_research.core.output import write_atomic

        write_atomic(report_path(out, lang), html(node, lang, executed.stem))
        write_atomic(document_path(out, lang), word(node, lang, executed.stem))
    except Exception as exc:  # reported as this study's failure, never raised into the batch
        error = error_line(exc)
        write_error(out, f"{error}\n\n{traceback.format_exc()}")
        return False, error
    return True, ""


def save_bundle(notebook: Path, out: Path, params: dict[str, Any],
                languages: tuple[str, ...]) -> tuple[bool, str]:
    """The study's bundle as the notebook's first cell saves it, and the task that draws its reports.

    The bundle leaves out its copies of the figures (``figures/``), which only the reports show and
    :func:`csi_research.run.on_demand.draw_reports` draws with them; every number and table is in it.
    """
    from csi_research.core.output import dumps_json, write_atomic
    from csi_research.study import pipeline

    try:
        result = pipeline.run_study.quiet(params["study_path"], quick=bool(params.get("quick")))
        result.save(out / "bundle", figures=False, language=languages[0])
        task = {"notebook": str(notebook), "params": params, "languages": list(languages)}
        write_atomic(out / REPORT_TASK, dumps_json(task))
    except Exception as exc:  # reported as this study's failure, never raised into the batch
        error = error_line(exc)
        write_error(out, f"{error}\n\n{traceback.format_exc()}")
        return False, error
    return True, ""


def write_error(out: Path, text: str) -> None:
    from csi_research.core.output import write_atomic

    try:
        write_atomic(out / ERROR_FILE, text)
    except OSError:  # the folder became unwritable (or an error was written already): the line still counts
        pass


def error_line(exc: BaseException) -> str:
    ename, evalue = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    if ename:  # papermill's execution error carries the kernel's exception
        return f"{ename}: {evalue}".splitlines()[0]
    return f"{type(exc).__name__}: {exc}".splitlines()[0]


def html(executed: Any, language: str, name: str | None = None) -> str:
    """The executed notebook (a file, or the notebook itself) as a report for readers: outputs only.

    No code, no notebook prose. The page title is the one the report's first section carries in
    its display metadata, else ``name`` (default: the file's stem).
    """
    import copy

    import nbformat

    if isinstance(executed, (str, Path)):
        nb = nbformat.read(str(executed), as_version=4)
        name = name or Path(executed).stem
    else:
        nb = copy.deepcopy(executed)
    for cell in nb.cells:  # papermill gives the cell it injects a random id: the report's anchor is fixed
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            cell["id"] = "injected-parameters"
    titles = [o.get("metadata", {}).get("csi_report", {}).get("title")
              for cell in nb.cells for o in cell.get("outputs", [])]
    nb.metadata["title"] = next((t for t in titles if t), name or "report")
    figures: list[str] = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "text/html" in data:
                data["text/html"] = _set_aside(data["text/html"], figures)
    body, _ = _exporter(language).from_notebook_node(nb)
    return _EMBEDDED.sub(lambda m: m.group(1) + figures[int(m.group(2))], body)


def word(executed: Any, language: str, name: str | None = None) -> bytes:
    """The executed notebook's report as a Word document (``.docx`` bytes): the very outputs
    :func:`html` shows, in the same order, with the same title."""
    import nbformat

    from csi_research.render.word import word_report

    if isinstance(executed, (str, Path)):
        name = name or Path(executed).stem
        executed = nbformat.read(str(executed), as_version=4)
    fragments, titles = [], []
    for cell in executed.cells:
        for output in cell.get("outputs", []):
            titles.append(output.get("metadata", {}).get("csi_report", {}).get("title"))
            fragments.append(_fragment(output))
    return word_report(fragments, next((t for t in titles if t), name or "report"), language)


def _fragment(output: Any) -> str:
    """One output as HTML, by the order of preference nbconvert shows it by: HTML, a PNG, text."""
    import html as stdlib_html

    def joined(value: Any) -> str:
        return value if isinstance(value, str) else "".join(value)

    data = output.get("data", {})
    if "text/html" in data:
        return joined(data["text/html"])
    if "image/png" in data:
        return f'<img src="data:image/png;base64,{joined(data["image/png"]).strip()}">'
    if output.get("output_type") == "error":
        text = "\n".join(output.get("traceback", []))
        text = re.sub(r"\x1b\[[0-9;]*m", "", text)  # the traceback's terminal colours
    else:
        text = joined(output.get("text", "") or data.get("text/plain", ""))
    return f"<pre>{stdlib_html.escape(text, quote=False)}</pre>" if text else ""


# Embedded figures are set aside while nbconvert parses the page (megabytes of base64 it has no
# use for, and most of its parsing time) and put back, unchanged, in the HTML it returns.
_FIGURE = re.compile(r"(data:image/[a-z+]+;base64,)([A-Za-z0-9+/=]{64,})")
_EMBEDDED = re.compile(r"(data:image/[a-z+]+;base64,)csi-figure-(\d+)-set-aside")


def _set_aside(text: str | list[str], figures: list[str]) -> str:
    def keep(match: re.Match[str]) -> str:
        figures.append(match.group(2))
        return f"{match.group(1)}csi-figure-{len(figures) - 1}-set-aside"

    return _FIGURE.sub(keep, text if isinstance(text, str) else "".join(text))


@functools.cache
def _exporter(language: str) -> Any:
    """nbconvert's HTML exporter for ``language``, made once: its templates compile on first use.

    It validates the notebook once, after its preprocessors, not after each of the eleven (a tenth
    of the export's time; an invalid notebook still fails the export).
    """
    from nbconvert import HTMLExporter

    return HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True,
                        exclude_markdown=True, language_code=language if language in ("zh", "en") else "en",
                        optimistic_validation=True)


def watch_parent(parent: int) -> None:
    """Stop this process and its kernel if the batch that started it disappears (e.g. SIGKILLed)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        try:
            import psutil

            for child in psutil.Process().children(recursive=True):
                child.kill()
        except Exception:  # best effort: the kernel's own parent poller ends it too
            pass
        os._exit(3)

    threading.Thread(target=watch, daemon=True, name="csi-parent-watch").start()


# ---------------------------------------------------------------- the warm zygote


def main(argv: list[str] | None = None) -> int:
    task = json.loads((argv if argv is not None else sys.argv[1:])[0])
    watch_parent(os.getppid())
    ok, error = execute(Path(task["notebook"]), Path(task["output_dir"]), task["params"],
                        tuple(task["languages"]), reports=task.get("reports", "all"))
    print(json.dumps({"ok": ok, "error": error}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
