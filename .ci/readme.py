"""Run every code block of README.md in order, in a fresh directory, as a reader would.

Bash blocks run as one `bash -e` script each; Python blocks run in one shared namespace (a
reader pastes them into one session), all with the fresh directory as working directory.
An HTML comment on the line(s) just before a block adjusts how CI runs it (invisible on
GitHub):

    <!-- ci: sub "FROM" "TO" -->   replace text (a reduced size; the README says the full one)
    <!-- ci: skip "REASON" -->      not run here (a board, a cluster, an install); says why

A failing block stops the run with its output; the exit code is 1. Usage:
    python .ci/readme.py [README.md] [--from N] [--to N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

_FENCE = re.compile(r"^```(\w*)\s*$")
_DIRECTIVE = re.compile(r"^<!--\s*ci:\s*(sub|skip)\s+(.*?)\s*-->\s*$")
_LANGS = {"bash": "bash", "sh": "bash", "python": "python", "py": "python"}


@dataclass
class Block:
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    subs: list[tuple[str, str]] = field(default_factory=list)
    skip: str | None = None

    def text(self) -> str:
        code = self.code
        for old, new in self.subs:
            if old not in code:
                raise SystemExit(f"README line {self.line}: ci sub {old!r} matches nothing")
            code = code.replace(old, new)
        return code


def blocks(readme: Path) -> list[Block]:
    """The README's bash and Python blocks with the directives just above each."""
    lines = readme.read_text(encoding="utf-8").splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m or not m.group(1):
            i += 1
            continue
        start, lang = i, m.group(1)
        end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
        block = Block(start + 1, _LANGS.get(lang, lang), "\n".join(lines[i + 1 : end]) + "\n")
        j = start - 1
        while j >= 0 and (d := _DIRECTIVE.match(lines[j].strip())):
            args = shlex.split(d.group(2))
            if d.group(1) == "skip":
                block.skip = " ".join(args) or "no reason given"
            elif len(args) == 2:
                block.subs.insert(0, (args[0], args[1]))
            else:
                raise SystemExit(f"README line {j + 1}: ci sub takes two quoted strings")
            j -= 1
        if block.lang in ("bash", "python"):
            out.append(block)
        i = end + 1
    return out


def run(readme: Path, workdir: Path, first: int, last: int = 10**9) -> int:
    namespace: dict[str, object] = {"__name__": "__readme__"}
    os.chdir(workdir)
    sys.path.insert(0, str(workdir))
    total = time.perf_counter()
    for block in blocks(readme):
        head = f"README line {block.line} ({block.lang})"
        if not first <= block.line <= last:
            continue
        if block.skip:
            print(f"-- {head}: skipped: {block.skip}", flush=True)
            continue
        print(f"-- {head}", flush=True)
        code = block.text()
        t0 = time.perf_counter()
        if block.lang == "bash":
            ok = (
                subprocess.run(["bash", "-euo", "pipefail", "-c", code], check=False).returncode
                == 0
            )
        else:
            try:
                exec(compile(code, f"README.md:{block.line}", "exec"), namespace)  # noqa: S102
                ok = True
            except BaseException:  # noqa: BLE001 - a reader sees any failure
                traceback.print_exc()
                ok = False
        print(f"   {'ok' if ok else 'FAILED'} in {time.perf_counter() - t0:.1f} s", flush=True)
        if not ok:
            print(f"README: the block at line {block.line} failed:\n{code}", file=sys.stderr)
            return 1
    print(f"README: every block ran in {time.perf_counter() - total:.0f} s", flush=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("readme", nargs="?", default="README.md")
    parser.add_argument("--from", dest="first", type=int, default=0, help="first README line")
    parser.add_argument("--to", dest="last", type=int, default=10**9, help="last README line")
    parser.add_argument("--keep", type=Path, help="run in this directory (kept) instead")
    args = parser.parse_args()
    readme = Path(args.readme).resolve()
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        return run(readme, args.keep.resolve(), args.first, args.last)
    with tempfile.TemporaryDirectory(prefix="hwnas-readme-") as tmp, contextlib.chdir(tmp):
        return run(readme, Path(tmp), args.first, args.last)


if __name__ == "__main__":
    sys.exit(main())
