"""``stclr batch RECIPE.yaml`` (:mod:`stclr.cli`): run a notebook over a grid of parameters with papermill (resumable).

:mod:`stclr.recipes` reads and checks the recipe (names, types, points); this module runs its points. Every
*point* runs as its own papermill execution (its own kernel) into ``out/<point-name>/``::

    out/<point>/<notebook>.ipynb   the executed notebook (kept on failure too: open it at the failed cell)
    out/<point>/metrics.json       written by the notebook into its ``out_dir`` parameter (the contract)
    out/<point>/done.json          written atomically by the runner after success (params hash inside)
    out/<point>/error.json         written by the runner on failure (cell index, ename, evalue, traceback)
    out/<point>/kernel.log         the kernel process's own stdout/stderr (crash messages land here)
    out/summary.csv, summary.md    one row per point: name, status, params, flattened metrics, time

What it guarantees, and why:

- Nothing starts before every parameter name (base, grid, runs, smoke, ``--set``) is checked against the
  notebook's ``parameters`` cell, and every value against the cell's type annotations
  (:func:`stclr.recipes.validate_points`).
- A point whose ``done.json`` holds the same params hash is skipped; one whose params changed, or that
  failed, or that was killed half-way, runs again. So a batch is resumed by running the same command.
- One failing point never stops the others; the exit code is non-zero after all ran if any failed.
- ``--jobs N`` runs N points at once (threads driving N kernels); ``--gpus 0,1`` gives each running point
  one GPU through ``CUDA_VISIBLE_DEVICES`` in its kernel's environment (least-loaded, round-robin).

:func:`plan_points` (which points run) and :func:`write_summary` are pure and unit-tested;
papermill is imported lazily so ``stclr --help`` stays fast. :func:`execute_notebook` is shared with
:mod:`stclr.course`.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import hashlib
import io
import json
import os
import queue
import re
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from stclr.config import flatten
from stclr.fileio import read_json, write_json_atomic, write_text_atomic
from stclr.recipes import (
    METRICS_FILE,
    OUT_DIR_PARAM,
    NotebookParam,
    Point,
    Recipe,
    RecipeError,
    notebook_parameters,
    validate_points,
)

__all__ = [
    "BatchResult",
    "Execution",
    "GpuPool",
    "execute_notebook",
    "plan_points",
    "run_batch",
    "write_summary",
]

# Applied when the notebook declares them and the recipe does not set them: a batch has nobody to click a
# widget, and progress bars would only be frozen noise inside the saved notebooks.
RUNNER_DEFAULTS: dict[str, Any] = {"interactive": False, "show_progress": False}
# Relative string values of parameters named like this are made absolute against the directory the batch
# was started from, because the kernel runs in the notebook's folder (as in Jupyter and nbval).
PATH_SUFFIXES = ("_root", "_dir", "_path", "_file")
DONE_FILE, ERROR_FILE, KERNEL_LOG = "done.json", "error.json", "kernel.log"


# ----------------------------------------------------------------------------------------------------------
# Small I/O helpers


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def strip_ansi(text: str) -> str:
    """Tracebacks from kernels are coloured; error.json should be readable in any editor."""
    return _ANSI.sub("", text)


# ----------------------------------------------------------------------------------------------------------
# Executing one notebook (shared with stclr.course)


@dataclass
class Execution:
    """What happened when one notebook ran."""

    ok: bool
    seconds: float
    error: dict[str, Any] | None = None  # ename, evalue, cell_index, source_cell_index, exec_count, source, traceback


def _kernel_manager_class(env: Mapping[str, str] | None, cwd: str | Path | None, log_file=None):
    """A kernel manager class that starts its kernel with extra environment variables, a working directory
    and (optionally) its process stdout/stderr sent to ``log_file``.

    papermill has no per-execution ``env``; changing ``os.environ`` would leak between parallel points, so
    the variables go into this one kernel's launch instead (nbclient instantiates the class we pass). The
    kernel process's own output (not the cells' outputs, which travel over ZMQ into the notebook) is where
    a crash leaves its last words (segfault, CUDA or NCCL errors): worth a file, not the batch's terminal.
    """
    from jupyter_client import AsyncKernelManager

    extra_env, work_dir = dict(env or {}), None if cwd is None else str(cwd)

    class PointKernelManager(AsyncKernelManager):
        async def start_kernel(self, **kw):  # noqa: D102 (jupyter_client API)
            if extra_env:
                kw["env"] = {**os.environ, **kw.get("env", {}), **extra_env}
            if work_dir is not None:
                kw.setdefault("cwd", work_dir)
            if log_file is not None:
                kw.setdefault("stdout", log_file)
                kw.setdefault("stderr", log_file)
            return await super().start_kernel(**kw)

    return PointKernelManager


def execute_notebook(
    notebook: str | Path,
    output: str | Path,
    parameters: Mapping[str, Any],
    *,
    cwd: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    progress: bool | dict = False,
    cell_timeout: float | None = None,
    parameters_cell: int | None = None,
    kernel_log: str | Path | None = None,
) -> Execution:
    """Run a notebook with papermill; never raises for a failing notebook (except on Ctrl-C).

    ``cwd`` is the kernel's working directory (default: the notebook's folder, as in Jupyter and nbval).
    On failure, ``error`` holds papermill's ``cell_index`` (in the parameterised notebook, which has the
    injected-parameters cell), ``source_cell_index`` (the same cell in the source notebook, when
    ``parameters_cell`` is given), ``exec_count`` ("In [n]"), the cell's source and the traceback.
    ``kernel_log``: a file that receives the kernel process's own stdout/stderr (default: inherited).
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    notebook, output = Path(notebook), Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    log_handle = open(kernel_log, "ab") if kernel_log is not None else None
    try:
        papermill.execute_notebook(
            str(notebook),
            str(output),
            parameters=dict(parameters),
            progress_bar=progress,
            kernel_manager_class=_kernel_manager_class(env, cwd if cwd is not None else notebook.parent, log_handle),
            execution_timeout=cell_timeout,
            start_timeout=120,  # kernel start-up on a loaded 2-core laptop can exceed papermill's 60 s
        )
    except PapermillExecutionError as e:
        source_index = e.cell_index
        if parameters_cell is not None and parameters and e.cell_index > parameters_cell:
            source_index = e.cell_index - 1  # papermill inserted one cell right after the parameters cell
        error = {
            "ename": e.ename,
            "evalue": strip_ansi(str(e.evalue)),
            "cell_index": e.cell_index,
            "source_cell_index": source_index,
            "exec_count": e.exec_count,
            "source": e.source,
            "traceback": strip_ansi("\n".join(e.traceback or [])),
        }
        return Execution(False, time.perf_counter() - start, error)
    except Exception as e:  # kernel died, could not start, timeout, unreadable notebook ...
        error = {
            "ename": type(e).__name__,
            "evalue": strip_ansi(str(e)),
            "cell_index": None,
            "source_cell_index": None,
            "exec_count": None,
            "source": None,
            "traceback": strip_ansi(traceback.format_exc()),
        }
        return Execution(False, time.perf_counter() - start, error)
    finally:
        if log_handle is not None:
            log_handle.close()
    return Execution(True, time.perf_counter() - start)


