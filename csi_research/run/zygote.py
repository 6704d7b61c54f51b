"""Warm processes for the batch: studies forked from a process that has everything imported.

Starting Python, importing the scientific stack and starting a kernel cost several times what a
quick study computes. So each process that runs studies (each Dask worker) starts one warm
"zygote", ``python -m csi_research.run.zygote FD``: it imports and exercises everything a notebook
needs (and rehearses the batch's first study), then waits on the Unix socket ``FD`` for tasks.
For each it forks a child that executes the notebook in-process, on an ipykernel in-process
kernel driven by papermill/nbclient, so the executed notebook and report are the ones a kernel
process gives (:mod:`csi_research.run.execute`, the path taken without ``fork``). A study thus
still runs in a process of its own, in a session of its own, started from the same clean state
every time: nothing one study does (a crash, a changed global) reaches the next. Of a study in
two languages each runs in a fork of the study's process, as each starts a kernel of its own on
the slow path; what they share is computed once before they are forked (:func:`compute_once`).
A study's only language runs in the study's process itself.

The zygote forks only while it has a single thread (it is started with BLAS, OpenMP and jemalloc
background threads off) and ends when its socket closes, i.e. when the batch that started it
ends or dies. The batch's side (:class:`Zygote`, :func:`start_zygotes`, ...) is at the end.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from csi_research.core.process import child_env
from csi_research.run.execute import error_line, execute, execute_language, html, watch_parent

# ---------------------------------------------------------------- a study in forks of this process

@contextmanager
def in_process_kernel() -> Iterator[dict[str, Any]]:
    """papermill/nbclient options that run the notebook on an ipykernel kernel inside this process.

    The in-process manager and client lack a few arguments nbclient passes (timeouts, ``now``);
    the subclasses accept them. History goes to memory, as nbclient arranges for kernel processes.
    """
    from ipykernel.inprocess.blocking import BlockingInProcessKernelClient
    from ipykernel.inprocess.manager import InProcessKernelManager
    from traitlets.config import Config

    class Client(BlockingInProcessKernelClient):
        def wait_for_ready(self, timeout: float | None = None) -> None:
            self.kernel_info()
            self._handle_kernel_info_reply(self.shell_channel.get_msg(block=True, timeout=timeout))
            while self.iopub_channel.msg_ready():  # the kernel's start-up status messages
                self.iopub_channel.get_msg(block=False)

    class Manager(InProcessKernelManager):
        # The kernel's stdout/stderr stand in for sys.stdout/sys.stderr while it lives, so that
        # the kernel tags what cells print with the request it answers (as a kernel process
        # does); otherwise nbclient would not take the stream output into the notebook.
        saved: tuple[Any, Any] | None = None

        def start_kernel(self, **kwargs: Any) -> None:
            super().start_kernel(**kwargs)
            self.saved = (sys.stdout, sys.stderr)
            sys.stdout, sys.stderr = self.kernel.stdout, self.kernel.stderr

        def shutdown_kernel(self, now: bool = False, restart: bool = False) -> None:
            if self.saved is not None:
                for stream in (sys.stdout, sys.stderr):
                    stream.flush()
                sys.stdout, sys.stderr = self.saved
                self.saved = None
            super().shutdown_kernel()

        def client(self, **kwargs: Any) -> Client:
            return Client(parent=self, session=self.session, kernel=self.kernel, **kwargs)

    yield {"km": Manager(config=Config({"HistoryManager": {"hist_file": ":memory:"}}))}



class ProcessDied(Exception):
    """A language's process ended without a verdict (a crash): the study's process ends the same way."""

    def __init__(self, code: int) -> None:
        super().__init__(f"exit code {code}")
        self.code = code


def language_in_fork(notebook: Path, out: Path, params: dict[str, Any], lang: str,
                      first: bool) -> tuple[bool, str]:
    """One language in a fork: a fresh kernel and namespace, as a kernel process per language gives.

    The verdict comes back over a pipe. While waiting, this process ends its process group (the
    fork included) if the zygote that started it disappears.
    """
    parent = os.getppid()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        code = 1
        try:
            watch_parent(os.getppid())
            _fresh_random_state()
            verdict = execute_language(notebook, out, params, lang, first, kernel=in_process_kernel)
            os.write(write, json.dumps(verdict).encode("utf-8"))
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            _flush()
            os._exit(code)
    os.close(write)
    data = b""
    with os.fdopen(read, "rb", buffering=0) as pipe:
        while True:
            ready, _, _ = select.select([pipe], [], [], 0.5)
            if os.getppid() != parent:
                os.killpg(0, signal.SIGKILL)
            if ready:
                chunk = pipe.read(1 << 16)
                if not chunk:
                    break
                data += chunk
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    if not data:
        raise ProcessDied(code)
    ok, error = json.loads(data)
    return bool(ok), str(error)


def language_here(notebook: Path, out: Path, params: dict[str, Any], lang: str,
                  first: bool) -> tuple[bool, str]:
    """A study's only language in the study's own process: a fork would isolate it from nothing.

    As in a fork, the global random state is drawn afresh, and the process ends if the zygote
    that started it disappears.
    """
    watch_parent(os.getppid())
    _fresh_random_state()
    streams = sys.stdout, sys.stderr
    try:
        return execute_language(notebook, out, params, lang, first, kernel=in_process_kernel)
    finally:  # the kernel's streams stand in for ours while it lives; the verdict goes to ours
        _flush()
        sys.stdout, sys.stderr = streams


def compute_once(params: dict[str, Any]) -> None:
    """Compute what the notebook will compute, once for all its languages, before they are forked.

    A regional study (``study_path``): the study itself (see ``study.COMPUTED``). A comparison
    (``bundle_dirs``): the comparability tests (see ``comparability.COMPUTED``), which do not depend
    on the language. Only a quiet computation is kept: if it raised, printed or warned, nothing is
    kept and each language computes it in its notebook, where it shows as from a kernel process.
    """
    import contextlib
    import io
    import warnings

    from csi_research.programme import comparability, compare
    from csi_research.study import pipeline as study

    quick = bool(params.get("quick"))
    if params.get("study_path"):
        def work() -> Any:
            return study.run_study.quiet(params["study_path"], quick=quick)
    elif params.get("bundle_dirs"):
        def work() -> Any:  # the notebook's tests: its permutations, seed 0
            n_perm = compare.permutations(params.get("n_perm"), quick)
            bundles = compare.load_bundles(params["bundle_dirs"])
            return comparability.comparability(bundles, n_perm=n_perm, seed=0)
    else:
        return
    memos = (study.COMPUTED, comparability.COMPUTED)
    before = [dict(memo) for memo in memos]
    printed = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(printed), \
            contextlib.redirect_stderr(printed):
        warnings.simplefilter("always")
        try:
            result = work()
        except Exception:
            result = None
    if result is None or caught or printed.getvalue():  # forget it: the notebook shows what happened
        for memo, kept in zip(memos, before, strict=True):
            memo.clear()
            memo.update(kept)
    elif params.get("study_path"):
        study.COMPUTED[study.study_key(params["study_path"], quick)] = result


def _fresh_random_state() -> None:
    """A new process draws its global random seeds afresh; so does each fork, not sharing the zygote's."""
    import random

    import numpy

    random.seed()
    numpy.random.seed()  # noqa: NPY002 - the legacy global state, as a new process has it


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass


