"""Terminal views of a SurvivalResult: Rich tables and a plotext chart of the Kaplan-Meier curves."""

from __future__ import annotations

from collections.abc import Iterable

from typing import cast

import numpy as np
import plotext
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from churnwhy.render.safe import md_cell, safe_text, safe_value, visible
from churnwhy.results.survival import OVERALL, SurvivalResult, to_unit

_MARKERS = "●○◆◇■□▲△★☆xo+*#@%&=~"  # one per group, so curves stay apart without colour


def _num(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{x:,.{digits}f}"


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def _p(x: float | None) -> str:
    if x is None:
        return "–"
    return f"{x:.2e}" if x < 1e-4 else f"{x:.4f}"


def _label(by: str, group: str) -> str:
    return "all customers" if by == OVERALL else f"{by}={group}"


def summary_table(result: SurvivalResult, unit: str = "days") -> Table:
    """n, churners, median tenure (95% CI) and retention at each horizon, one row per curve."""
    table = Table(title=f"Retention (Kaplan-Meier; median tenure in {unit})", title_justify="left")
    for name in ("segment", "customers", "churned", "median", "95% CI"):
        table.add_column(name, justify="left" if name == "segment" else "right", no_wrap=True)
    for h in result.horizons:
        table.add_column(f"{h}d", justify="right", no_wrap=True)
    for g in result.groups:
        if g.median_days is None:
            median, ci = "not reached", f"{_num(to_unit(g.median_ci_low, unit))} – NA"
        else:
            median = _num(to_unit(g.median_days, unit))
            ci = f"{_num(to_unit(g.median_ci_low, unit))} – {_num(to_unit(g.median_ci_high, unit)) if g.median_ci_high is not None else 'NA'}"
        table.add_row(safe_value(_label(g.by, g.group)), f"{g.n:,}", f"{g.events:,}", median, ci,
                      *[_pct(h.survival) for h in g.horizons])
    return table


def horizon_table(result: SurvivalResult) -> Table:
    """Retention with its 95% CI and the number still at risk, per curve and horizon."""
    table = Table(title="Retention at horizons (95% CI, at risk)", title_justify="left")
    table.add_column("segment")
    for h in result.horizons:
        table.add_column(f"{h} days", justify="right")
    for g in result.groups:
        cells = [
            "–" if h.survival is None else f"{_pct(h.survival)} ({_pct(h.ci_low)}–{_pct(h.ci_high)}) n={h.at_risk:,}"
            for h in g.horizons
        ]
        table.add_row(safe_value(_label(g.by, g.group)), *cells)
    return table


def logrank_table(result: SurvivalResult) -> Table:
    """Log-rank tests: across all groups of each column, then pairwise with Holm-adjusted p."""
    table = Table(title="Log-rank tests", title_justify="left")
    for name in ("column", "test", "groups", "chi²", "df", "p", "p (Holm)"):
        table.add_column(name, justify="right" if name in ("chi²", "df", "p", "p (Holm)") else "left")
    for r in result.logrank:
        groups = "all" if r.test == "multivariate" else " vs ".join(safe_value(g) for g in r.groups)
        table.add_row(safe_value(r.by), r.test, groups, f"{r.statistic:.3f}", str(r.df), _p(r.p_value), _p(r.p_holm))
    return table


def cohort_table(result: SurvivalResult, max_periods: int = 12) -> Table | None:
    """The cohort triangle: rows are signup periods, columns periods since signup; blank = not observable yet."""
    if result.cohorts is None or result.cohorts.frame.height == 0:
        return None
    wide = result.cohorts.to_frame(wide=True)
    ks = [c for c in wide.columns if c not in ("cohort", "cohort_size")][:max_periods]
    table = Table(title=f"Cohort retention by signup {result.cohorts.period} (share active at the end of period k)",
                  title_justify="left")
    table.add_column("cohort")
    table.add_column("n", justify="right")
    for k in ks:
        table.add_column(k, justify="right")
    for row in wide.iter_rows(named=True):
        table.add_row(str(row["cohort"]), f"{row['cohort_size']:,}",
                      *["" if row[k] is None else f"{100 * row[k]:.0f}%" for k in ks])
    return table


def km_chart(result: SurvivalResult, *, by: str | None = None, width: int = 80, height: int = 18,
             unit: str = "days") -> str:
    """The Kaplan-Meier curves of one `by` column (default: the first, else overall) as plain text."""
    by = by if by is not None else (result.by[0] if result.by else OVERALL)
    curves = result.curves.filter(result.curves["by"] == by).sort("group", "time_days")
    fig = plotext.figure
    fig.clear()  # plotext keeps one global figure; start from scratch every time
    plotext.terminal.limit(False, False)  # the caller decides the width, not the (maybe absent) terminal
    fig.plot_size(max(width, 30), max(height, 8))
    fig.theme("clear")
    legend = []
    for i, group in enumerate(sorted(set(curves["group"].to_list()))):
        c = curves.filter(curves["group"] == group)
        t = c["time_days"].to_numpy() * to_unit(1.0, unit)
        s = c["survival"].to_numpy()
        # Steps: hold each value until the next time, then drop.
        x, y = np.repeat(t, 2)[1:], np.repeat(s, 2)[:-1]
        marker = _MARKERS[i % len(_MARKERS)]
        sig = fig.signal(x.tolist(), y.tolist(), marker=marker)
        sig.lines()
        fig.draw(sig)
        legend.append(f"{marker} {visible(_label(by, group))}")
    fig.ruler(1).lim(0, 1)
    if curves.height:
        # Whole-number tick labels: plotext's own are scientific ("1.8e2") past a few hundred.
        top = float(cast(float, curves["time_days"].max())) * to_unit(1.0, unit)
        ticks = np.linspace(0.0, top, 6)
        fig.ruler(0).ticks(ticks.tolist(), [f"{v:,.0f}" if top >= 10 else f"{v:.1f}" for v in ticks])
    fig.title(f"Retention by {visible(by)}" if by != OVERALL else "Retention, all customers")
    fig.label(unit, 0)
    try:
        out: str = fig.build().string(colorless=True)  # plotext is untyped
    finally:
        fig.clear()
        plotext.terminal.clear()
    # Our own legend under the chart: plotext drops its legend when the chart is short, and it can hide a curve.
    return out.rstrip("\n") + "\n" + _wrap("   ".join(legend), max(width, 30)) + "\n"


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width=width, break_long_words=False)) or ""