def describe_error(error: Mapping[str, Any] | None) -> str:
    """One line for logs and summaries: ``ValueError: boom (cell 3)``."""
    if not error:
        return ""
    where = f" (cell {error['source_cell_index']})" if error.get("source_cell_index") is not None else ""
    text = f"{error.get('ename')}: {error.get('evalue')}".strip()
    if len(text) > 200:
        text = text[:200] + "..."
    return text + where


# ----------------------------------------------------------------------------------------------------------
# Planning and running a batch


class GpuPool:
    """Hands each starting point a GPU id: the least busy one, ties broken round-robin. Thread-safe.

    With more jobs than GPUs, GPUs are shared evenly; without GPUs, :meth:`acquire` returns None.
    """

    def __init__(self, gpus: Sequence[str] | None):
        self.gpus = [str(g) for g in (gpus or [])]
        self.busy = {g: 0 for g in self.gpus}
        self._next = 0
        self._lock = threading.Lock()

    def acquire(self) -> str | None:
        if not self.gpus:
            return None
        with self._lock:
            order = self.gpus[self._next :] + self.gpus[: self._next]
            gpu = min(order, key=lambda g: self.busy[g])  # min keeps the first of equals: round-robin
            self.busy[gpu] += 1
            self._next = (self.gpus.index(gpu) + 1) % len(self.gpus)
            return gpu

    def release(self, gpu: str | None) -> None:
        if gpu is None:
            return
        with self._lock:
            self.busy[gpu] -= 1


