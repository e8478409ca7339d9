"""PNG and SVG charts of a SurvivalResult (matplotlib, Agg): KM curves with CI bands and at-risk counts,
and cumulative incidence per reason. SVGs are byte-for-byte deterministic (fixed hash salt, no date)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, cast

import matplotlib

matplotlib.use("Agg")  # no display, and no dependence on one

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from churnwhy.results.survival import OVERALL, SurvivalResult, to_unit  # noqa: E402

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

FORMATS = ("png", "svg")
_RC: dict[RcKeyType, object] = {"svg.hashsalt": "churnwhy", "svg.fonttype": "path", "path.simplify": False}
_METADATA = {"svg": {"Date": None, "Creator": None}, "png": {"Software": None}}


def _save(fig: Figure, stem: Path, formats: tuple[str, ...]) -> list[Path]:
    paths = []
    with matplotlib.rc_context(_RC):
        for fmt in formats:
            path = stem.with_suffix(f".{fmt}")
            fig.savefig(path, format=fmt, metadata=_METADATA[fmt], dpi=120, bbox_inches="tight")
            paths.append(path)
    return paths


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name) or "x"


def km_figure(result: SurvivalResult, by: str = OVERALL, unit: str = "days") -> Figure:
    """KM curves of one `by` column with 95% CI bands and a row of at-risk counts under the axis."""
    curves = result.curves.filter(pl.col("by") == by).sort("group", "time_days")
    groups = sorted(set(curves["group"].to_list()))
    fig = Figure(figsize=(8, 4.8 + 0.25 * len(groups)))
    ax = fig.add_subplot()
    scale = to_unit(1.0, unit)  # unit per day
    t_max = float(cast(float, curves["time_days"].max()) or 1) * scale
    ticks = np.asarray(MaxNLocator(6).tick_values(0, t_max))
    ticks = ticks[(ticks >= 0) & (ticks <= t_max)]  # round numbers, for a readable at-risk row
    for i, group in enumerate(groups):
        c = curves.filter(pl.col("group") == group)
        t = c["time_days"].to_numpy() * scale
        s = c["survival"].to_numpy()
        lo = c["ci_low"].fill_null(np.nan).to_numpy()
        hi = c["ci_high"].fill_null(np.nan).to_numpy()
        label = "all customers" if by == OVERALL else f"{by}={group}"
        (line,) = ax.step(t, s, where="post", label=label, linewidth=1.6)
        ax.fill_between(t, lo, hi, step="post", alpha=0.18, color=line.get_color(), linewidth=0)
        # At-risk counts at the tick times: customers with tenure >= tick (last row at or before it, minus exits).
        at_risk = _at_risk_at(c, ticks / scale)
        for x, n in zip(ticks, at_risk, strict=True):
            ax.annotate(f"{n:,}", xy=(x, 0), xycoords=("data", "axes fraction"), xytext=(0, -32 - 12 * i),
                        textcoords="offset points", ha="center", fontsize=8, color=line.get_color())
    ax.annotate("at risk", xy=(0, 0), xycoords="axes fraction", xytext=(-8, -32), textcoords="offset points",
                ha="right", fontsize=8)
    ax.set_xticks(ticks)
    ax.set_xlim(0, t_max)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("share of customers retained")
    ax.set_xlabel(f"tenure ({unit})", labelpad=14 + 12 * len(groups))
    ax.set_title("Retention (Kaplan-Meier, 95% CI)" + ("" if by == OVERALL else f" by {by}"))
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8, frameon=False)
    return fig


def _at_risk_at(curve: pl.DataFrame, times_days: np.ndarray) -> list[int]:
    t = curve["time_days"].to_numpy()
    at_risk = curve["at_risk"].to_numpy()
    idx = np.searchsorted(t, times_days, side="left")  # first row at or after the tick: its at_risk counts tenure >= t
    return [int(at_risk[i]) if i < t.size else 0 for i in idx]


def incidence_figure(result: SurvivalResult, axis: str = "why", unit: str = "days") -> Figure:
    """Cumulative incidence of churn per reason on one axis, with 95% CI bands."""
    inc = result.incidence.filter(pl.col("axis") == axis).sort("cause", "time_days")
    fig = Figure(figsize=(8, 4.8))
    ax = fig.add_subplot()
    scale = to_unit(1.0, unit)
    for cause in sorted(set(inc["cause"].to_list())):
        c = inc.filter(pl.col("cause") == cause)
        t = c["time_days"].to_numpy() * scale
        (line,) = ax.step(t, c["incidence"].to_numpy(), where="post", label=cause, linewidth=1.6)
        ax.fill_between(t, c["ci_low"].fill_null(np.nan).to_numpy(), c["ci_high"].fill_null(np.nan).to_numpy(),
                        step="post", alpha=0.15, color=line.get_color(), linewidth=0)
    ax.set_ylim(0, None)
    ax.set_xlim(0, None)
    ax.set_xlabel(f"tenure ({unit})")
    ax.set_ylabel("cumulative share churned for this reason")
    ax.set_title(f"Churn by reason ({axis}): cumulative incidence (Aalen-Johansen, 95% CI)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    return fig


def write_plots(result: SurvivalResult, directory: Path, *, unit: str = "days",
                formats: tuple[str, ...] = FORMATS) -> list[Path]:
    """Every chart for a result into `directory` (created); returns the files written, sorted."""
    directory.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for by in (OVERALL, *result.by):
        stem = directory / ("survival_all" if by == OVERALL else f"survival_by_{_safe(by)}")
        paths += _save(km_figure(result, by, unit), stem, formats)
    for axis in sorted(set(result.incidence["axis"].drop_nulls().to_list())):
        paths += _save(incidence_figure(result, axis, unit), directory / f"incidence_{_safe(axis)}", formats)
    return sorted(paths)
