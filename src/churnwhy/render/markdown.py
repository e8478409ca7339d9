"""A concise Markdown summary for CI job pages, built from Report.to_dict() only (so goldens stay stable)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from churnwhy.checks import assumption_lines, headline_caption, headline_shares
from churnwhy.render.reasons import DRILL_HEADER, drilldown_rows
from churnwhy.render.safe import md_cell as _cell
from churnwhy.render.risk import headline_extras, markdown_sections

if TYPE_CHECKING:  # the Report is the one input of the analyze renderers; imported for its type only
    from churnwhy.report import Report


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def markdown_report(report: Report) -> str:
    """The analyze report as Markdown, from the Report's contract document (the JSON), so it says what the JSON says."""
    return _markdown(report.to_dict())


def _markdown(doc: dict[str, Any]) -> str:
    s = doc["summary"]
    med = s["median_tenure_days"]
    out = [
        f"# Churn report (as of {doc['as_of']})" if doc["as_of"] else "# Churn report",
        "",
        f"- **Customers:** {s['customers']:,}",
        f"- **Churned:** {s['churned']:,} ({_pct(s['churn_rate'])})",
        f"- **Median tenure:** {f'{med:,.0f} days' if med is not None else 'not reached'}",
        f"- **Churners who answered a survey:** {_pct(s['survey_response_rate'])}",
        *[f"- **{label}:** {_cell(text)}" for label, text in assumption_lines(doc)],
        *[f"- **{label}:** {_cell(line)}" for label, line in headline_extras(doc)],
        "",
    ]
    if s["retention"]:
        out += ["## Retention", "", "| horizon | retained | 95% CI |", "|---:|---:|---|"]
        out += [f"| {c['horizon_days']} days | {_pct(c['survival'])} | {_pct(c['ci_low'])}–{_pct(c['ci_high'])} |"
                for c in s["retention"]]
        out.append("")
    out += ["## Why they left", ""]
    shares = {axis: headline_shares(doc, axis) for axis in ("why", "what")}
    if any(shares.values()):
        out += [f"Estimated from {headline_caption(doc)}.", ""]
        out += ["| axis | reason | share | 95% CI |", "|---|---|---:|---|"]
        for axis, rows in shares.items():
            for r in sorted(rows, key=lambda r: (-(r["share"] or 0), r["category"])):
                out.append(f"| {axis} | {_cell(r['category'])} | {_pct(r['share'])} | {_pct(r['ci_low'])}–{_pct(r['ci_high'])} |")
    else:
        out.append(f"Not computed: {_cell(doc['reasons'].get('reason', 'no stated reasons'))}")
    if drill := drilldown_rows(doc):
        out += ["", "Commonest raw reasons per cell:", "", "| " + " | ".join(DRILL_HEADER) + " |", "|---|---|---|---:|---:|"]
        out += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in drill]
    if doc["reasons"].get("examples"):  # only with --include-examples
        out += ["", "Example answers (redacted):", ""]
        out += [f"- {_cell(q['why'])}: “{_cell(q['quote'])}”" for q in doc["reasons"]["examples"]]
    out += ["", "## What drove it", ""]
    drivers = doc["drivers"]
    if drivers.get("status") == "ok" and drivers.get("attribution"):
        for fam in drivers["attribution"]:
            if fam.get("sentence"):
                out.append(f"- {_cell(fam['sentence'])}")
        if drivers.get("interpretation"):
            out += ["", _cell(drivers["interpretation"])]
        top = sorted((e for e in drivers.get("effects", []) if e.get("hazard_ratio") is not None),
                     key=lambda e: -abs((e.get("hr_per_sd") or 1) - 1))[:5]
        if top:
            out += ["", "| driver | family | hazard ratio | 95% CI | p (Holm) |", "|---|---|---:|---|---:|"]
            for e in top:
                p = e.get("p_holm", e["p_value"])
                ref = f" (vs {e['reference'].split('=', 1)[-1]})" if e.get("reference") else ""
                out.append(f"| {_cell(e['feature'] + ref)} | {e['family']} | {_ratio(e['hazard_ratio'])} | "
                           f"{_ratio(e['ci_low'])}–{_ratio(e['ci_high'])} | {'–' if p is None else f'{p:.2g}'} |")
        refused = [e for e in drivers.get("effects", []) if e.get("estimable") is False]
        if refused:
            out += [""] + [f"- {_cell(e['feature'])}: not estimable ({_cell(e.get('not_estimable_reason') or '')})"
                           for e in refused]  # fmt: skip
    else:
        out.append(f"Not computed: {_cell(drivers.get('reason') or drivers.get('skipped') or 'no model')}")
    out += ["", *markdown_sections(doc)]
    q = doc["data_quality"]["rows"]
    rejected = sum(q["rejected"].values())
    out += ["## Data quality", "", f"{q['read']:,} rows read, {q['loaded']:,} loaded, {rejected:,} rejected."]
    if q["rejected"]:
        out.append("")
        out += [f"- {reason}: {n:,}" for reason, n in q["rejected"].items()]
    return "\n".join(out) + "\n"


def _ratio(x: float | None) -> str:
    # A separated feature can give a CI bound of 1e+300: scientific notation keeps the table readable.
    if x is None or x != x:
        return "–"
    return f"{x:.2f}" if 0.01 <= abs(x) < 1000 else f"{x:.2e}"