@dataclass
class PlannedPoint:
    """A point, its folder, and what the runner found there."""

    point: Point
    folder: Path
    state: str  # done | new | changed | failed | incomplete

    @property
    def will_run(self) -> bool:
        return self.state != "done"


def point_state(folder: Path, phash: str) -> str:
    """``done`` (same params finished), ``changed`` (finished with other params), ``failed``,
    ``incomplete`` (started and killed: files but no marker), or ``new``."""
    done = read_json(folder / DONE_FILE)
    if isinstance(done, Mapping) and done.get("params_hash") == phash:
        return "done"
    if (folder / ERROR_FILE).exists():
        return "failed"
    if done is not None:
        return "changed"
    if folder.is_dir() and any(folder.iterdir()):
        return "incomplete"
    return "new"


def plan_points(recipe: Recipe, *, force: bool = False) -> list[PlannedPoint]:
    """Where every point goes and whether it must run (``force`` reruns finished points too)."""
    planned = []
    for point in recipe.points:
        folder = recipe.out / point.name
        state = point_state(folder, point.hash)
        planned.append(PlannedPoint(point, folder, "changed" if force and state == "done" else state))
    return planned


def _resolve_paths(params: Mapping[str, Any], base: Path) -> dict[str, Any]:
    """Relative path-like values (by parameter name suffix) made absolute against ``base``."""
    out = dict(params)
    for key, value in params.items():
        if key.endswith(PATH_SUFFIXES) and isinstance(value, str) and value and "://" not in value:
            path = Path(value).expanduser()
            out[key] = str(path if path.is_absolute() else (base / path).resolve())
    return out


def _run_point(
    recipe: Recipe,
    planned: PlannedPoint,
    declared: Mapping[str, NotebookParam],
    param_cell: int | None,
    gpus: GpuPool,
    base: Path,
) -> dict[str, Any]:
    """Execute one point into its folder and leave done.json or error.json there. Returns a short record."""
    folder, point = planned.folder, planned.point
    folder.mkdir(parents=True, exist_ok=True)
    # Stale results of an earlier attempt must not survive into this one's summary.
    for stale in (DONE_FILE, ERROR_FILE, METRICS_FILE, KERNEL_LOG):
        (folder / stale).unlink(missing_ok=True)
    params = {k: v for k, v in RUNNER_DEFAULTS.items() if k in declared}
    params.update(_resolve_paths(point.params, base))
    params[OUT_DIR_PARAM] = str(folder)
    gpu = gpus.acquire()
    try:
        env = {"CUDA_VISIBLE_DEVICES": gpu} if gpu is not None else None
        result = execute_notebook(
            recipe.notebook,
            folder / recipe.notebook.name,
            params,
            env=env,
            cell_timeout=recipe.cell_timeout,
            parameters_cell=param_cell,
            kernel_log=folder / KERNEL_LOG,
        )
    finally:
        gpus.release(gpu)
    record = {
        "name": point.name,
        "params_hash": point.hash,
        "params": point.params,
        "notebook": str(recipe.notebook),
        "executed_notebook": str(folder / recipe.notebook.name),
        "gpu": gpu,
        "seconds": round(result.seconds, 3),
        "finished_at": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
    }
    if result.ok:
        record["notebook_sha256"] = hashlib.sha256(recipe.notebook.read_bytes()).hexdigest()
        write_json_atomic(folder / DONE_FILE, record)
    else:
        write_json_atomic(folder / ERROR_FILE, {**record, **(result.error or {})})
    return {"name": point.name, "ok": result.ok, "seconds": result.seconds, "error": result.error, "gpu": gpu}


@dataclass
class BatchResult:
    """The outcome of :func:`run_batch`; ``exit_code`` is what ``stclr batch`` returns."""

    planned: list[PlannedPoint]
    ran: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    interrupted: bool = False
    summary_files: tuple[Path, ...] = ()

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        return 1 if self.failed else 0


