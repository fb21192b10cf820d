"""Write one benchmark's section of ``docs/benchmarks.md`` between markers, leaving the others alone."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import re
from pathlib import Path

BENCH_MD = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
HEADER = "# Benchmarks\n\nEach section is written by the script named in it (`python bench/<name>.py`); rerun it to refresh.\n"


def machine_line() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (
        f"{_dt.date.today().isoformat()} · {cpu} · {os.cpu_count()} cores · {gpu} · "
        f"Python {platform.python_version()} · torch {torch.__version__}"
    )


def write_section(name: str, body: str, path: str | Path | None = None) -> None:
    """Replace (or append) the section ``name`` of docs/benchmarks.md (or of ``path``) with ``body`` (markdown)."""
    target = Path(path) if path is not None else BENCH_MD
    text = target.read_text() if target.exists() else HEADER
    begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
    block = f"{begin}\n{body.rstrip()}\n{end}"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


def write_data(name: str, rows: list, path: str | Path | None = None) -> Path:
    """Write the rows behind section ``name`` to ``docs/data/<name>.json`` (beside docs/benchmarks.md, or ``path``):
    what notebooks and prose quote the section's numbers from."""
    import json

    target = Path(path) if path is not None else BENCH_MD.parent / "data" / f"{name}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n")
    return target
