"""Small file helpers every layer uses: atomic text and JSON writes, and forgiving readers. No torch here, so the
recipe runner and the data preparation import it cheaply.

An atomic write goes to a temporary file beside the target and is renamed over it (``os.replace``), so a reader
never sees half a file and a killed writer leaves the old file. The temporary name is unique to the process and
thread: two runs side by side (notebook 08 pretrains in a second process; ``stclr batch --gpus`` runs points in
threads) may write the same shared file at once, and a shared temporary name would let one rename the other's
half-written file or fail to find its own. Checkpoints (torch objects, fsynced) have their own writer in
``stclr.checkpoint``.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any, Callable

__all__ = ["read_json", "read_jsonl", "write_json_atomic", "write_text_atomic"]


def write_text_atomic(path: str | Path, text: str, newline: str | None = None) -> None:
    """Write ``text`` to ``path`` atomically (``newline`` as for :func:`open`; ``""`` writes line ends as given)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline=newline) as f:
            f.write(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json_atomic(path: str | Path, obj: Any, default: Callable[[Any], Any] = str) -> None:
    """Write ``obj`` as indented JSON atomically (``default`` converts what JSON cannot hold)."""
    write_text_atomic(path, json.dumps(obj, indent=2, default=default) + "\n")


def read_json(path: str | Path) -> Any:
    """The parsed file, or ``None`` when it is missing or unreadable (a torn file counts as missing)."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def read_jsonl(path: str | Path) -> list[dict]:
    """The objects of a JSON-lines file (``[]`` when it does not exist)."""
    p = Path(path)
    return [json.loads(ln) for ln in p.read_text().splitlines() if ln.strip()] if p.exists() else []