def _worker_pool(
    jobs: int, tasks: list, fn: Callable, results: queue.Queue, stop: threading.Event
) -> list[threading.Thread]:
    """N daemon threads taking tasks in order. Daemon threads (not ThreadPoolExecutor, whose threads are
    joined at exit) let Ctrl-C end the batch at once; orphaned ipykernels exit when their parent dies."""
    todo: queue.Queue = queue.Queue()
    for task in tasks:
        todo.put(task)

    def loop():
        while not stop.is_set():
            try:
                task = todo.get_nowait()
            except queue.Empty:
                return
            try:
                results.put(fn(task))
            except BaseException as e:  # a runner bug must not hang the main loop waiting for a result
                error = {"ename": type(e).__name__, "evalue": str(e), "traceback": traceback.format_exc()}
                results.put({"name": task.point.name, "ok": False, "seconds": 0.0, "gpu": None, "error": error})

    threads = [threading.Thread(target=loop, name=f"stclr-batch-{i}", daemon=True) for i in range(max(1, jobs))]
    for t in threads:
        t.start()
    return threads


def run_batch(
    recipe: Recipe,
    *,
    jobs: int | None = None,
    gpus: Sequence[str] | None = None,
    dry_run: bool = False,
    force: bool = False,
    show_progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> BatchResult:
    """Validate, plan and run a batch; write summary.csv/summary.md. See the module docstring.

    ``jobs`` defaults to the number of ``gpus`` (or 1). Raises :class:`RecipeError` before running anything
    when a parameter is wrong.
    """
    from tqdm.auto import tqdm

    log = log or (lambda msg: tqdm.write(msg, file=sys.stdout))
    declared, param_cell = notebook_parameters(recipe.notebook)
    if param_cell is None:
        raise RecipeError(f"{recipe.notebook} has no cell tagged 'parameters'")
    points = validate_points(recipe.points, declared, str(recipe.notebook))
    recipe = dataclasses.replace(recipe, points=points)  # hashes and names from the checked (coerced) values
    planned = plan_points(recipe, force=force)
    todo = [p for p in planned if p.will_run]
    jobs = max(1, jobs or (len(gpus) if gpus else 1))
    result = BatchResult(planned)

    from stclr.runinfo import shown_path  # torch comes with it: not at import time

    log(f"{recipe.notebook.name}: {len(planned)} point(s) -> {shown_path(recipe.out)}" + (" [smoke]" if recipe.smoke else ""))
    if dry_run:
        width = max((len(p.point.name) for p in planned), default=4)
        for p in planned:
            action = "run" if p.will_run else "skip (done)"
            log(f"  {p.point.name:<{width}}  {p.state:<10}  {action}")
        log(f"dry run: {len(todo)} to run, {len(planned) - len(todo)} to skip; nothing was executed")
        return result

    recipe.out.mkdir(parents=True, exist_ok=True)
    base = Path.cwd()
    pool = GpuPool(gpus)
    results: queue.Queue = queue.Queue()
    stop = threading.Event()
    bar = tqdm(total=len(todo), desc="batch", unit="point", disable=not show_progress)
    if len(todo) < len(planned):
        log(f"skipping {len(planned) - len(todo)} point(s) already done")
    _worker_pool(jobs, todo, lambda p: _run_point(recipe, p, declared, param_cell, pool, base), results, stop)
    try:
        for _ in range(len(todo)):
            while True:  # poll, so Ctrl-C reaches the main thread promptly
                try:
                    rec = results.get(timeout=0.5)
                    break
                except queue.Empty:
                    continue
            result.ran.append(rec["name"])
            gpu = f" [gpu {rec['gpu']}]" if rec.get("gpu") is not None else ""
            if rec["ok"]:
                log(f"ok      {rec['name']} ({rec['seconds']:.1f} s){gpu}")
            else:
                result.failed.append(rec["name"])
                log(f"FAILED  {rec['name']}: {describe_error(rec['error'])}{gpu}")
            bar.update()
            bar.set_postfix(failed=len(result.failed), refresh=False)
    except KeyboardInterrupt:
        stop.set()
        result.interrupted = True
        log("interrupted: points still running are abandoned (they rerun next time)")
    finally:
        bar.close()
        result.summary_files = write_summary(recipe.out, collect_rows(planned, set(result.ran)), title=_title(recipe))
    counts = f"{len(result.ran) - len(result.failed)} ok, {len(result.failed)} failed, {len(planned) - len(todo)} skipped"
    log(f"{counts}{' (interrupted)' if result.interrupted else ''}; summary: {shown_path(recipe.out / 'summary.md')}")
    return result


def _title(recipe: Recipe) -> str:
    name = recipe.path.name if recipe.path else recipe.notebook.name
    return f"Batch {name}" + (" (smoke)" if recipe.smoke else "")


# ----------------------------------------------------------------------------------------------------------
# Summaries (pure, from the files on disk)


def collect_rows(planned: Sequence[PlannedPoint], ran_now: set[str] | None = None) -> list[dict[str, Any]]:
    """One row per point from its folder: name, status (ok | failed | pending), ran, seconds, error,
    ``params.*`` and flattened ``metrics.*``. Reading the disk (not memory) makes cached points look the same."""
    rows = []
    for p in planned:
        done = read_json(p.folder / DONE_FILE)
        error = read_json(p.folder / ERROR_FILE)
        if isinstance(done, Mapping) and done.get("params_hash") == p.point.hash:
            status, info = "ok", done
        elif isinstance(error, Mapping):
            status, info = "failed", error
        else:
            status, info = "pending", {}
        metrics = read_json(p.folder / METRICS_FILE) if status == "ok" else None
        row: dict[str, Any] = {
            "name": p.point.name,
            "status": status,
            "ran": "yes" if ran_now and p.point.name in ran_now else "no",
            "seconds": info.get("seconds"),
            "error": describe_error(error) if status == "failed" else "",
        }
        row.update(flatten(p.point.params, "params"))
        if isinstance(metrics, Mapping):
            row.update(flatten(metrics, "metrics"))
        rows.append(row)
    return rows


def _cell(value: Any) -> Any:
    if isinstance(value, (list, tuple, Mapping)):
        return json.dumps(value, default=str)
    return "" if value is None else value


def _beside(value: Any, folder: Path) -> Any:
    """An absolute path among the parameters, shown relative to the summary's folder (readable anywhere)."""
    if isinstance(value, str) and os.path.isabs(value) and Path(value).exists():
        return os.path.relpath(value, folder)
    return value


def _md(value: Any) -> str:
    if isinstance(value, float):
        text = f"{value:.4g}"
    else:
        text = str(_cell(value))
    return text.replace("|", "\\|").replace("\n", " ")


def _is_number_or_none(value: Any) -> bool:
    return value is None or isinstance(value, (int, float))


def write_summary(out: Path, rows: Sequence[Mapping[str, Any]], title: str = "Batch summary") -> tuple[Path, Path]:
    """Write ``summary.csv`` (every column) and ``summary.md`` (varying params + metrics; constants above)."""
    out = Path(out)
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: _cell(row.get(c)) for c in columns})
    csv_path = out / "summary.csv"
    write_text_atomic(csv_path, buf.getvalue(), newline="")

    params = [c for c in columns if c.startswith("params.")]
    constant = [c for c in params if len({json.dumps(_cell(r.get(c)), default=str) for r in rows}) == 1]
    varying = [c for c in params if c not in constant]
    # The table is for reading numbers; strings, lists and dicts stay in the CSV.
    metrics = [c for c in columns if c.startswith("metrics.") and all(_is_number_or_none(r.get(c)) for r in rows)]
    counts = {s: sum(r["status"] == s for r in rows) for s in ("ok", "failed", "pending")}
    lines = [f"# {title}", "", f"{len(rows)} point(s): " + ", ".join(f"{n} {s}" for s, n in counts.items() if n), ""]
    if constant and rows:
        lines += ["Same for every point: " + ", ".join(f"`{c[7:]}={_md(_beside(rows[0].get(c), out))}`" for c in constant), ""]
    bare = {c[7:] for c in varying}
    head = ["name", "status", "seconds"] + [c[7:] for c in varying] + [c if c[8:] in bare else c[8:] for c in metrics]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["name"], r["status"], r.get("seconds")] + [r.get(c) for c in varying] + [r.get(c) for c in metrics]
        lines.append("| " + " | ".join(_md(c) for c in cells) + " |")
    failed = [r for r in rows if r["status"] == "failed"]
    if failed:
        lines += ["", "## Failures", ""]
        lines += [f"- `{r['name']}`: {_md(r['error'])} — see `{r['name']}/{ERROR_FILE}`" for r in failed]
    md_path = out / "summary.md"
    write_text_atomic(md_path, "\n".join(lines) + "\n")
    return csv_path, md_path
