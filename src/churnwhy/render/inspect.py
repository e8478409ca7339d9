"""Rich and Markdown views of InspectResult."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table

from churnwhy.load import REJECT_REASONS
from churnwhy.render.safe import md_cell, safe_text, safe_value
from churnwhy.results.inspect import InspectResult

NO_DATE = "not applicable (no dates in the data: tenure and churn flag)"


def rich_inspect(result: InspectResult) -> Group:
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    rate = f"{result.churned / result.customers:.1%}" if result.customers else "n/a"
    head.add_row("Customers", f"{result.customers:,}")
    head.add_row("Churned", f"{result.churned:,} ({rate})")
    head.add_row("As of", str(result.as_of or NO_DATE))
    head.add_row("Churn rule", safe_text(result.churn_rule))
    if result.tenure_unit:
        head.add_row("Tenure unit", safe_value(result.tenure_unit))
    # Names come from the exports: escaped, so "[Plan]" or "data[1].csv" is shown, not read as markup.
    head.add_row("Segments", ", ".join(safe_value(s) for s in result.segments) or "none found")
    if result.outcome_columns:
        head.add_row("Outcome columns", ", ".join(safe_value(c) for c in result.outcome_columns)
                     + " (not used as segments or drivers)")
    if result.attributes:
        head.add_row("Attributes", f"{len(result.attributes)} customer attributes "
                     f"({sum(k == 'number' for k in result.attributes.values())} numbers)")
    for lk in result.lookups:
        head.add_row("Lookup", safe_value(lk))
    head.add_row("Event types", ", ".join(safe_value(e) for e in result.event_types) or "no events")
    for label, (lo, hi) in result.date_ranges.items():
        head.add_row(f"Dates: {safe_value(label)}", f"{lo} to {hi}")
    head.add_row("Rows", f"{result.rows_read:,} read, {result.rows_loaded:,} loaded, "
                         f"{result.rows_read - result.rows_loaded:,} rejected")

    files = Table(title="Files", title_justify="left", show_lines=False)
    for col in ("file", "role", "format", "rows", "loaded", "rejected"):
        files.add_column(col, justify="right" if col in ("rows", "loaded") else "left", overflow="fold")
    mapping_table = Table(title="Column mapping (canonical ← export column)", title_justify="left")
    mapping_table.add_column("file", overflow="fold")
    mapping_table.add_column("mapping", overflow="fold")
    for f in result.files:
        fmt = f["format"] + (f" {safe_value(f['encoding'])}" if f.get("encoding") not in (None, "utf-8") else "")
        fmt += f" '{safe_value(f['delimiter'])}'" if f.get("delimiter") not in (None, ",") else ""
        rejected = "\n".join(f"{n:,} {r}" for r, n in f["rejected"].items()) or "0"
        files.add_row(safe_value(f["name"]), f["role"], fmt, f"{f['rows_read']:,}", f"{f['rows_loaded']:,}", rejected)
        mapping = "; ".join(f"{canon} ← {safe_value(src)}" for canon, src in f["mapping"].items())
        dates = "; ".join(f"{safe_value(col)}: {safe_value(fmt)}" for col, fmt in f.get("date_formats", {}).items())
        mapping_table.add_row(safe_value(f["name"]), mapping + (f"\n[dim]dates {dates}[/]" if dates else ""))

    parts: list[RenderableType] = [Panel(head, title="churnwhy inspect", title_align="left"), files, mapping_table]
    if result.rejected:
        rej = Table(title="Rejected rows by reason", title_justify="left")
        rej.add_column("reason")
        rej.add_column("rows", justify="right")
        rej.add_column("meaning")
        for reason, n in result.rejected.items():
            rej.add_row(reason, f"{n:,}", REJECT_REASONS.get(reason, ""))
        parts.append(rej)
    if result.skipped:
        sk = Table(title="Skipped files", title_justify="left")
        sk.add_column("file")
        sk.add_column("why")
        for name, why in result.skipped:
            sk.add_row(safe_value(name), safe_text(why))
        parts.append(sk)
    for w in result.warnings:
        parts.append(f"[yellow]warning:[/] {safe_text(w)}")
    for note in result.notes:
        parts.append(f"[dim]note:[/] {safe_text(note)}")
    return Group(*parts)


def markdown_inspect(result: InspectResult) -> str:
    lines = [
        "# churnwhy inspect", "",
        f"- **Customers:** {result.customers:,}; **churned:** {result.churned:,}",
        f"- **As of:** {result.as_of or NO_DATE}",
        f"- **Churn rule:** {md_cell(result.churn_rule)}",
        *([f"- **Tenure unit:** {md_cell(result.tenure_unit)}"] if result.tenure_unit else []),
        *([f"- **Outcome columns (not used as segments or drivers):** {md_cell(', '.join(result.outcome_columns))}"]
          if result.outcome_columns else []),
        *[f"- **Lookup:** {md_cell(lk)}" for lk in result.lookups],
        f"- **Rows:** {result.rows_read:,} read, {result.rows_loaded:,} loaded", "",
        "| file | role | rows | loaded | rejected |", "|---|---|---:|---:|---|",
    ]
    for f in result.files:
        rejected = ", ".join(f"{n} {r}" for r, n in f["rejected"].items()) or "0"
        lines.append(f"| {md_cell(f['name'])} | {f['role']} | {f['rows_read']:,} | {f['rows_loaded']:,} | {rejected} |")
    return "\n".join(lines) + "\n"
