"""A frozen settings object built from defaults, churnwhy.toml and command-line flags (in that order)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import functools
import json
import re
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from churnwhy.errors import ConfigError

CONFIG_NAME = "churnwhy.toml"
ROLES = ("customers", "events", "surveys", "skip")
TENURE_UNITS = ("auto", "days", "weeks", "months", "years")


@dataclasses.dataclass(frozen=True)
class Config:
    """Every setting churnwhy reads. Build with `Config.load(...)`; change with `dataclasses.replace`."""

    # Time
    as_of: dt.date | None = None  # None: the latest date in the data, never the wall clock
    lookback_days: int = 180  # behaviour window before each customer's end date
    inactivity_days: int = 90  # no event for this long before as_of = churned (0 disables)
    horizons: tuple[int, ...] = (30, 90, 180, 365)
    # Columns and files
    columns: Mapping[str, str] = dataclasses.field(default_factory=dict)  # canonical -> source name
    file_columns: Mapping[str, Mapping[str, str]] = dataclasses.field(default_factory=dict)  # per file
    files: Mapping[str, str] = dataclasses.field(default_factory=dict)  # file name/glob -> role
    date_format: str | None = None  # a strftime format for every date column...
    date_formats: Mapping[str, str] = dataclasses.field(default_factory=dict)  # ...or per source column
    tenure_unit: str = "auto"
    segments: tuple[str, ...] | None = None  # None: detected (low-cardinality text columns)
    cancel_event_pattern: str = r"cancel|unsubscri|close[ _-]?account|terminat|churn|end[ _-]?subscription"
    # Above this many event rows (estimated before reading), events go through temporary files on disk (the
    # system temp folder, TMPDIR) instead of memory, so that memory does not grow with them; 0 = always.
    spill_events_above: int = 100_000_000
    # Where the customer table is built: "local" (this process) or "spark" (Apache Spark: local[2], the
    # `spark_master` URL, or Spark Connect through SPARK_REMOTE); see churnwhy.engine and docs/scale.md.
    engine: str = "local"
    spark_master: str = ""
    # A compressed export (gzip) may inflate to at most this many megabytes: a bomb is stopped while it streams.
    max_decompressed_mb: int = 1024
    # Models
    seed: int = 0
    min_segment_size: int = 30
    max_segment_levels: int = 20
    reasons: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # [reasons] table, see models/reasons
    drivers: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # [drivers] table, see models/drivers
    risk: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # [risk] table, see models/risk
    actions: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # [actions] playbook, see models/actions
    beliefs: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # [beliefs], see models/beliefs
    # Behaviour
    strict: bool = False
    source: Path | None = None  # the churnwhy.toml that was read, for messages

    @classmethod
    def load(
        cls, path: Path | str | None = None, *, config_file: Path | str | None = None, **overrides: Any
    ) -> Config:
        """Defaults, then churnwhy.toml (explicit file, else PATH's folder, else the working folder), then overrides."""
        found = _find_config(Path(path) if path else None, Path(config_file) if config_file else None)
        values: dict[str, Any] = {}
        if found is not None:
            values.update(_read_toml(found))
            values["source"] = found
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_mapping(values)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Config:
        """Every value is checked against its declared type here, so a wrong one is exit 2 naming the key and the
        fix, never a traceback later. [reasons] and [drivers] belong to the models, whose parsers check them
        (pipeline.validate_model_settings, which every command runs on the settings it builds)."""
        known = {f.name for f in dataclasses.fields(cls)}
        where = f"{values['source']}: " if values.get("source") else ""
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(
                f"{where}unknown setting {unknown[0]!r}" + (f" (and {', '.join(unknown[1:])})" if unknown[1:] else ""),
                hint=did_you_mean(unknown[0], sorted(known - {"source"}), "setting"),
            )
        check_types(values, where)
        clean = dict(values)
        try:
            if isinstance(clean.get("as_of"), str):
                clean["as_of"] = dt.date.fromisoformat(clean["as_of"])
            if isinstance(clean.get("as_of"), dt.datetime):
                clean["as_of"] = clean["as_of"].date()
        except ValueError:
            raise ConfigError(f"{where}as_of must be a date like 2024-12-31, got {values['as_of']!r}") from None
        for key in ("horizons", "segments"):
            if isinstance(clean.get(key), list):
                clean[key] = tuple(clean[key])
        cfg = cls(**clean)
        try:
            cfg._validate()
        except ConfigError as exc:
            raise ConfigError(where + exc.message, hint=exc.hint) from None
        return cfg

    def _validate(self) -> None:
        for key in ("lookback_days", "min_segment_size", "max_segment_levels", "max_decompressed_mb"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{key} must be a positive whole number, got {getattr(self, key)!r}")
        if self.spill_events_above < 0:
            raise ConfigError(f"spill_events_above must be 0 (always) or a positive whole number, got {self.spill_events_above!r}")
        if self.engine not in ("local", "spark"):
            raise ConfigError(f"engine must be local or spark, got {self.engine!r}")
        if self.inactivity_days < 0:
            raise ConfigError(f"inactivity_days must be 0 (off) or a positive whole number, got {self.inactivity_days!r}")
        if self.tenure_unit not in TENURE_UNITS:
            raise ConfigError(f"tenure_unit must be one of {', '.join(TENURE_UNITS)}, got {self.tenure_unit!r}")
        bad = {f: r for f, r in self.files.items() if r not in ROLES}
        if bad:
            f, r = next(iter(bad.items()))
            raise ConfigError(f"[files] {f!r} = {r!r}: the role must be one of {', '.join(ROLES)}")
        if not self.horizons or any(h <= 0 for h in self.horizons):
            raise ConfigError(f"horizons must be positive whole days, got {list(self.horizons)!r}")


        if not 0 <= self.seed < 2**32:  # scikit-learn's random_state bound
            raise ConfigError(f"seed must be a whole number from 0 to 4294967295, got {self.seed!r}")
        try:
            re.compile(self.cancel_event_pattern)
        except re.error as exc:
            raise ConfigError(f"cancel_event_pattern is not a regular expression ({exc})") from None


# Examples for the fix of a wrongly typed setting, where the default does not make one.
_EXAMPLES = {"as_of": '"2024-12-31"', "segments": '["plan", "region"]', "date_format": '"%d/%m/%Y"'}
_NAMES = {"date_format": "[dates] format"}  # settings written under another name in churnwhy.toml
_TABLES = {"columns": "[columns]", "file_columns": "[columns.\"file.csv\"]", "files": "[files]",
           "date_formats": "[dates.columns]", "reasons": "[reasons]", "drivers": "[drivers]"}


@functools.cache
def _hints() -> dict[str, Any]:
    return typing.get_type_hints(Config)


def _default(f: dataclasses.Field[Any]) -> Any:
    """A Config field's default value (from its default_factory when it has one)."""
    if f.default is not dataclasses.MISSING:
        return f.default
    return typing.cast(Callable[[], Any], f.default_factory)()


def check_types(values: Mapping[str, Any], where: str = "") -> None:
    """ConfigError for the first value that is not of its setting's declared type (`horizons = 30`, `seed = "x"`).

    Read from Config's annotations, so a setting added later is checked too."""
    hints = _hints()
    for key, value in values.items():
        if key == "source" or key not in hints or _fits(value, hints[key]):
            continue
        example = _EXAMPLES.get(key) or _toml(next(_default(f) for f in dataclasses.fields(Config) if f.name == key))
        name = _TABLES.get(key) or _NAMES.get(key, key)
        fix = f"write it as {name} with one line per entry" if key in _TABLES else f"e.g. {name} = {example}"
        raise ConfigError(f"{where}{name} must be {_describe(hints[key])}, got {_toml(value)}", hint=fix)


def _fits(value: Any, hint: Any) -> bool:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, a) for a in args)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is dt.date:
        return isinstance(value, dt.date | str)  # a string is parsed (and its format checked) next
    if hint is Path:
        return isinstance(value, str | Path)
    if origin is tuple:
        return isinstance(value, list | tuple) and all(_fits(v, args[0]) for v in value)
    if origin in (Mapping, dict):
        return isinstance(value, Mapping) and all(_fits(k, args[0]) and _fits(v, args[1]) for k, v in value.items())
    return isinstance(value, hint) if isinstance(hint, type) else True


