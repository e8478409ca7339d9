"""One self-contained HTML page (no network: charts are inline SVG). Every text from the data is escaped."""

from __future__ import annotations

import io
import re
from html import escape
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402

from churnwhy.checks import assumption_lines, headline_caption, headline_shares  # noqa: E402
from churnwhy.render.reasons import DRILL_HEADER, drilldown_rows  # noqa: E402

if TYPE_CHECKING:  # the Report is the one input of the analyze renderers; imported for its type only
    from churnwhy.report import Report

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#222;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.3rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:right}
td:first-child,th:first-child{text-align:left}.kpi{display:flex;gap:1rem;flex-wrap:wrap}
.kpi div{background:#f5f7fa;border-radius:6px;padding:.6rem 1rem}.kpi b{display:block;font-size:1.3rem}
.chart svg{max-width:100%;height:auto}.note{color:#666;font-size:.85rem}
.scroll{overflow-x:auto;max-width:100%}
"""


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


class Charts:
    """Inline SVG charts for one page. matplotlib names the parts of every figure alike (`figure_1`, `patch_1`,
    clip paths), so each chart's ids and the references to them get a prefix of their own: ids stay unique."""

    def __init__(self) -> None:
        self.count = 0

    def svg(self, fig: Figure) -> str:
        buf = io.StringIO()
        with matplotlib.rc_context({"svg.hashsalt": "churnwhy", "svg.fonttype": "path"}):
            fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight")
        text = buf.getvalue()
        text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)  # matplotlib's RDF block: no use inline
        text = text[text.index("<svg"):]  # drop the XML prolog and doctype: inline SVG needs neither
        self.count += 1
        prefix = f"c{self.count}-"
        text = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}\1"', text)
        return re.sub(r'(url\(#|href="#)([^")]+)', rf"\g<1>{prefix}\2", text)

    def chart(self, fig: Figure, label: str, ident: str = "", kind: str = "") -> str:
        """A figure as an image for assistive technology too: role="img" and `label` read out, the SVG's own
        text hidden from them (tick labels read one by one are noise)."""
        attrs = f' id="{escape(ident)}"' if ident else ""
        svg = self.svg(fig).replace("<svg ", '<svg aria-hidden="true" ', 1)
        return f'<div class="chart{(" " + kind) if kind else ""}"{attrs} role="img" aria-label="{escape(label)}">{svg}</div>'


