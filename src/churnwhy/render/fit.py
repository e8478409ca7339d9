"""Tables that fit the terminal without cutting a number.

Rich squeezes a table that is wider than the console by cutting cells ("1…", "fa…"), and at last by shrinking
every column evenly, so numbers in CI logs came out truncated and narrow columns came out empty. Here a table is
laid out before Rich sees it: every column keeps at least its longest word (a number, an interval, a word of a
label) and text wraps between words; a table whose words do not fit side by side is split into parts that
repeat its first column. Nothing is ever cut or ellipsised.
"""

from __future__ import annotations

import copy
import os
from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.table import Column, Table
from rich.text import Text

from churnwhy.render.safe import SafeConsole

PIPED_WIDTH = 120  # the width of output that goes to a file or a CI log when COLUMNS does not say otherwise


def _plain(console: Console, cell: RenderableType) -> str | None:
    if isinstance(cell, Text):
        return cell.plain
    if isinstance(cell, str):
        return console.render_str(cell).plain
    return None


def _widths(console: Console, options: ConsoleOptions, column: Column) -> tuple[int, int]:
    """(longest word, whole widest cell) of a column, its header included."""
    need, want = 1, 1
    for cell in [column.header, *column.cells]:
        text = _plain(console, cell)
        if text is None:  # another renderable: trust its own measurement
            m = Measurement.get(console, options, cell)
            need, want = max(need, m.minimum), max(want, m.maximum)
            continue
        lines = text.splitlines() or [""]
        want = max(want, *(Text(line).cell_len for line in lines))
        need = max(need, *(Text(word).cell_len for word in text.split()), 1) if text.split() else need
    return need, want


def _overhead(table: Table, columns: int) -> int:
    """Padding and vertical borders of `columns` columns (a little over when pad_edge is off: never under)."""
    _, right, _, left = table.padding
    borders = 0 if table.box is None else (columns + 1 if table.show_edge else max(columns - 1, 0))
    return (left + right) * columns + borders


def _with_columns(table: Table, columns: list[Column], title: Any, caption: Any) -> Table:
    part = copy.copy(table)
    part.columns = []
    for index, column in enumerate(columns):
        column = copy.copy(column)
        column._index = index
        part.columns.append(column)
    part.title, part.caption = title, caption
    return part


def _set_widths(table: Table, needs: list[int], wants: list[int], room: int) -> Table:
    """Each column its longest word, then the room left shared out toward each column's widest cell."""
    widths = list(needs)
    spare = room - sum(widths)
    while spare > 0:
        short = [i for i in range(len(widths)) if widths[i] < wants[i]]
        if not short:
            break
        share = max(spare // len(short), 1)
        for i in short:
            give = min(share, wants[i] - widths[i], spare)
            widths[i] += give
            spare -= give
            if spare <= 0:
                break
    for column, width in zip(table.columns, widths):
        column.width, column.min_width, column.max_width = width, None, None
        column.no_wrap, column.overflow = False, "fold"
    return table


def fit_table(table: Table, console: Console, options: ConsoleOptions) -> list[Table]:
    """`table` laid out in `options.max_width` without cutting a word: as it is when it fits, with wrapped
    text when its words fit side by side, else in parts that each repeat the first column."""
    width = options.max_width
    measured = [_widths(console, options, c) for c in table.columns]
    needs, wants = [n for n, _ in measured], [w for _, w in measured]
    count = len(table.columns)
    if count == 0 or sum(wants) + _overhead(table, count) <= width:
        return [table]
    if sum(needs) + _overhead(table, count) <= width or count <= 2:
        return [_set_widths(copy.copy(table), needs, wants, width - _overhead(table, count))]
    # Column 0 names the row: every part repeats it. Parts take whole cells where they fit, words otherwise.
    sizes = wants if wants[0] + max(wants[1:]) + _overhead(table, 2) <= width else needs
    groups: list[list[int]] = [[]]
    for i in range(1, count):
        trial = [0, *groups[-1], i]
        if groups[-1] and sum(sizes[j] for j in trial) + _overhead(table, len(trial)) > width:
            groups.append([])
        groups[-1].append(i)
    parts = []
    for k, group in enumerate(groups):
        chosen = [0, *group]
        title = table.title if k == 0 else (f"{table.title} (continued)" if isinstance(table.title, str) else None)
        part = _with_columns(table, [table.columns[j] for j in chosen], title, table.caption if k == len(groups) - 1 else None)
        room = width - _overhead(part, len(chosen))
        parts.append(_set_widths(part, [needs[j] for j in chosen], [wants[j] for j in chosen], room))
    return parts


def table_markdown(table: Table, level: int = 2) -> str:
    """A Rich table as a Markdown section: its title as a heading, then a pipe table (numbers right-aligned as
    they are on screen). One builder serves the terminal and Markdown, so the two never show different rows."""
    from churnwhy.render.safe import md_cell

    console = Console(width=10_000, emoji=False)
    columns = table.columns

    def cell(value: RenderableType) -> str:
        text = _plain(console, value)
        return md_cell(text if text is not None else str(value)).strip()

    lines = []
    if table.title:
        lines += [f"{'#' * level} {cell(table.title)}", ""]
    lines.append("| " + " | ".join(cell(c.header) for c in columns) + " |")
    lines.append("|" + "|".join("---:" if c.justify == "right" else "---" for c in columns) + "|")
    for row in zip(*(list(c.cells) for c in columns)):
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


class Fitted:
    """Renders `inner` with every boxed table in it (at the top or inside a Group) fitted by fit_table."""

    def __init__(self, inner: RenderableType) -> None:
        self.inner = inner

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield from self._fit(self.inner, console, options)

    def _fit(self, item: Any, console: Console, options: ConsoleOptions) -> list[Any]:
        if isinstance(item, Table) and item.box is not None:
            return list(fit_table(item, console, options))
        if isinstance(item, Group):
            return [Group(*[part for child in item.renderables for part in self._fit(child, console, options)])]
        return [item]


class OutConsole(SafeConsole):
    """The stdout console: control characters neutralised (SafeConsole), tables fitted (Fitted), and, when
    stdout is not a terminal, lines COLUMNS wide or 120 (Rich's 80 cut tables in CI logs)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if kwargs.get("width") is None and not self.is_terminal and not os.environ.get("COLUMNS", "").strip().isdigit():
            self.width = PIPED_WIDTH

    def print(self, *objects: Any, **kwargs: Any) -> None:
        super().print(*[Fitted(o) if isinstance(o, (Table, Group)) else o for o in objects], **kwargs)