def survival_view(result: SurvivalResult, *, unit: str = "days", width: int = 100,
                  chart: bool = True) -> RenderableType:
    """Everything for the terminal, in reading order."""
    parts: list[RenderableType] = [summary_table(result, unit), horizon_table(result)]
    if result.logrank:
        parts.append(logrank_table(result))
    cohorts = cohort_table(result)
    if cohorts is not None:
        parts.append(cohorts)
    if chart:
        for by in result.by or (OVERALL,):
            parts.append(Text(km_chart(result, by=by, width=min(width, 120), unit=unit)))
    return Group(*parts)


def survival_markdown(result: SurvivalResult, *, unit: str = "days") -> str:
    """The same tables as the terminal view, as Markdown sections (no chart: PNG/SVG with --plots)."""
    from churnwhy.render.fit import table_markdown

    tables = [summary_table(result, unit), horizon_table(result)]
    if result.logrank:
        tables.append(logrank_table(result))
    if (cohorts := cohort_table(result)) is not None:
        tables.append(cohorts)
    notes = [f"- {md_cell(note)}" for note in result.notes]
    return "# Retention\n\n" + "\n".join(table_markdown(t) for t in tables) + ("\n" + "\n".join(notes) + "\n" if notes else "")


def print_notes(notes: Iterable[str], console: Console) -> None:
    for note in notes:
        console.print(f"[yellow]note:[/] {safe_text(note)}", soft_wrap=True)
