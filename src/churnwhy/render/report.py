"""Rich views of a Report, of `check` results and of `diff` changes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from churnwhy.checks import Change, Check, assumption_lines, headline_caption, headline_shares
from churnwhy.render.safe import md_cell, safe_text, safe_value
from churnwhy.render.risk import headline_extras

if TYPE_CHECKING:  # the Report is the one input of the analyze renderers; imported for its type only
    from churnwhy.report import Report

WHY = ("brand_failed", "better_offer", "circumstance", "unknown")
WHAT = ("product", "experience", "price", "other")


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def headline(doc: dict[str, Any]) -> Panel:
    s = doc["summary"]
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("Customers", f"{s['customers']:,}")
    grid.add_row("Churned", f"{s['churned']:,} ({_pct(s['churn_rate'])})")
    med = s["median_tenure_days"]
    grid.add_row("Median tenure", f"{med:,.0f} days" if med is not None else "not reached (over half still active)")
    grid.add_row("Survey response", f"{_pct(s['survey_response_rate'])} of churners answered")
    for cell in s["retention"]:
        grid.add_row(f"Retention {cell['horizon_days']} d", f"{_pct(cell['survival'])}  (95% CI {_pct(cell['ci_low'])}–{_pct(cell['ci_high'])})")
    for label, text in assumption_lines(doc):
        grid.add_row(label, safe_value(text))
    for label, line in headline_extras(doc):
        grid.add_row(label, safe_value(line))
    return Panel(grid, title="churnwhy: why customers left", title_align="left")


def why_table(doc: dict[str, Any]) -> RenderableType:
    reasons = doc["reasons"]
    if reasons.get("status") != "ok":
        return f"[yellow]Why they left: not computed[/] ({safe_text(reasons.get('reason'))})"
    if not any(headline_shares(doc, axis) for axis in ("why", "what")):
        n = doc["summary"]["churned"]
        return (f"Why they left: none of the {n:,} churners stated a reason churnwhy could read"
                if n else "Why they left: nobody has churned yet")
    source = headline_caption(doc)
    table = Table(title=f"Why they left ({source}; 95% CI)", title_justify="left")
    table.add_column("axis")
    table.add_column("reason")
    table.add_column("share", justify="right")
    table.add_column("95% CI", justify="right")
    for axis in ("why", "what"):
        for share in sorted(headline_shares(doc, axis), key=lambda r: -(r["share"] or 0)):
            table.add_row(axis, safe_value(share["category"]), _pct(share["share"]), f"{_pct(share['ci_low'])}–{_pct(share['ci_high'])}")
    cells = [s for s in reasons.get("shares", []) if s["axis"] == "cell" and s["by"] == "all" and s["basis"] == "count"]
    parts: list[RenderableType] = [table]
    if reasons.get("examples"):  # only with --include-examples
        parts.append("Example answers (redacted):")
        parts += [f"  {safe_value(q['why'])}: “{safe_value(q['quote'])}”" for q in reasons["examples"]]
    if cells:
        grid = Table(title="Why × what among respondents (share of classified stated reasons)", title_justify="left")
        grid.add_column("why \\ what")
        whats = [w for w in WHAT if any(c["category"].endswith("/" + w) for c in cells)]
        for w in whats:
            grid.add_column(w, justify="right")
        lookup = {c["category"]: c for c in cells}
        for why in WHY:
            found = [lookup.get(f"{why}/{w}") for w in whats]
            if any(found):
                grid.add_row(why, *[_pct(c["share"]) if c else "–" for c in found])
        parts.append(grid)
    return Group(*parts)


def rich_report(report: Report) -> RenderableType:
    from churnwhy.render.drivers import drivers_view
    from churnwhy.render.risk import rich_at_risk, rich_extras
    from churnwhy.render.survival import km_chart, summary_table

    doc = report.to_dict()
    parts: list[RenderableType] = [headline(doc), why_table(doc)]
    if report.drivers.ok:
        parts.append(drivers_view(report.drivers.result, report.inferred.result if report.inferred.ok else None))
    else:
        parts.append(f"[yellow]What drove it: not computed[/] ({safe_text(report.drivers.skipped)})")
    if report.survival.ok:
        parts += [summary_table(report.survival.result), Text(km_chart(report.survival.result))]  # plain text, not markup
    else:
        parts.append(f"[yellow]Retention: not computed[/] ({safe_text(report.survival.skipped)})")
    parts += [rich_at_risk(doc), rich_extras(doc)]
    parts.append(quality_table(doc))
    return Group(*parts)


def quality_table(doc: dict[str, Any]) -> RenderableType:
    q = doc["data_quality"]
    rows = q["rows"]
    rejected = sum(rows["rejected"].values())
    text = f"Data quality: {rows['read']:,} rows read, {rows['loaded']:,} loaded, {rejected:,} rejected"
    if rows["rejected"]:
        text += " (" + ", ".join(f"{n:,} {r}" for r, n in rows["rejected"].items()) + ")"
    text += "; run `churnwhy inspect PATH --rejects rejects.csv` for each row." if rejected else "."
    lines = [safe_text(text)] + [f"[yellow]note:[/] {safe_text(w)}" for w in q["warnings"]]
    return Group(*lines)


def _threshold(c: Check) -> str:
    return f"{'≤' if c.bound == 'max' else '≥'} {_pct(c.threshold)}"


def rich_checks(checks: list[Check]) -> Table:
    table = Table(title=f"churnwhy check: {_verdict(checks)}", title_justify="left")
    for col in ("check", "value", "threshold", "result", "detail"):
        table.add_column(col, justify="right" if col in ("value", "threshold") else "left")
    for c in checks:
        table.add_row(safe_value(c.name), _pct(c.value), _threshold(c), "[green]pass[/]" if c.ok else "[bold red]FAIL[/]",
                      safe_text(c.message))
    return table


def _verdict(checks: list[Check]) -> str:
    failed = sum(not c.ok for c in checks)
    return f"all {len(checks)} hold" if not failed else f"{failed} of {len(checks)} breached"


def markdown_checks(checks: list[Check]) -> str:
    """A section for a CI job summary: a heading with the verdict, then one row per threshold in percent."""
    lines = [f"## churnwhy check: {_verdict(checks)}", "", "| check | value | threshold | result |", "|---|---:|---:|---|"]
    lines += [f"| {md_cell(c.name)} | {_pct(c.value)} | {_threshold(c)} | {'pass' if c.ok else '**FAIL**'} |" for c in checks]
    return "\n".join(lines) + "\n"


def rich_changes(changes: list[Change]) -> Table:
    table = Table(title="churnwhy diff (old → new)", title_justify="left")
    for col in ("metric", "old", "new", "change", "p", "significant"):
        table.add_column(col, justify="left" if col == "metric" else "right")
    for c in changes:
        table.add_row(safe_value(c.metric), _pct(c.old), _pct(c.new), _signed(c.change), _p(c.p_value),
                      "n/a" if c.significant is None else ("[bold]yes[/]" if c.significant else "no"))
    return table


def markdown_changes(changes: list[Change], old: str = "old", new: str = "new") -> str:
    """A section for a CI job summary: which runs, how many changes are significant, then the table in percent
    (changes in percentage points; p-values of shares Holm-adjusted)."""
    significant = [c.metric for c in changes if c.significant]
    lines = [f"## churnwhy diff: {md_cell(old)} → {md_cell(new)}", "",
             (f"{len(significant)} significant change{'s' if len(significant) != 1 else ''} (p < 0.05): "
              + ", ".join(md_cell(m) for m in significant)) if significant else "No significant change (p < 0.05).", "",
             "| metric | old | new | change | p | significant |", "|---|---:|---:|---:|---:|---|"]
    for c in changes:
        lines.append(f"| {md_cell(c.metric)} | {_pct(c.old)} | {_pct(c.new)} | {_signed(c.change)} | {_p(c.p_value)} | "
                     f"{'n/a' if c.significant is None else ('**yes**' if c.significant else 'no')} |")
    return "\n".join(lines) + "\n"


def _p(p: float | None) -> str:
    return "n/a" if p is None else f"{p:.3g}"


def _signed(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:+.1f} pt"
