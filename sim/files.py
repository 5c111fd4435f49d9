"""Writing a file so that a crash leaves either the old file or the new one, never half of one."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Callable


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """``write(tmp)`` to a hidden temporary file beside ``path`` (``.NAME.tmp``), sync it, then rename it
    over ``path`` and sync the folder, so that the rename itself survives a power loss (POSIX)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    with contextlib.suppress(OSError):
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def out_folder_problem(out: Path, overwrite: bool) -> str | None:
    """Why ``out`` cannot take a new output folder, or None: it is an existing file (never replaced,
    ``--overwrite`` or not), or a non-empty folder without ``overwrite``."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        return f"--out {out} is a file, not a folder; give a folder path"
    if out.exists() and any(out.iterdir()) and not overwrite:
        return f"--out {out} exists and is not empty (use --overwrite to replace it)"
    return None

