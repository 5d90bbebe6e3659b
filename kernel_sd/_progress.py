"""A dependency-free progress bar for long command-line runs (written to stderr)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

__all__ = ["progress"]

T = TypeVar("T")


def progress(
    items: Iterable[T], *, total: int | None = None, desc: str = ""
) -> Iterator[T]:
    """Yield ``items`` while drawing ``desc [#####.....] i/N  elapsed`` on stderr.

    On a terminal the bar redraws in place. Otherwise (logs, CI, a pipe) a single
    line is written when the loop ends, so a log holds one line per loop.
    """
    items = list(items) if total is None and not hasattr(items, "__len__") else items
    total = len(items) if total is None else total  # type: ignore[arg-type]
    tty = sys.stderr.isatty()
    start = time.perf_counter()
    width = 24
    i = 0

    def line() -> str:
        filled = int(width * i / max(total, 1))
        elapsed = time.perf_counter() - start
        return f"{desc} [{'#' * filled}{'.' * (width - filled)}] {i}/{total}  {elapsed:6.1f}s"

    for i, item in enumerate(items, start=1):  # noqa: B007  (read by line())
        yield item
        if tty:
            sys.stderr.write("\r" + line())
            sys.stderr.flush()
    sys.stderr.write("\n" if tty else line() + "\n")
    sys.stderr.flush()
