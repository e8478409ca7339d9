"""A frozen settings object built from defaults, churnwhy.toml and command-line flags (in that order)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import tomllib
from collections.abc import Mapping
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
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(
                f"unknown setting(s): {', '.join(unknown)}",
                hint=f"valid settings are: {', '.join(sorted(known - {'source'}))}",
            )
        clean = dict(values)
        try:
            if isinstance(clean.get("as_of"), str):
                clean["as_of"] = dt.date.fromisoformat(clean["as_of"])
            if isinstance(clean.get("as_of"), dt.datetime):
                clean["as_of"] = clean["as_of"].date()
        except ValueError:
            raise ConfigError(f"as_of must be a date like 2024-12-31, got {values['as_of']!r}") from None
        for key in ("horizons", "segments"):
            if isinstance(clean.get(key), list):
                clean[key] = tuple(clean[key])
        cfg = cls(**clean)
        cfg._validate()
        return cfg

    def _validate(self) -> None:
        for key in ("lookback_days", "min_segment_size", "max_segment_levels", "max_decompressed_mb"):
            if not isinstance(getattr(self, key), int) or getattr(self, key) < 1:
                raise ConfigError(f"{key} must be a positive whole number, got {getattr(self, key)!r}")
        if not isinstance(self.spill_events_above, int) or self.spill_events_above < 0:
            raise ConfigError(f"spill_events_above must be 0 (always) or a positive whole number, got {self.spill_events_above!r}")
        if not isinstance(self.inactivity_days, int) or self.inactivity_days < 0:
            raise ConfigError(f"inactivity_days must be 0 (off) or a positive whole number, got {self.inactivity_days!r}")
        if self.tenure_unit not in TENURE_UNITS:
            raise ConfigError(f"tenure_unit must be one of {', '.join(TENURE_UNITS)}, got {self.tenure_unit!r}")
        bad = {f: r for f, r in self.files.items() if r not in ROLES}
        if bad:
            f, r = next(iter(bad.items()))
            raise ConfigError(f"[files] {f!r} = {r!r}: the role must be one of {', '.join(ROLES)}")
        if any((not isinstance(h, int)) or h <= 0 for h in self.horizons):
            raise ConfigError(f"horizons must be positive whole days, got {list(self.horizons)!r}")


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
    columns = raw.pop("columns", {}) or {}
    values["columns"] = {k: v for k, v in columns.items() if isinstance(v, str)}
    values["file_columns"] = {k: dict(v) for k, v in columns.items() if isinstance(v, dict)}
    if "files" in raw:
        values["files"] = dict(raw.pop("files"))
    if "dates" in raw:  # [dates] format = "...", [dates.columns] "Signup" = "%d/%m/%Y"
        dates = raw.pop("dates")
        if "format" in dates:
            values["date_format"] = dates["format"]
        values["date_formats"] = dict(dates.get("columns", {}))
    values.update(raw)
    return values
