"""What every command shares: exit codes, number arguments and tables for people and pipes."""

from __future__ import annotations

import argparse
import sys

from tui.i18n import _

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def positive(text: str) -> int:
    """argparse type: a whole number >= 1 (a usage error otherwise)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(_("{value} is not a whole number of 1 or more").format(
            value=text))
    return value


def print_table(headers: list[str], rows: list[list[str]], wrap_column: int = 1) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False, highlight=False)
    for index, header in enumerate(headers):
        # Long names may wrap; numbers, codes and phone numbers never should.
        table.add_column(header, no_wrap=index != wrap_column, overflow="fold")
    for row in rows:
        # Text, not markup: a name like "[bold]" or an escape sequence is shown inert.
        table.add_row(*(Text(value) for value in row))
    # Piped into grep or a file: never wrap, whatever the width of a terminal.
    console = Console(soft_wrap=False) if sys.stdout.isatty() else Console(width=1000)
    console.print(table)


class TerminalProgress:
    """One self-rewriting line on stderr, only when stderr is a terminal."""

    def __init__(self):
        self.shown = sys.stderr.isatty()

    def update(self, text: str) -> None:
        if self.shown:
            print(f"\r\x1b[K{text}", end="", file=sys.stderr, flush=True)

    def clear(self) -> None:
        if self.shown:
            print("\r\x1b[K", end="", file=sys.stderr, flush=True)
