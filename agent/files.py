"""Files written all or nothing: the agent's state, the textfile, the operators' outputs."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes, *, mode: int | None = 0o644, fsync: bool = True) -> None:
    """`data` in `path`, or `path` untouched: a temp file beside it, fsync, rename, fsync of the
    directory. `mode` None keeps the temp file's private 0600. The temp file never stays behind."""
    directory = path.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if fsync:
        fsync_dir(directory)


def fsync_dir(directory: Path) -> None:
    """Make a rename or a new file in `directory` durable; Windows cannot open a directory for
    this (NTFS metadata is journaled), and some file systems refuse: then nothing is done."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    with contextlib.suppress(OSError):
        os.fsync(fd)
    os.close(fd)