def table(header: list[str], rows: list[list[Any]], ident: str = "", label: str = "") -> str:
    """A table in a scrolling box, so a wide one (the cohort matrix) scrolls instead of widening the page; the
    box can take keyboard focus to scroll, and is named for screen readers by `label` (or the first header)."""
    head = "".join(f"<th>{escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    attrs = f' id="{escape(ident)}"' if ident else ""
    name = escape(label or (str(header[0]) if header else "table"))
    return (f'<div class="scroll" role="region" tabindex="0" aria-label="{name}">'
            f"<table{attrs}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>")


def _driver_bars(effects: list[dict[str, Any]], charts: Charts) -> str:
    rows = [e for e in effects if e.get("hr_per_sd") is not None][:12]
    if not rows:
        return ""
    fig = Figure(figsize=(7, 0.4 * len(rows) + 1))
    ax = fig.add_subplot()
    names = [e["feature"] for e in rows][::-1]
    values = [e["hr_per_sd"] for e in rows][::-1]
    ax.barh(range(len(rows)), [v - 1 for v in values], left=1, color=["#c0392b" if v > 1 else "#2e86c1" for v in values])
    ax.set_yticks(range(len(rows)), names, fontsize=8)
    ax.axvline(1, color="#444", linewidth=0.8)
    ax.set_xlabel("hazard ratio per standard deviation (>1: raises churn)")
    label = "Hazard ratio per standard deviation: " + "; ".join(f"{n} {v:.2f}" for n, v in zip(names[::-1], values[::-1]))
    return charts.chart(fig, label, "driver-bars")


def _heatmap(cohorts: dict[str, Any] | None) -> str:
    if not cohorts or cohorts.get("status") == "skipped":
        return '<p class="note">No cohort matrix.</p>'
    rows = cohorts.get("rows") or cohorts.get("cells") or []
    if not rows:
        return '<p class="note">No cohort matrix.</p>'
    cohorts_seen = sorted({r["cohort"] for r in rows})
    periods = sorted({r["period"] for r in rows})[:24]
    cell = {(r["cohort"], r["period"]): r for r in rows}
    head = "<th>cohort</th><th>customers</th>" + "".join(f"<th>{int(p)}</th>" for p in periods)
    body = []
    for c in cohorts_seen[-36:]:
        size = next((cell[(c, p)].get("cohort_size") for p in periods if (c, p) in cell), None)
        tds = []
        for p in periods:
            v = cell.get((c, p), {}).get("retention")
            if v is None:
                tds.append("<td></td>")
            else:
                shade = int(255 - 155 * v)
                tds.append(f'<td style="background:rgb({shade},{shade + (255 - shade) // 2},255)">{v:.0%}</td>')
        body.append(f"<tr><td>{escape(str(c))}</td><td>{'' if size is None else f'{size:,}'}</td>{''.join(tds)}</tr>")
    return ('<div class="scroll" role="region" tabindex="0" aria-label="cohort retention">'
            f'<table id="cohort-heatmap"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>')


def html_report(report: Report) -> str:
    from churnwhy.render.plots import incidence_figure, km_figure
    from churnwhy.render.risk import headline_extras, html_sections
    from churnwhy.results.survival import OVERALL

    doc = report.to_dict()
    charts = Charts()
    s = doc["summary"]
    med = s["median_tenure_days"]
    kpis = [("Customers", f"{s['customers']:,}"), ("Churned", f"{s['churned']:,} ({_pct(s['churn_rate'])})"),
            ("Median tenure", f"{med:,.0f} days" if med is not None else "not reached"),
            ("Survey response", _pct(s["survey_response_rate"])), *headline_extras(doc)]
    when = f" <span class='note'>as of {escape(doc['as_of'])}</span>" if doc["as_of"] else ""
    parts = [f"<h1>Why customers left{when}</h1>",
             '<div class="kpi">' + "".join(f"<div>{escape(k)}<b>{escape(v)}</b></div>" for k, v in kpis) + "</div>",
             "<ul class='note'>" + "".join(f"<li>{escape(k)}: {escape(v)}</li>" for k, v in assumption_lines(doc)) + "</ul>"]
    parts.append("<h2>Why they left</h2>")
    rows = [[axis, r["category"], _pct(r["share"]), f"{_pct(r['ci_low'])}–{_pct(r['ci_high'])}"]
            for axis in ("why", "what") for r in sorted(headline_shares(doc, axis), key=lambda r: -(r["share"] or 0))]
    if rows:
        parts.append(f"<p class='note'>Estimated from {escape(headline_caption(doc))}.</p>")
    parts.append(table(["axis", "reason", "share", "95% CI"], rows) if rows else
                 f"<p class='note'>Not computed: {escape(str(doc['reasons'].get('reason', 'no stated reasons')))}</p>")
    if drill := drilldown_rows(doc):
        parts.append("<h3>Commonest raw reasons per cell</h3>")
        parts.append(table(DRILL_HEADER, drill))
    if report.include_examples:
        parts.append(_examples(report))
    parts.append("<h2>What drove it</h2>")
    drivers = doc["drivers"]
    if drivers.get("status") == "ok":
        parts += [f"<p>{escape(a['sentence'])}</p>" for a in drivers.get("attribution", []) if a.get("sentence")]
        if drivers.get("interpretation"):
            parts.append(f"<p class='note'>{escape(drivers['interpretation'])}</p>")
        parts.append(_driver_bars(drivers.get("effects", []), charts))
        parts += [f"<p class='note'>{escape(e['feature'])}: not estimable ({escape(e.get('not_estimable_reason') or '')})</p>"
                  for e in drivers.get("effects", []) if e.get("estimable") is False]
    else:
        parts.append(f"<p class='note'>Not computed: {escape(str(drivers.get('reason') or drivers.get('skipped')))}</p>")
    parts.append("<h2>Retention</h2>")
    if report.survival.ok:
        result = report.survival.result
        for by in (OVERALL, *result.by):
            parts.append(charts.chart(km_figure(result, by), _km_label(result, by), kind="km"))
        parts.append("<h2>When each reason strikes (cumulative incidence)</h2>")
        for axis in sorted(set(result.incidence["axis"].drop_nulls().to_list())):
            parts.append(charts.chart(incidence_figure(result, axis), f"Cumulative incidence of churn by {axis} reason over "
                                      "tenure; the values are in incidence.parquet and the JSON report", kind="incidence"))
        parts.append("<h2>Cohort retention</h2>")
        parts.append(_heatmap(doc.get("cohorts")))
    else:
        parts.append(f"<p class='note'>Not computed: {escape(str(report.survival.skipped))}</p>")
    parts += html_sections(doc, charts.chart)
    q = doc["data_quality"]["rows"]
    parts.append("<h2>Data quality</h2>")
    parts.append(f"<p>{q['read']:,} rows read, {q['loaded']:,} loaded, {sum(q['rejected'].values()):,} rejected.</p>")
    parts.append(table(["reason", "rows"], [[k, f"{v:,}"] for k, v in q["rejected"].items()]))
    body = "\n".join(parts)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
        f"<title>churnwhy report{escape(' ' + doc['as_of'] if doc['as_of'] else '')}</title><style>{_CSS}</style></head>"
        f"<body>{body}</body></html>\n"
    )


def _km_label(result: Any, by: str) -> str:
    """What a retention chart shows, in words: each group's retention at the report's horizons."""
    from churnwhy.results.survival import OVERALL

    groups = [g for g in result.groups if g.by == by] if by != OVERALL else [g for g in result.groups if g.by == OVERALL]
    parts = []
    for g in groups[:8]:
        points = ", ".join(f"{h.horizon_days} days {_pct(h.survival)}" for h in g.horizons)
        name = "all customers" if by == OVERALL else str(g.group)
        parts.append(f"{name}: {points}" if points else name)
    return f"Retention (Kaplan-Meier) {'overall' if by == OVERALL else 'by ' + by}: " + "; ".join(parts)


from churnwhy.redact import redact  # noqa: E402,F401  (linear-time masking, issue #20; kept importable here)


def _examples(report: Report) -> str:
    quotes = report.examples()
    if not quotes:
        return ""
    items = "".join(f"<li><b>{escape(q['why'])}</b>: “{escape(q['quote'])}”</li>" for q in quotes)
    return f"<h3>Example answers (redacted)</h3><ul>{items}</ul>"