def _describe(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args if a is not type(None))
    if origin is tuple:
        return {int: "a list of whole numbers", str: "a list of names in quotes"}.get(args[0], "a list")
    if origin in (Mapping, dict):
        return "a table of text values" if args[1] is str else "a table"
    return {bool: "true or false", int: "a whole number", float: "a number", str: "text in quotes",
            dt.date: 'a date in quotes like "2024-12-31"', Path: "a path"}.get(hint, str(hint))


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        value = list(value)
    try:
        return json.dumps(value, ensure_ascii=False, default=str)[:80]
    except (TypeError, ValueError):
        return repr(value)[:80]


def did_you_mean(key: str, known: list[str], what: str) -> str:
    close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
    listed = f"valid {what}s are: {', '.join(known)}"
    return f"did you mean {close[0]!r}? ({listed})" if close else listed


def _find_config(path: Path | None, explicit: Path | None) -> Path | None:
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"config file {explicit} does not exist", hint="check the --config path")
        return explicit
    candidates = []
    if path is not None:
        candidates.append((path if path.is_dir() else path.parent) / CONFIG_NAME)
    candidates.append(Path.cwd() / CONFIG_NAME)
    return next((c for c in candidates if c.is_file()), None)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})", hint="fix the line it names, or run `churnwhy init` for a fresh file") from None
    values: dict[str, Any] = {}
    # [columns] holds canonical = "source" pairs; nested tables are per-file mappings.
    columns = _table(path, raw.pop("columns", {}), "[columns]")
    bad = next((k for k, v in columns.items() if not isinstance(v, str | dict)), None)
    if bad is not None:
        raise ConfigError(f"{path}: [columns] {bad} must be an export column name in quotes or a table for one file, "
                          f"got {_toml(columns[bad])}", hint=f'e.g. {bad} = "Client Ref"')
    values["columns"] = {k: v for k, v in columns.items() if isinstance(v, str)}
    values["file_columns"] = {k: dict(v) for k, v in columns.items() if isinstance(v, dict)}
    if "files" in raw:
        values["files"] = _table(path, raw.pop("files"), "[files]")
    if "dates" in raw:  # [dates] format = "...", [dates.columns] "Signup" = "%d/%m/%Y"
        dates = _table(path, raw.pop("dates"), "[dates]")
        extra = sorted(set(dates) - {"format", "columns"})
        if extra:
            raise ConfigError(f"{path}: [dates] unknown key {extra[0]!r}", hint=did_you_mean(extra[0], ["columns", "format"], "[dates] key"))
        if "format" in dates:
            values["date_format"] = dates["format"]
        values["date_formats"] = _table(path, dates.get("columns", {}), "[dates.columns]")
    if "source" in raw:  # set by churnwhy to the file's own path, never read from it
        raise ConfigError(f"{path}: unknown setting 'source'", hint="delete the line")
    values.update(raw)
    return values


def _table(path: Path, value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: {name} must be a table, got {_toml(value)}",
                          hint=f"write it as a {name} header with one key = value line per entry below it")
    return dict(value)