# ---------------------------------------------------------------- the zygote
WARM_ENV = {  # no thread may exist in the zygote when it forks: no BLAS/OpenMP pools, no jemalloc thread
    "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
    "JE_ARROW_MALLOC_CONF": "background_thread:false", "PYDEVD_DISABLE_FILE_VALIDATION": "1",
}


def warm_up(rehearsal: dict[str, Any] | None = None) -> None:
    """Import and exercise, once, what every notebook execution needs, so forked children start warm.

    ``rehearsal`` ({"notebook", "params", "languages"}): also run that notebook's code once per
    language, outside any kernel, saving into a temporary folder and rendering every displayed
    object, so that the first-call costs of the study code (lazy imports, fonts, caches) are paid
    here and not by each study. Warnings are silenced meanwhile and their registries reset after,
    so a child still shows every warning a fresh process would.
    """
    import io
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import nbformat
    import numpy  # noqa: F401
    import pandas  # noqa: F401
    import papermill  # noqa: F401
    import semopy  # noqa: F401
    from ipykernel.inprocess import blocking, ipkernel, manager  # noqa: F401
    from matplotlib_inline import backend_inline  # noqa: F401
    from nbclient import NotebookClient  # noqa: F401

    from csi_research.core import output  # noqa: F401  (and the package's __init__ with it)
    from csi_research.programme import compare  # noqa: F401
    from csi_research.render import word  # noqa: F401  (python-docx and its templates)
    from csi_research.reporting import comparison, regional  # noqa: F401
    from csi_research.study import waves  # noqa: F401

    _kernel_imports()
    figure, axes = plt.subplots(figsize=(2, 1))  # Agg renderer, PNG writer
    axes.bar(["a", "b"], [1, 2])
    figure.savefig(io.BytesIO(), format="png")
    plt.close(figure)
    result = nbformat.v4.new_output("execute_result", {"text/html": "<b>1 &amp; 2</b>"}, execution_count=1)
    cell = nbformat.v4.new_code_cell("1", outputs=[result])
    for language in ("zh", "en"):  # each language's exporter and templates; pygments, mistune, entities
        html(nbformat.v4.new_notebook(cells=[cell]), language, "warm-up")
    if rehearsal:
        with warnings.catch_warnings():  # leaves the filters as they were, which resets the registries
            warnings.simplefilter("ignore")
            _rehearse(Path(rehearsal["notebook"]), rehearsal["params"], tuple(rehearsal["languages"]))
        plt.close("all")
        _stop_tqdm_monitor()
    import gc

    gc.collect()
    # Everything warmed up is kept for good: the collector of each fork need not walk it again (and,
    # walking it, write to each object's header, copying the pages the fork shares with us).
    gc.freeze()


