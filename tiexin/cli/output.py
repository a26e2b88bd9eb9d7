"""What every ``tiexin`` command prints with: its consoles, one-line errors, a progress bar."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ledger.errors import TiexinError

console = Console()
errors = Console(stderr=True, soft_wrap=True)


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Our own errors end the command with one line on stderr and exit status 1, not a traceback."""
    try:
        yield
    except TiexinError as error:
        fail(error.reason)


def fail(reason: str) -> None:
    """Say why on stderr, in one line, and end the command with exit status 1."""
    errors.print(f"[red]error:[/red] {reason}", highlight=False)
    sys.exit(1)


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int], None]]:
    """A transient bar on stderr; the block gets ``advance(done, total)`` to move it."""
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=errors, transient=True) as progress:
        task = progress.add_task(label, total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield advance
