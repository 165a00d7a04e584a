"""One atomic file write for every file hwnas produces: a reader (or a run killed half-way)
never sees half a file, because the content goes to a temporary file beside the target
that then replaces it in one rename."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | Path, fsync: bool = False) -> Iterator[Path]:
    """A temporary path beside `path` (same suffix, so writers that go by the extension
    still work) that replaces `path` when the block ends without an error; `fsync` flushes
    it to disk first (checkpoints that must survive a power cut)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        yield tmp
        if fsync:
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write(path: str | Path, content: str | bytes) -> Path:
    """Write `content` (text as UTF-8) to `path` atomically."""
    with atomic_path(path) as tmp:
        if isinstance(content, bytes):
            tmp.write_bytes(content)
        else:
            tmp.write_text(content, encoding="utf-8")
    return Path(path)


def why_not_a_file(path: Path) -> str | None:
    """None when `path` is a file, else why not, for an error message that points at the
    cause: "does not exist", or "is a directory, not a file" (the usual slip)."""
    if path.is_file():
        return None
    if path.is_dir():
        return "is a directory, not a file"
    return "is not a regular file" if path.exists() else "does not exist"


def why_not_a_directory(path: Path) -> str | None:
    """None when `path` is a directory, else why not."""
    if path.is_dir():
        return None
    return "is a file, not a directory" if path.exists() else "does not exist"