def _kernel_imports() -> None:
    """What a kernel imports only when it starts, imported here and not again in every fork: its
    debugger (debugpy and pydevd, ~0.1 s), the shell's magics and history store, tornado's queues."""
    import sqlite3  # noqa: F401

    from ipykernel import debugger  # noqa: F401
    from IPython.core import application, completerlib, crashhandler, logger, oinspect  # noqa: F401
    from IPython.core.magics import execution, pylab  # noqa: F401
    from tornado import locks, queues  # noqa: F401
    from tornado.platform import asyncio  # noqa: F401
    from zmq.utils import garbage  # noqa: F401


def _stop_tqdm_monitor() -> None:
    """End the thread tqdm starts with its first progress bar; a child's first bar starts its own."""
    tqdm = sys.modules.get("tqdm.std")
    monitor = getattr(getattr(tqdm, "tqdm", None), "monitor", None)
    if monitor is not None:
        monitor.exit()
        tqdm.tqdm.monitor = None


def _rehearse(notebook: Path, params: dict[str, Any], languages: tuple[str, ...]) -> None:
    """Run the notebook's code cells in a plain namespace, rendering each cell's displayed value."""
    import ast
    import contextlib
    import io

    import nbformat

    nb = nbformat.read(str(notebook), as_version=4)
    cells = [c.source for c in nb.cells
             if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", [])]
    folder = tempfile.mkdtemp(prefix="csi-warm-")
    try:
        for k, lang in enumerate(languages):
            namespace: dict[str, Any] = {**params, "language": lang,
                                         "output_dir": os.path.join(folder, str(k)) if k == 0 else None}
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                for source in cells:
                    tree = ast.parse("\n".join(line for line in source.splitlines()
                                                if not line.lstrip().startswith("%")))
                    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
                    exec(compile(tree, "<warm-up>", "exec"), namespace)
                    if last is not None:
                        value = eval(compile(ast.Expression(last.value), "<warm-up>", "eval"), namespace)
                        for method in ("_repr_mimebundle_", "_repr_html_"):
                            if hasattr(value, method):
                                getattr(value, method)()
                                break
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def thread_count() -> int:
    """Threads of this process as the OS sees them (Python's own count misses native threads)."""
    try:
        return len(os.listdir(f"/proc/{os.getpid()}/task"))
    except OSError:
        try:
            import psutil

            return psutil.Process().num_threads()
        except Exception:
            return threading.active_count()


def send(sock: socket.socket, message: dict[str, Any]) -> None:
    sock.sendall(json.dumps(message).encode("utf-8") + b"\n")


def serve(fd: int, rehearsal: dict[str, Any] | None = None) -> int:
    """The zygote: warm up, then fork one child per task received on socket ``fd`` until it closes."""
    sock = socket.socket(fileno=fd)
    try:
        try:
            warm_up(rehearsal)
        except Exception:  # a study that cannot run here fails in its own run; the imports are done
            if rehearsal is None:
                raise
        threads = thread_count()
        if threads != 1:
            raise RuntimeError(f"{threads} threads after warm-up; forking would be unsafe")
    except Exception as exc:
        send(sock, {"ready": False, "error": error_line(exc)})
        return 1
    send(sock, {"ready": True})
    buffer = b""
    while True:
        line, fds, buffer = _receive(sock, buffer)
        if line is None:  # the batch closed the socket or died
            return 0
        threads = thread_count()
        if len(fds) != 2 or threads != 1:
            for descriptor in fds:
                os.close(descriptor)
            send(sock, {"error": f"refused: {len(fds)} descriptors, {threads} threads"})
            continue
        pid = os.fork()
        if pid == 0:
            _child(json.loads(line), fds, sock)
        for descriptor in fds:
            os.close(descriptor)
        send(sock, {"pid": pid})
        code = _wait_child(sock, pid)
        if code is None:
            return 0
        send(sock, {"pid": pid, "code": code})


def _receive(sock: socket.socket, buffer: bytes) -> tuple[bytes | None, list[int], bytes]:
    """The next line from the socket with the descriptors sent along; (None, [], b"") at its end."""
    fds: list[int] = []
    while b"\n" not in buffer:
        data, more, _flags, _address = socket.recv_fds(sock, 1 << 16, 4)
        fds.extend(more)
        if not data:
            for descriptor in fds:
                os.close(descriptor)
            return None, [], b""
        buffer += data
    line, _, rest = buffer.partition(b"\n")
    return line, fds, rest


def _wait_child(sock: socket.socket, pid: int) -> int | None:
    """The child's exit code (as ``Popen.returncode``); None if the batch went away first (child killed)."""
    try:
        watch = [sock.fileno(), os.pidfd_open(pid)]
    except (AttributeError, OSError):  # no pidfd (not Linux): look every 20 ms
        watch = [sock.fileno()]
    try:
        while True:
            ready, _, _ = select.select(watch, [], [], None if len(watch) == 2 else 0.02)
            if sock.fileno() in ready and not sock.recv(1 << 12):
                with suppress_lookup():
                    os.killpg(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return None
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status)
    finally:
        for descriptor in watch[1:]:
            os.close(descriptor)


@contextmanager
def suppress_lookup() -> Iterator[None]:
    try:
        yield
    except (ProcessLookupError, PermissionError):
        pass


def _child(task: dict[str, Any], fds: list[int], sock: socket.socket) -> None:
    """A forked study: its own session, stdout/stderr on the batch's files, the verdict as last line."""
    code = 1
    try:
        os.setsid()
        sock.close()
        os.dup2(fds[0], 1)
        os.dup2(fds[1], 2)
        for descriptor in fds:
            os.close(descriptor)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL if sig == signal.SIGTERM else signal.default_int_handler)
        compute_once(task["params"])
        languages = tuple(task["languages"])
        ok, error = execute(Path(task["notebook"]), Path(task["output_dir"]), task["params"], languages,
                            run=language_in_fork if len(languages) > 1 else language_here,
                            reports=task.get("reports", "all"))
        print(json.dumps({"ok": ok, "error": error}), flush=True)
        code = 0
    except ProcessDied as died:  # a language's fork crashed: end as a crashed kernel process would
        code = died.code
    except BaseException:
        traceback.print_exc()
    finally:
        _flush()
        if code < 0:
            signal.signal(-code, signal.SIG_DFL)
            os.kill(os.getpid(), -code)
        os._exit(code)


