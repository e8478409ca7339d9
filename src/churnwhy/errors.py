"""One exception tree. The CLI maps ChurnwhyError to exit code 2 and prints only its message; any other
exception is a bug in churnwhy: exit code 3 with one line (`one_line`), the traceback only with --debug."""

from __future__ import annotations


class ChurnwhyError(Exception):
    """A problem the user can fix: bad input, bad configuration, bad usage."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  fix: {self.hint}"


class InputError(ChurnwhyError):
    """An input path, file or its content cannot be used."""


class MappingError(InputError):
    """A column cannot be mapped to a canonical name, or several candidates fit."""


class DateFormatError(InputError):
    """A date column's format cannot be decided (e.g. DD/MM vs MM/DD)."""


class OutputError(ChurnwhyError):
    """An output path cannot be written (a folder where a file is wanted, read-only, inside the input...)."""


class ConfigError(ChurnwhyError):
    """churnwhy.toml or a flag holds an invalid setting."""


class StrictModeError(ChurnwhyError):
    """--strict turned a warning into an error."""


class InternalError(ChurnwhyError):
    """A bug in churnwhy stopped a result the command needs (exit code 3, like any unexpected exception)."""

    exit_code = 3


class ThresholdBreached(ChurnwhyError):
    """A `check` threshold does not hold (exit code 1)."""

    exit_code = 1


def one_line(exc: BaseException) -> str:
    """`ValueError: the first line of its message`: what a bug report needs, without values from deeper lines."""
    first = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
    return f"{type(exc).__name__}: {first[:300]}" if first else type(exc).__name__
