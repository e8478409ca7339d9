"""Text from the data, made safe to print: segment values, file and column names, codes and notes.

Exports are written by other people and programs. A value like "[/bold]" is Rich markup (a crash), one like
"[link=https://elsewhere]here[/link]" a working hyperlink, "\\x1b]8;;..." an escape sequence the terminal obeys,
and a "|" or a newline breaks a Markdown table. Every renderer passes data through these functions: control
characters are shown as escapes (\\x1b), markup is escaped for Rich, and Markdown cells are escaped for
Markdown. `SafeConsole` makes control characters visible once more on the way out, whatever a renderer forgot.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.markup import escape
from rich.segment import Segment

# C0 and C1 controls and DEL, and the Unicode bidirectional overrides that reorder what a terminal shows.
# Newline and tab are kept only where layout needs them (see `visible`).
_CONTROLS = "\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_CONTROL = re.compile(f"[{_CONTROLS}]")
_CONTROL_OR_NEWLINE = re.compile(f"[{_CONTROLS}\n\t]")
_MARKDOWN = re.compile(r"([\\|<>\[\]`])")


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return {"\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(match.group()) or (
        f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    )


def visible(text: Any, *, keep_newlines: bool = False) -> str:
    """`text` with every control character written as its escape (`\\x1b`, `\\n`): shown, never obeyed."""
    return (_CONTROL if keep_newlines else _CONTROL_OR_NEWLINE).sub(_escaped, str(text))


def safe_text(text: Any, *, keep_newlines: bool = True) -> str:
    """Data (or a message quoting data) to place inside Rich markup: controls shown, markup escaped."""
    return escape(visible(text, keep_newlines=keep_newlines))


def safe_value(text: Any) -> str:
    """One value from the data (a segment value, a file or column name) for a Rich table cell: one line."""
    return safe_text(text, keep_newlines=False)


def md_cell(text: Any) -> str:
    """A value for a Markdown table cell or list item: one line, pipes, brackets, backslashes and HTML escaped."""
    one_line = re.sub(r"\r\n|\r|\n", " ", str(text))
    return _MARKDOWN.sub(r"\\\1", visible(one_line))


class Sanitised:
    """A renderable that renders `inner`, then shows any control character left in its text as an escape.

    Styles are applied after this (as separate segment attributes), so colours still work; only characters
    that came in the text itself are neutralised."""

    def __init__(self, inner: RenderableType) -> None:
        self.inner = inner

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for segment in console.render(self.inner, options):
            if segment.control or not _CONTROL.search(segment.text):
                yield segment
            else:
                yield Segment(visible(segment.text, keep_newlines=True), segment.style)


class SafeConsole(Console):
    """A Console whose print() neutralises control characters in whatever it is given (see Sanitised)."""

    def print(self, *objects: Any, **kwargs: Any) -> None:
        markup = kwargs.pop("markup", None)
        if markup is False:  # plain text asked for: escape it so the wrapped render does not parse it
            objects = tuple(escape(o) if isinstance(o, str) else o for o in objects)
        super().print(*_wrap(objects), **kwargs)


def _wrap(objects: Iterable[Any]) -> list[Any]:
    return [o if isinstance(o, Sanitised) else Sanitised(o) for o in objects]
