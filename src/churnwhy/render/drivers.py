"""Views of DriversResult and SilentResult: Rich tables for the terminal and a Markdown section."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from rich.console import Console, Group, JustifyMethod, RenderableType
from rich.table import Table
from rich.text import Text

from churnwhy.render.safe import md_cell, safe_text, safe_value
from churnwhy.results.drivers import DriversResult, SilentResult

if TYPE_CHECKING:
    from typing_extensions import TypeIs  # typing.TypeIs is Python 3.13


def _ok(x: float | None) -> TypeIs[float]:
    return x is not None and math.isfinite(x)


def _hr(x: float | None) -> str:
    if not _ok(x):
        return "–"
    return f"{x:.3g}" if 0.01 <= abs(x) < 1000 else f"{x:.2e}"


def _pct(x: float | None) -> str:
    return f"{100 * x:.0f}%" if _ok(x) else "–"


def _p(x: float | None) -> str:
    if not _ok(x):
        return "–"
    return "<0.0001" if x < 1e-4 else f"{x:.4f}"


def _ci(lo: float | None, hi: float | None, fmt: Callable[[float | None], str] = _hr) -> str:
    return f"{fmt(lo)} – {fmt(hi)}" if _ok(lo) and _ok(hi) else "–"


def hazard_table(result: DriversResult) -> Table:
    """One row per feature: hazard ratio on its unit and per SD, 95% CIs, p-value, family."""
    table = Table(
        title="Drivers: who left sooner (Cox hazard ratios, ranked; > 1 = churn sooner; p Holm-adjusted)",
        title_justify="left",
    )
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("driver", "left"), ("family", "left"), ("why", "left"), ("HR", "right"), ("95% CI", "right"), ("unit", "left"),
        ("HR per SD", "right"), ("p (Holm)", "right"))  # fmt: skip
    for name, justify in columns:
        table.add_column(name, justify=justify, no_wrap=name in ("driver", "HR", "p (Holm)"))
    for e in result.effects:
        flag = " (PH)" if e.ph_violated else ""
        if not e.estimable:
            table.add_row(safe_value(e.feature), e.family, e.why_side or "", "not estimable",
                          safe_value(e.not_estimable_reason or ""), safe_value(e.unit), "", "")
            continue
        table.add_row(
            safe_value(e.feature) + flag, e.family, e.why_side or "", _hr(e.hazard_ratio), _ci(e.ci_low, e.ci_high),
            safe_value(e.unit), _hr(e.hr_per_sd), _p(e.p_holm),
        )  # fmt: skip
    table.caption = ph_line(result) or None
    return table


def ph_line(result: DriversResult) -> str:
    """The legend of the "(PH)" flag, when some driver carries it."""
    flagged = [e.feature for e in result.effects if e.estimable and e.ph_violated]
    if not flagged:
        return ""
    return (
        f"(PH): {len(flagged)} driver(s) whose effect changes with tenure (proportional-hazards test on the scaled "
        "Schoenfeld residuals, Bonferroni across drivers): the hazard ratio is an average over the customers' lives."
    )


def attribution_table(result: DriversResult) -> Table:
    """One row per family: attributable share with its CI, Shapley share, and the plain-words sentence."""
    table = Table(
        title=f"Churn within {result.horizon_days} days attributable to each family", title_justify="left"
    )
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("family", "left"), ("attributable", "right"), ("95% CI", "right"), ("Shapley share", "right"),
        ("in words", "left"))  # fmt: skip
    for name, justify in columns:
        table.add_column(name, justify=justify)
    for a in result.attribution:
        table.add_row(
            a.family, _pct(a.share), _ci(a.ci_low, a.ci_high, _pct), _pct(a.shapley_share), safe_text(a.sentence)
        )
    table.caption = overlap_line(result)
    return table


def overlap_line(result: DriversResult) -> str:
    """How the family shares relate to the total: they overlap; the Shapley shares add up to it."""
    if not _ok(result.family_share_sum) or not _ok(result.explained_share):
        return ""
    return (
        f"The families' shares add up to {_pct(result.family_share_sum)} against {_pct(result.explained_share)} for all "
        "families together: they overlap (each moves one family, the others as they are). The Shapley shares "
        f"split the {_pct(result.explained_share)} so that they add up to it."
    )


def silent_table(silent: SilentResult) -> Table:
    """The combined reason mix (stated + inferred) with CIs."""
    table = Table(title="Reason mix, stated + inferred for the silent", title_justify="left")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("axis", "left"), ("reason", "left"), ("share", "right"), ("95% CI", "right"), ("stated", "right"),
        ("inferred", "right"))  # fmt: skip
    for name, justify in columns:
        table.add_column(name, justify=justify)
    for r in silent.mix:
        table.add_row(r.dimension, safe_value(r.label), _pct(r.share), _ci(r.ci_low, r.ci_high, _pct), f"{r.n_stated:,}",
                      f"{r.n_inferred:,.0f}")  # fmt: skip
    return table


def _fit_line(result: DriversResult) -> str:
    bits = [
        f"{result.n_customers:,} customers, {result.n_events:,} churned; fitted on {result.n_fit:,}",
        f"concordance {result.concordance:.3f}" if _ok(result.concordance) else "",
        f"stratified by {', '.join(result.strata)}" if result.strata else "",
        f"penalizer {result.penalizer:g}" if result.penalizer else "",
    ]
    line = "; ".join(b for b in bits if b)
    if _ok(result.explained_share):
        line += (
            f". The model predicts {_pct(result.predicted_churn)} churn within {result.horizon_days} days; "
            f"{_pct(result.explained_share)} of it is associated with the drivers."
        )
    return line


def _silent_line(silent: SilentResult) -> str:
    parts = [f"{silent.n_silent:,} of {silent.n_churned:,} churners gave no reason; {silent.n_inferred:,} inferred."]
    for m in silent.models:
        acc = f"CV accuracy {_pct(m.cv_accuracy)} vs {_pct(m.baseline_accuracy)} majority"
        parts.append(f"{m.dimension}: {'inferred' if m.inferred else 'not inferred: ' + (m.refused or '')} ({acc})")
    return " ".join(parts)


def drivers_view(result: DriversResult, silent: SilentResult | None = None) -> RenderableType:
    """Everything the `drivers` command shows on stdout."""
    if result.skipped:
        parts: list[RenderableType] = [Text(f"No driver model: {result.skipped}.")]
    else:
        parts = [Text(_fit_line(result)), hazard_table(result), attribution_table(result)]
        parts += [Text(a.sentence + ".") for a in result.attribution]
        if result.interpretation:
            parts.append(Text(result.interpretation))
    if silent is not None:
        if silent.skipped:
            parts.append(Text(f"Reasons for the silent: {silent.skipped}."))
        else:
            parts += [Text(_silent_line(silent)), silent_table(silent)]
    return Group(*parts)


def print_notes(notes: Iterable[str], console: Console) -> None:
    for note in notes:
        console.print(f"[yellow]note:[/] {safe_text(note)}", soft_wrap=True)  # notes quote "[drivers] ..." keys




def drivers_markdown(result: DriversResult, silent: SilentResult | None = None) -> str:
    """A Markdown section: sentences first, then the hazard ratio and mix tables, then notes and rules."""
    lines = ["## What they did before leaving", ""]
    if result.skipped:
        lines += [f"No driver model: {result.skipped}.", ""]
    else:
        lines += [_fit_line(result), ""]
        lines += [f"- {a.sentence}." for a in result.attribution] + [""]
        if result.interpretation:
            lines += [result.interpretation, ""]
        lines += ["| driver | family | why | HR | 95% CI | unit | HR per SD | p (Holm) |", "|---|---|---|---:|---:|---|---:|---:|"]
        for e in result.effects:
            if not e.estimable:
                lines.append(f"| {md_cell(e.feature)} | {e.family} | {e.why_side or ''} | not estimable | "
                             f"{md_cell(e.not_estimable_reason or '')} | {md_cell(e.unit)} |  |  |")
                continue
            lines.append(
                f"| {md_cell(e.feature)}{' (PH)' if e.ph_violated else ''} | {e.family} | {e.why_side or ''} | {_hr(e.hazard_ratio)} | "
                f"{_ci(e.ci_low, e.ci_high)} | {md_cell(e.unit)} | {_hr(e.hr_per_sd)} | {_p(e.p_holm)} |"
            )
        lines += ["", ph_line(result)] if ph_line(result) else []
        lines.append("")
        lines += ["| family | attributable | 95% CI | Shapley share |", "|---|---:|---:|---:|"]
        for a in result.attribution:
            lines.append(f"| {a.family} | {_pct(a.share)} | {_ci(a.ci_low, a.ci_high, _pct)} | {_pct(a.shapley_share)} |")
        lines += ["", overlap_line(result), ""] if overlap_line(result) else [""]
    if silent is not None:
        lines += ["### Reasons for the silent", ""]
        if silent.skipped:
            lines += [f"{silent.skipped}.", ""]
        else:
            lines += [_silent_line(silent), "", "| axis | reason | share | 95% CI |", "|---|---|---:|---:|"]
            lines += [f"| {r.dimension} | {md_cell(r.label)} | {_pct(r.share)} | {_ci(r.ci_low, r.ci_high, _pct)} |"
                      for r in silent.mix]  # fmt: skip
            lines.append("")
    notes = list(result.notes) + (list(silent.notes) if silent is not None else [])
    rules = list(result.rules) + (list(silent.rules) if silent is not None else [])
    if notes:
        lines += ["**Notes**", ""] + [f"- {md_cell(n)}" for n in notes] + [""]
    if rules:
        lines += ["**How it was computed**", ""] + [f"- {md_cell(r)}" for r in rules] + [""]
    return "\n".join(lines)
