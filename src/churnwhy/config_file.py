"""Render a commented churnwhy.toml from what was detected, so a user edits rather than writes it."""

from __future__ import annotations

import json

from churnwhy.config import Config
from churnwhy.load import Exports


def _q(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)  # a TOML basic string is a JSON string


def render_config(exports: Exports, config: Config) -> str:
    lines = [
        "# churnwhy.toml: settings for `churnwhy` on this folder. Every line is optional; delete what you",
        "# do not need. Flags on the command line override this file.",
        "",
        "# Analysis date (default: the latest date in the data, never today).",
        f"# as_of = {_q(exports.data_end.isoformat()) if exports.data_end else _q('2024-12-31')}",
        f"lookback_days = {config.lookback_days}      # behaviour window before each customer's end date",
        f"inactivity_days = {config.inactivity_days}     # no event for this long before as_of = churned (0 = off)",
        f"horizons = {list(config.horizons)}   # retention horizons in days",
        f'tenure_unit = "{config.tenure_unit}"   # auto | days | weeks | months | years',
        f"# segments = {json.dumps(list(exports.segments))}",
        f"seed = {config.seed}",
        f"spill_events_above = {config.spill_events_above}   # more event rows: through temp files, flat memory",
        "",
        "# Role of each file: customers | events | surveys | skip. Detected roles are shown.",
        "[files]",
    ]
    for f in exports.files:
        lines.append(f"{_q(f.name)} = {_q(f.role)}   # {f.role_reason}")
    for name, why in exports.skipped:
        lines.append(f"# {_q(name)} = \"skip\"   # skipped: {why}")
    lines += ["", "# Column mapping per file: canonical name = \"column in the export\"."]
    for f in exports.files:
        lines.append(f"[columns.{_q(f.name)}]")
        lines += [f"{canon} = {_q(src)}" for canon, src in f.mapping.items()]
    formats = {col: fmt for f in exports.files for col, fmt in f.date_formats.items() if " or " not in fmt and "%" in fmt}
    lines += ["", "# Date formats (strftime) per export column; detected ones are shown.", "[dates.columns]"]
    lines += [f"# {_q(col)} = {_q(fmt)}" for col, fmt in sorted(formats.items())]
    return "\n".join(lines) + "\n"
