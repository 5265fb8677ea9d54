"""The one way the scripts in ``scripts/`` rewrite a generated block of a Markdown file (README.md...)."""

from __future__ import annotations

import argparse
from pathlib import Path


def replace_block(path: Path, start: str, end: str, body: str) -> None:
    """Put ``body`` between the marker lines ``start`` and ``end`` of ``path`` (appended at the end of the
    file when the markers are absent; the rest of the file is kept), written atomically."""
    old = path.read_text() if path.exists() else ""
    block = f"{start}\n{body.rstrip(chr(10))}\n{end}"
    if start in old and end in old:
        new = old[: old.index(start)] + block + old[old.index(end) + len(end) :]
    else:
        new = old + ("\n" if old and not old.endswith("\n") else "") + block + "\n"
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(new)
    tmp.replace(path)


def add_write_option(ap: argparse.ArgumentParser, page: Path, block: str) -> None:
    """``--write [FILE]``: rewrite ``block`` in FILE, by default in ``page`` (the docs page that holds it)."""
    ap.add_argument(
        "--write",
        metavar="FILE",
        type=Path,
        nargs="?",
        const=page,
        help=f"replace the {block} block in FILE (default: {page.parent.name}/{page.name})",
    )
