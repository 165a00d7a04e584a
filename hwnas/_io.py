"""One atomic file write for every file hwnas produces: a reader (or a run killed half-way)
never sees half a file, because the content goes to a temporary file beside the target
that then replaces it in one rename. And one bounded JSON reader for every JSON file a
user hands in, so a hostile or broken file is a clear error, never a crash."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hwnas.errors import HwnasError, SpecError


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


#: limits of `read_json` on a user-supplied file: far above any real device spec, latency
#: profile or checkpoint header, far below what would exhaust memory or recursion
MAX_JSON_BYTES = 64 * 2**20
MAX_JSON_DEPTH = 64
MAX_JSON_NUMBER = 100  # characters of one number literal (a float64 needs 25)
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_JSON_BRACKET = re.compile(r"[\[\]{}]")


def loads_json(text: str | bytes, where: str) -> Any:
    """Parse user-supplied JSON with bounds, or raise `SpecError` naming `where`: UTF-8,
    at most `MAX_JSON_BYTES`, nesting at most `MAX_JSON_DEPTH` deep and numbers at most
    `MAX_JSON_NUMBER` characters long (Python's own parser recurses until it crashes on a
    deep file, and refuses a 5,000-digit integer with a ValueError)."""
    if len(text) > MAX_JSON_BYTES:
        raise SpecError(
            f"{where}: {len(text)} bytes of JSON, more than the {MAX_JSON_BYTES} allowed"
        )
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SpecError(f"{where}: not UTF-8 text ({exc})") from None
    depth = 0
    for bracket in _JSON_BRACKET.finditer(_JSON_STRING.sub('""', text)):
        depth += 1 if bracket[0] in "[{" else -1
        if depth > MAX_JSON_DEPTH:
            raise SpecError(f"{where}: JSON nested more than {MAX_JSON_DEPTH} deep")

    def number(kind: type[int | float]) -> Any:
        def parse(literal: str) -> int | float:
            if len(literal) > MAX_JSON_NUMBER:
                raise SpecError(
                    f"{where}: a number of {len(literal)} characters (at most {MAX_JSON_NUMBER})"
                )
            return kind(literal)

        return parse

    try:
        return json.loads(text, parse_int=number(int), parse_float=number(float))
    except json.JSONDecodeError as exc:
        raise SpecError(f"{where}: not valid JSON ({exc})") from None


def read_json(path: Path, where: str | None = None) -> Any:
    """`loads_json` of a file, refusing a file over the size limit before reading it."""
    where = where or str(path)
    try:
        size = path.stat().st_size
        if size > MAX_JSON_BYTES:
            raise SpecError(f"{where}: {size} bytes, more than the {MAX_JSON_BYTES} allowed")
        data = path.read_bytes()
    except OSError as exc:
        raise HwnasError(f"{where}: cannot read it ({exc.strerror or exc})") from None
    return loads_json(data, where)


def number(value: Any) -> float:
    """A number read from a user's JSON file as a float; JSON's `true` is not 1 (Python's
    `float(True)` says it is), nor is a string."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"expected a number, got {value!r}")
    return float(value)
