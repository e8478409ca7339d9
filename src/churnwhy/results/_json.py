"""The one JSON-safe conversion every result's to_dict() uses."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Mapping
from typing import Any


def json_safe(value: Any, digits: int | None = None) -> Any:
    """NaN/inf -> None, dates -> ISO strings, dataclasses and mappings -> key-sorted dicts, tuples -> lists,
    numpy scalars -> Python numbers; floats rounded to `digits` decimals when given."""
    if hasattr(value, "item") and callable(value.item) and not isinstance(value, (str, bytes)):  # numpy scalars
        value = value.item()
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return round(value, digits) if digits is not None else value
    if isinstance(value, dt.date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: json_safe(getattr(value, f.name), digits) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): json_safe(value[k], digits) for k in sorted(value, key=str)}
    if isinstance(value, (list, tuple)):
        return [json_safe(v, digits) for v in value]
    return value