# ---------------------------------------------------------------- the batch's side
class Zygote:
    """A warm process that forks one child per study (see :mod:`csi_research.run.execute`), one at a time.

    It talks over a Unix socket pair: it says when it is ready, receives a task with the child's
    stdout/stderr descriptors, answers with the child's pid and, when the child ends, its exit
    code. Closing our end ends it (and a child it is running).
    """

    def __init__(self, rehearsal: dict[str, Any] | None = None) -> None:
        ours, theirs = socket.socketpair()
        extra = [json.dumps(rehearsal)] if rehearsal else []
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "csi_research.run.zygote", str(theirs.fileno()), *extra],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, env={**child_env(), **WARM_ENV}, start_new_session=True)
        except OSError:
            ours.close()
            raise
        finally:
            theirs.close()
        self.sock = ours
        self.buffer = b""
        self.state = "starting"  # then "ready" or "broken"
        self.busy = False

    def read(self, timeout: float | None) -> dict[str, Any] | None:
        """The zygote's next message; None when it has gone (then it is "broken")."""
        while b"\n" not in self.buffer:
            try:
                ready, _, _ = select.select([self.sock], [], [], timeout)
                data = self.sock.recv(1 << 12) if ready else None
            except (OSError, ValueError):
                data = b""
            if data is None:
                raise subprocess.TimeoutExpired("zygote", timeout or 0)
            if not data:
                self.state = "broken"
                return None
            self.buffer += data
        line, _, self.buffer = self.buffer.partition(b"\n")
        return json.loads(line)

    def settled(self, timeout: float = 0.0) -> bool:
        """Whether it is past its warm-up (ready or broken), waiting up to ``timeout`` seconds."""
        if self.state == "starting":
            try:
                message = self.read(timeout)
            except subprocess.TimeoutExpired:
                return False
            self.state = "ready" if message and message.get("ready") else "broken"
        return True

    def spawn(self, payload: str, stdout: Any, stderr: Any) -> ForkedChild:
        socket.send_fds(self.sock, [payload.encode("utf-8") + b"\n"], [stdout.fileno(), stderr.fileno()])
        reply = self.read(10.0)
        if reply is None or "pid" not in reply:
            raise OSError(f"the warm notebook process refused the study: {reply}")
        return ForkedChild(self, int(reply["pid"]))

    def close(self) -> None:
        self.state = "broken"
        with contextlib.suppress(OSError):
            self.sock.close()
        try:
            self.process.wait(timeout=1.0)  # it kills a child it runs, then exits
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class ForkedChild:
    """A study process forked by a zygote, with the bits of ``subprocess.Popen`` the batch uses."""

    def __init__(self, zygote: Zygote, pid: int) -> None:
        self.zygote = zygote
        self.pid = pid
        self.returncode: int | None = None

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            message = self.zygote.read(timeout)  # TimeoutExpired while the child runs
            # the zygote gone, its child ended itself (it watches its parent): count it as killed
            self.returncode = -signal.SIGKILL if message is None else int(message["code"])
            self.zygote.busy = False
        return self.returncode

    def kill(self) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)  # the child leads its own session and group


