"""Rich and Markdown views of ReasonsResult: the why x what table, naive vs reweighted, satisfied but left."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table

from churnwhy.render.safe import md_cell, safe_text, safe_value
from churnwhy.results.reasons import ReasonsResult

WHY = ("brand_failed", "better_offer", "circumstance")
WHAT = ("product", "experience", "price", "other")


def _pct(x: float | None) -> str:
    return "n/a" if x is None or x != x else f"{x:.1%}"


def _ci(lo: float, hi: float) -> str:
    return f"{_pct(lo)}–{_pct(hi)}"


DRILL_HEADER = ["cell", "kind", "raw reason", "churners", "share of cell"]


def drilldown_rows(doc: dict[str, Any]) -> list[list[str]]:
    """The drill-down of a report document (reasons.classification.top_reasons) as table rows: the commonest
    raw reasons per why/what cell. Codes by default; answers (masked) only with --include-examples."""
    top = (doc.get("reasons", doc).get("classification") or {}).get("top_reasons") or []
    return [[t["cell"], t["kind"], t["value"], f"{t['count']:,}", _pct(t["share"])] for t in top]


def known_only(result: ReasonsResult) -> str:
    """The caption that says the known shares leave the unknown out, and how many."""
    left = {r.axis: r.left_out for r in result.nonresponse.rows if r.among == "known"}
    if not left:
        return ""
    counts = ", ".join(f"{n:,} on {axis}" for axis, n in left.items())
    return (f"Known reasons are shares among the known ({counts} unknown left out); "
            "the unknown row is the unknown's share of all stated answers.")


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
    if nr.rows and known_only(result):
        parts.append(f"[dim]{escape(known_only(result))}[/]")
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
    drill = drilldown_rows(result.to_dict())
    if drill:
        table = Table(title="Commonest raw reasons per cell" + ("" if result.examples else " (codes; answers with --include-examples)"),
                      title_justify="left")
        for col in DRILL_HEADER:
            table.add_column(col, justify="right" if col in ("churners", "share of cell") else "left")
        for row in drill:
            table.add_row(*[safe_value(v) for v in row])
        parts.append(table)
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
    if nr.rows and known_only(result):
        lines += ["", known_only(result)]
    drill = drilldown_rows(result.to_dict())
    if drill:
        lines += ["", "## Commonest raw reasons per cell", "", "| " + " | ".join(DRILL_HEADER) + " |", "|---|---|---|---:|---:|"]
        lines += ["| " + " | ".join(md_cell(v) for v in row) + " |" for row in drill]
    return "\n".join(lines) + "\n"
