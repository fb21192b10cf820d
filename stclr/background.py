"""Engine runs in a second process, so that a notebook uses a second CPU core.

The course's CPU runs use one torch thread: for the tiny model that is nearly as fast as two, and the numbers
do not depend on how many cores a machine has (a float sum split over two threads is added in another order).
On two cores that leaves one idle while a notebook trains. Notebook 08 pretrains two baselines; with
:func:`pretrain_side_by_side` the short one trains in a child process (``python -m stclr pretrain``, the
command line's own path) on the idle core while the long one trains in the kernel with its progress bar. Each
run is the same single-threaded computation wherever it runs, so the results are identical to running them one
after the other (``tests/test_background.py`` checks the weights bit for bit); only the wall time changes.

A child writes its resolved config (``<name>.yaml``), its output (``<name>.out``) and its log (``<name>.log``)
to a folder of the caller's choice; a failed child raises :class:`BackgroundRunError` with the end of its log.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Mapping

from stclr.config import PretrainConfig, save_yaml, usable_cores

__all__ = ["BackgroundRun", "BackgroundRunError", "pretrain_side_by_side", "spare_cpu_cores", "start_engine_run"]


class BackgroundRunError(RuntimeError):
    """A background engine run exited with an error (the message ends with its log)."""


def spare_cpu_cores() -> int:
    """CPU cores this process may use, minus the one it runs on (0 on a single core)."""
    return max(0, usable_cores() - 1)


class BackgroundRun:
    """One ``python -m stclr <command> --config <yaml>`` in a child process. :meth:`wait` returns its run folder;
    :meth:`stop` ends it (a pretraining stopped so continues from its ``last.pt`` with ``resume=True``)."""

    def __init__(self, command: str, cfg, folder: str | Path, name: str):
        self.command, self.name = command, name
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.config_path, self.out_path, self.log_path = (folder / f"{name}{ext}" for ext in (".yaml", ".out", ".log"))
        save_yaml(cfg, self.config_path)
        argv = [sys.executable, "-m", "stclr", command, "--config", str(self.config_path)]
        with open(self.out_path, "w") as out, open(self.log_path, "w") as log:
            self.process = subprocess.Popen(argv, stdout=out, stderr=log, stdin=subprocess.DEVNULL, cwd=os.getcwd())
        self.started = time.perf_counter()
        self.seconds: float | None = None

    def running(self) -> bool:
        return self.process.poll() is None

    def wait(self) -> Path:
        """Block until the run ends; its run folder (the last line the command printed)."""
        code = self.process.wait()
        if self.seconds is None:
            self.seconds = time.perf_counter() - self.started
        printed = [ln for ln in self.out_path.read_text().splitlines() if ln.strip()]
        if code != 0 or not printed or not Path(printed[-1]).is_dir():
            tail = "\n".join(self.log_path.read_text().splitlines()[-25:])
            raise BackgroundRunError(f"background run {self.name!r} (stclr {self.command} --config {self.config_path}) "
                                     f"exited with code {code}; the end of {self.log_path}:\n{tail}")
        return Path(printed[-1])

    def stop(self, timeout: float = 10.0) -> None:
        if self.running():
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_engine_run(command: str, cfg, folder: str | Path, name: str) -> BackgroundRun:
    """Start ``stclr <command>`` (``pretrain``, ``finetune``, ``retrieve`` or ``probe``) with config ``cfg`` in a
    child process; its config, output and log go to ``folder/<name>.*``."""
    from stclr.config import ENGINE_COMMANDS

    if command not in ENGINE_COMMANDS:
        raise ValueError(f"command must be one of {sorted(ENGINE_COMMANDS)}, got {command!r}")
    return BackgroundRun(command, cfg, folder, name)


def pretrain_side_by_side(cfgs: Mapping[str, PretrainConfig], background: int, *,
                          log_dir: str | Path) -> dict[str, Path]:
    """Run every pretraining of ``cfgs`` (name -> config) to its end; returns name -> run folder, in order.

    Of the runs still to train, the first ``background`` each start in a child process (give each a spare core:
    :func:`spare_cpu_cores`), but never all of them: at least one trains here, with its progress bar, while the
    children run. A config with ``cpu_threads=0`` runs in its child with this process's torch thread count, so
    its numbers are the ones it would have given here. Finished runs are reused and interrupted ones resumed
    (:func:`stclr.train.pretraining_status`). If a run here fails or is interrupted, the children are stopped
    (each resumes on the next call)."""
    import dataclasses

    import torch

    from stclr.train import pretraining_status, run_or_resume_pretraining

    if background < 0:
        raise ValueError(f"background must be >= 0, got {background}")
    status = {name: pretraining_status(cfg) for name, cfg in cfgs.items()}
    todo = [name for name in cfgs if status[name] != "finished"]
    children: dict[str, BackgroundRun] = {}
    for name in todo[:max(0, min(background, len(todo) - 1))]:
        cfg = dataclasses.replace(cfgs[name], resume=status[name] == "interrupted", show_progress=False,
                                  cpu_threads=cfgs[name].cpu_threads or torch.get_num_threads())
        children[name] = start_engine_run("pretrain", cfg, log_dir, name)
    runs: dict[str, Path] = {}
    try:
        for name, cfg in cfgs.items():
            if name not in children:
                runs[name] = run_or_resume_pretraining(cfg)
        for name, child in children.items():
            runs[name] = child.wait()
    except BaseException:
        for child in children.values():
            child.stop()
        raise
    return {name: runs[name] for name in cfgs}