ZYGOTES: list[Zygote] = []
ZYGOTE_LOCK = threading.Lock()
CAN_FORK = hasattr(os, "fork") and hasattr(socket, "send_fds") and hasattr(socket, "AF_UNIX")


def take_zygote() -> Zygote | None:
    """An idle ready zygote of this process, marked busy; None when there is none (take the slow path)."""
    with ZYGOTE_LOCK:
        for zygote in ZYGOTES:
            if not zygote.busy and zygote.settled() and zygote.state == "ready":
                zygote.busy = True
                return zygote
        return None


def start_zygotes(count: int = 1, rehearsal: dict[str, Any] | None = None) -> int:
    """Start warm zygotes in this process until ``count`` are alive; how many are (0 without fork).

    ``rehearsal``: a study execution ({"notebook", "params", "languages"}) each new zygote runs
    once while warming up (see :func:`csi_research.run.execute.warm_up`).
    """
    if not CAN_FORK:
        return 0
    with ZYGOTE_LOCK:
        ZYGOTES[:] = [z for z in ZYGOTES if z.state != "broken"]
        while len(ZYGOTES) < count:
            try:
                ZYGOTES.append(Zygote(rehearsal))
            except OSError:
                break
        return len(ZYGOTES)


def zygotes_settled(timeout: float = 0.0) -> bool:
    """Whether every zygote of this process has finished warming up, waiting up to ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    with ZYGOTE_LOCK:
        pending = [z for z in ZYGOTES if not z.busy]
    return all(z.settled(max(0.0, deadline - time.monotonic())) for z in pending)


def close_zygotes() -> None:
    """End this process's zygotes (and any study one of them still runs)."""
    with ZYGOTE_LOCK:
        zygotes, ZYGOTES[:] = list(ZYGOTES), []
    for zygote in zygotes:
        zygote.close()


atexit.register(close_zygotes)


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    return serve(int(args[0]), json.loads(args[1]) if len(args) > 1 else None)


if __name__ == "__main__":
    sys.exit(main())
