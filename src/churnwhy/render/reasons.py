"""Rich and Markdown views of ReasonsResult: the why x what table, naive vs reweighted, satisfied but left."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table

from churnwhy.render.safe import md_cell, safe_text, safe_value
from churnwhy.results.reasons import ReasonsResult

WHY = ("brand_failed", "better_offer", "circumstance")
WHAT = ("product", "experience", "price", "other")


def _pct(x: float | None) -> str:
    return "n/a" if x is None or x != x else f"{x:.1%}"


def _ci(lo: float, hi: float) -> str:
    return f"{_pct(lo)}–{_pct(hi)}"


def reasons_view(result: ReasonsResult) -> RenderableType:
    nr = result.nonresponse
    c = result.classification
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    head.add_row("Churners", f"{result.n_churned:,}")
    head.add_row("Stated a readable reason", f"{nr.n_respondents:,} ({_pct(nr.response_rate)}, 95% CI {_ci(nr.lo, nr.hi)})")
    methods = ", ".join(f"{n:,} by {m}" for m, n in c.by_method.items() if n)
    head.add_row("Read", methods or "none")
    if c.cv_accuracy is not None:
        head.add_row("Learned layer", f"cross-validated accuracy {_pct(c.cv_accuracy)} ({c.cv_folds} folds, {c.n_train:,} rows)")
    parts: list[RenderableType] = [head]

    mix = Table(title="Reason mix: respondents as they are vs reweighted for who answered (95% CI)", title_justify="left")
    for col in ("axis", "reason", "naive", "95% CI", "reweighted", "95% CI ", "difference"):
        mix.add_column(col, justify="left" if col in ("axis", "reason") else "right")
    for r in nr.rows:
        mix.add_row(r.axis, safe_value(result.label(r.category)), _pct(r.naive), _ci(r.naive_lo, r.naive_hi), _pct(r.reweighted),
                    _ci(r.lo, r.hi), f"{(r.reweighted - r.naive) * 100:+.1f} pt")
    parts.append(mix if nr.rows else "[yellow]No stated reasons could be read.[/]")
    if nr.note:
        parts.append(f"[dim]{safe_text(nr.note)}[/]")

    cells = {s.category: s for s in result.shares if s.axis == "cell" and s.by == "all" and s.basis == "count"}
    if cells:
        grid = Table(title="Why × what among respondents (share of readable stated reasons)", title_justify="left")
        grid.add_column("why \\ what")
        for w in WHAT:
            grid.add_column(safe_value(result.label(w)), justify="right")
        for why in WHY:
            grid.add_row(safe_value(result.label(why)), *[_pct(cells[f"{why}/{w}"].share) if f"{why}/{w}" in cells else "–" for w in WHAT])
        parts.append(grid)
    s = result.satisfied
    if s.n_scored:
        parts.append(f"Satisfied but left: {s.n_satisfied:,} of {s.n_scored:,} scored churners ({_pct(s.share)}, "
                     f"95% CI {_ci(s.lo, s.hi)}) gave a high last score before leaving"
                     + ("; their reasons: " + ", ".join(f"{safe_value(result.label(x.category))} {_pct(x.share)}"
                                                        for x in s.shares if x.axis == "why") if s.shares else ""))
    for w in result.warnings:
        parts.append(f"[yellow]note:[/] {safe_text(w)}")
    return Group(*parts)


def reasons_markdown(result: ReasonsResult) -> str:
    nr = result.nonresponse
    lines = ["# Why they left, as they said it", "",
             f"{nr.n_respondents:,} of {result.n_churned:,} churners stated a readable reason ({_pct(nr.response_rate)}).", "",
             "| axis | reason | naive | reweighted | 95% CI |", "|---|---|---:|---:|---|"]
    lines += [f"| {r.axis} | {md_cell(result.label(r.category))} | {_pct(r.naive)} | {_pct(r.reweighted)} | {_ci(r.lo, r.hi)} |"
              for r in nr.rows]
    return "\n".join(lines) + "\n"
