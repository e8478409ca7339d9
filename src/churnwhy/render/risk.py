"""Views of the acting-on-it sections (at_risk, beliefs, revenue, concentration): rich, Markdown and HTML, each
built from the report document (to_dict), so every format says the same; only the terminal's `--top N` list
reads the per-customer frame (customer ids are the analyst's own data; reports carry aggregates only)."""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import TYPE_CHECKING, Any

import polars as pl
from rich.console import Group, RenderableType
from rich.table import Table

from churnwhy.render.safe import md_cell, safe_text, safe_value

if TYPE_CHECKING:  # matplotlib is imported when a chart is drawn
    from matplotlib.figure import Figure

BAR = 30  # characters of a full bar in the terminal calibration chart


def _pct(x: float | None, digits: int = 1) -> str:
    return "n/a" if x is None else f"{x:.{digits}%}"


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:,.0f}"


def _ci(lo: float | None, hi: float | None) -> str:
    return f"{_pct(lo)}–{_pct(hi)}"


def headline_lines(doc: dict[str, Any]) -> list[str]:
    """One-line facts for a headline: customers at risk, revenue at risk, the top action, calibration."""
    a = doc.get("at_risk", {})
    if a.get("status") != "ok":
        return []
    lines = [f"{a['expected_churners']:,.0f} of {a['n_active']:,} active customers expected to churn within "
             f"{a['horizon_days']} days" + (f"; revenue at risk {_num(a['revenue_at_risk'])} a month" if a.get("revenue_at_risk") is not None else "")]
    if a.get("actions"):
        top = a["actions"][0]
        lines.append(f"most expected churners per action: {top['key']} ({top['customers']:,} customers, "
                     f"{top['expected_churners']:,.0f} expected churners)")
    c = a.get("calibration", {})
    if c.get("status") == "ok":
        kind = "backtest" if c["method"] == "backtest" else "cross-validated"
        lines.append(f"{kind}: concordance {c['concordance']:.2f}, top-decile lift {c['top_decile_lift']:.1f}x, "
                     f"Brier {c['brier']:.3f} (base rate {c['brier_baseline']:.3f})")
    return lines


def headline_extras(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, text) for a report's headline: at risk, revenue lost by reason (95% CIs), where churn concentrates
    most and least (observed / expected, top and bottom five)."""
    out: list[tuple[str, str]] = []
    a = doc.get("at_risk", {})
    if a.get("status") == "ok":
        out.append((f"At risk ({a['horizon_days']} d)", headline_lines(doc)[0]))
    r = doc.get("revenue", {})
    if r.get("status") == "ok" and r.get("revenue_lost") is not None:
        why = [x for x in r["by_reason"] if x["axis"] == "why" and x["revenue_lost"] is not None]
        why.sort(key=lambda x: -x["revenue_lost"])
        parts = [f"{x['category']} {_num(x['revenue_lost'])} ({_num(x['revenue_ci_low'])}–{_num(x['revenue_ci_high'])})" for x in why]
        out.append(("Revenue lost / month", f"{_num(r['revenue_lost'])}" + (f": {', '.join(parts)}" if parts else "")))
    c = doc.get("concentration", {})
    if c.get("status") == "ok":
        rows = c["rows"]

        def fmt(x: dict[str, Any]) -> str:
            return f"{x['segment']}={x['level']} {x['ratio']:.2f}x ({x['ci_low']:.2f}–{x['ci_high']:.2f})"
        out.append(("Churn concentrates", ", ".join(fmt(x) for x in rows[:5])))
        if len(rows) > 5:
            out.append(("Churns least", ", ".join(fmt(x) for x in rows[::-1][:5] if x not in rows[:5])))
    return out


# -- terminal ------------------------------------------------------------------------------------------------

def rich_at_risk(doc: dict[str, Any], frame: pl.DataFrame | None = None, top: int = 0) -> RenderableType:
    a = doc.get("at_risk", {})
    if a.get("status") != "ok":
        return f"[yellow]Who is about to leave: not computed[/] ({safe_text(a.get('reason'))})"
    parts: list[RenderableType] = [f"[bold]Who is about to leave[/] (within {a['horizon_days']} days): "
                                   + safe_text("; ".join(headline_lines(doc)))]
    if frame is not None and top > 0:
        t = Table(title=f"Top {min(top, frame.height)} customers by churn probability", title_justify="left")
        for col in ("customer", "P(churn)", "monthly value", "why", "what", "confidence", "top factors", "action"):
            t.add_column(col, justify="right" if col in ("P(churn)", "monthly value", "confidence") else "left")
        for r in frame.head(top).iter_rows(named=True):
            factors = ", ".join(f for f in (r["factor_1"], r["factor_2"], r["factor_3"]) if f)
            t.add_row(safe_value(str(r["customer_id"])), _pct(r["churn_probability"]),
                      _num(r["monthly_value"]) if r["monthly_value"] is not None else "–", r["why"], r["what"],
                      _pct(r["reason_confidence"], 0) if r["reason_confidence"] is not None else "–",
                      safe_value(factors or "–"), safe_value(r["action"]))
        parts.append(t)
    parts.append(_tally_table("What to do: customers and revenue at risk per action", "action", a["actions"]))
    for axis in ("why", "what"):
        parts.append(_tally_table(f"Likely reason ({axis}) of active customers", axis, a[f"by_{axis}"]))
    parts.append(calibration_chart(a.get("calibration", {})))
    return Group(*parts)


def _tally_table(title: str, key: str, rows: list[dict[str, Any]]) -> Table:
    t = Table(title=title, title_justify="left")
    for col in (key, "customers", "expected churners", "revenue at risk / month"):
        t.add_column(col, justify="left" if col == key else "right")
    for r in rows:
        t.add_row(safe_value(r["key"]), f"{r['customers']:,}", f"{r['expected_churners']:,.1f}", _num(r["revenue_at_risk"]))
    return t


def calibration_chart(c: dict[str, Any]) -> RenderableType:
    """Predicted against observed churn per decile, as bars (terminal)."""
    if c.get("status") != "ok":
        return f"[yellow]Calibration: not computed[/] ({safe_text(c.get('reason'))})"
    top = max([b["predicted"] for b in c["bins"]] + [b["ci_high"] or 0 for b in c["bins"]] + [1e-9])
    t = Table(title=("Backtest" if c["method"] == "backtest" else "Cross-validated calibration")
              + f": predicted vs observed churn within {c['horizon_days']} days, by decile of predicted risk",
              title_justify="left", caption=safe_text(c["note"]), caption_justify="left")
    for col in ("decile", "n", "predicted", "observed (95% CI)", ""):
        t.add_column(col, justify="left" if col in ("decile", "") else "right")
    for b in c["bins"]:
        pred = round(BAR * b["predicted"] / top)
        obs = round(BAR * b["observed"] / top)
        bars = "[cyan]" + "█" * pred + "[/]\n[magenta]" + "▒" * obs + "[/]"
        t.add_row(str(b["decile"]), f"{b['n']:,}", _pct(b["predicted"]), f"{_pct(b['observed'])} ({_ci(b['ci_low'], b['ci_high'])})", bars)
    return Group(t, "[cyan]█[/] predicted  [magenta]▒[/] observed")


def rich_extras(doc: dict[str, Any]) -> RenderableType:
    """Beliefs vs evidence, the revenue view and where churn concentrates."""
    parts: list[RenderableType] = []
    b = doc.get("beliefs", {})
    if b.get("status") == "ok":
        t = Table(title="Belief vs evidence" + (" (external benchmark)" if b["source"] == "external_benchmark" else ""),
                  title_justify="left", caption=safe_text(b["note"]), caption_justify="left")
        for col in ("belief", "measured", "95% CI", "verdict"):
            t.add_column(col, justify="right" if col in ("measured", "95% CI") else "left")
        for r in belief_rows(b):
            t.add_row(*[safe_value(x) for x in r])
        parts.append(t)
    r = doc.get("revenue", {})
    if r.get("status") == "ok":
        parts.append(_value_voice(r))
    parts.append(_concentration(doc.get("concentration", {})))
    return Group(*parts)


def belief_rows(b: dict[str, Any]) -> list[list[str]]:
    out = []
    for c in b["checks"]:
        if c["axis"] == "compare":
            measured = "n/a" if c["measured"] is None else f"{c['measured'] * 100:+.1f} pt"
            ci = "n/a" if c["ci_low"] is None else f"{c['ci_low'] * 100:+.1f} to {c['ci_high'] * 100:+.1f} pt"
        else:
            measured, ci = _pct(c["measured"]), _ci(c["ci_low"], c["ci_high"]) if c["ci_low"] is not None else "n/a"
        out.append([c["statement"], measured, ci, c["verdict"]])
    return out


def value_voice_rows(r: dict[str, Any]) -> list[list[str]]:
    rows = []
    for x in r["by_reason"]:
        rows.append([x["axis"], x["category"], f"{x['churners']:,}", f"{_pct(x['share'])} ({_ci(x['share_ci_low'], x['share_ci_high'])})",
                     "n/a" if x["revenue_lost"] is None else f"{_num(x['revenue_lost'])} ({_num(x['revenue_ci_low'])}–{_num(x['revenue_ci_high'])})",
                     "n/a" if x["revenue_share"] is None else f"{_pct(x['revenue_share'])} ({_ci(x['revenue_share_ci_low'], x['revenue_share_ci_high'])})"])
    return rows


VALUE_VOICE_HEADER = ["axis", "reason", "churners", "share by head count (95% CI)", "revenue lost / month (95% CI)",
                      "share by revenue (95% CI)"]


def _value_voice(r: dict[str, Any]) -> RenderableType:
    parts: list[RenderableType] = []
    if r["months"]:
        last = r["months"][-6:]
        t = Table(title="Monthly churn: by customers and by revenue (last months)", title_justify="left")
        for col in ("month", "active at start", "churned", "customer churn", "revenue churn"):
            t.add_column(col, justify="left" if col == "month" else "right")
        for m in last:
            t.add_row(m["month"], f"{m['active_start']:,}", f"{m['churned']:,}", _pct(m["rate"], 2), _pct(m["revenue_rate"], 2))
        parts.append(t)
    if r["by_reason"]:
        t = Table(title="Value vs voice: why they left, by head count and by revenue lost", title_justify="left")
        for col in VALUE_VOICE_HEADER:
            t.add_column(col, justify="left" if col in ("axis", "reason") else "right")
        for row in value_voice_rows(r):
            t.add_row(*[safe_value(x) for x in row])
        parts.append(t)
    return Group(*parts)


def concentration_rows(c: dict[str, Any], n: int = 5) -> tuple[list[list[str]], list[list[str]]]:
    """(top n, bottom n) rows by observed / expected."""
    def row(x: dict[str, Any]) -> list[str]:
        return [x["segment"], x["level"], f"{x['customers']:,}", f"{x['observed']:,}", f"{x['expected']:,.1f}",
                f"{x['ratio']:.2f}", f"{x['ci_low']:.2f}–{x['ci_high']:.2f}"]
    rows = c.get("rows", [])
    top = rows[:n]
    bottom = rows[-n:][::-1] if len(rows) > n else []
    return [row(x) for x in top], [row(x) for x in bottom if x not in top]


CONCENTRATION_HEADER = ["segment", "level", "customers", "churned", "expected", "observed / expected", "95% CI"]


def _concentration(c: dict[str, Any]) -> RenderableType:
    if c.get("status") != "ok":
        return f"[yellow]Where churn concentrates: not computed[/] ({safe_text(c.get('reason'))})"
    top, bottom = concentration_rows(c)
    t = Table(title="Where churn concentrates: highest and lowest observed / expected", title_justify="left")
    for col in CONCENTRATION_HEADER:
        t.add_column(col, justify="left" if col in ("segment", "level") else "right")
    for r in top:
        t.add_row(*[safe_value(x) for x in r])
    if bottom:
        t.add_section()
        for r in bottom:
            t.add_row(*[safe_value(x) for x in r])
    return t


# -- Markdown --------------------------------------------------------------------------------------------------

def _md(text: Any) -> str:
    return md_cell(text)


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(_md(c) for c in r) + " |" for r in rows]
    return out


def markdown_sections(doc: dict[str, Any]) -> list[str]:
    out = ["## Who is about to leave", ""]
    a = doc.get("at_risk", {})
    if a.get("status") != "ok":
        out.append(f"Not computed: {_md(a.get('reason'))}")
    else:
        out += [f"- {_md(line)}" for line in headline_lines(doc)] + [""]
        out += _md_table(["action", "customers", "expected churners", "revenue at risk / month"],
                         [[r["key"], f"{r['customers']:,}", f"{r['expected_churners']:,.1f}", _num(r["revenue_at_risk"])] for r in a["actions"]])
        c = a.get("calibration", {})
        out += ["", "### Calibration", ""]
        if c.get("status") == "ok":
            out += [_md(c["note"]) + ".", ""]
            out += _md_table(["decile", "customers", "predicted", "observed", "95% CI"],
                             [[str(b["decile"]), f"{b['n']:,}", _pct(b["predicted"]), _pct(b["observed"]), _ci(b["ci_low"], b["ci_high"])]
                              for b in c["bins"]])
        else:
            out.append(f"Not computed: {_md(c.get('reason'))}")
    b = doc.get("beliefs", {})
    out += ["", "## Belief vs evidence", ""]
    if b.get("status") == "ok":
        out += [_md(b["note"]) + ".", ""] + _md_table(["belief", "measured", "95% CI", "verdict"], belief_rows(b))
    else:
        out.append(f"Not computed: {_md(b.get('reason'))}")
    r = doc.get("revenue", {})
    out += ["", "## Value vs voice", ""]
    if r.get("status") == "ok" and r["by_reason"]:
        out += _md_table(VALUE_VOICE_HEADER, value_voice_rows(r))
    else:
        out.append(f"Not computed: {_md(r.get('reason', 'no reasons'))}")
    c = doc.get("concentration", {})
    out += ["", "## Where churn concentrates", ""]
    if c.get("status") == "ok":
        top, bottom = concentration_rows(c)
        out += _md_table(CONCENTRATION_HEADER, top + bottom)
    else:
        out.append(f"Not computed: {_md(c.get('reason'))}")
    return out + [""]


# -- HTML ------------------------------------------------------------------------------------------------------

def calibration_figure(c: dict[str, Any]) -> Figure:
    """Predicted vs observed per decile with 95% CIs and the diagonal (matplotlib Figure)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 4.5))
    ax = fig.add_subplot()
    pred = [b["predicted"] for b in c["bins"]]
    obs = [b["observed"] for b in c["bins"]]
    err = [[max(0.0, o - (b["ci_low"] or o)) for o, b in zip(obs, c["bins"], strict=True)],
           [max(0.0, (b["ci_high"] or o) - o) for o, b in zip(obs, c["bins"], strict=True)]]
    top = max(pred + [b["ci_high"] or 0 for b in c["bins"]] + [0.01]) * 1.05
    ax.plot([0, top], [0, top], color="#999", linewidth=0.8, linestyle="--")
    ax.errorbar(pred, obs, yerr=err, fmt="o", color="#c0392b", capsize=3)
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel(f"predicted churn within {c['horizon_days']} days (decile mean)")
    ax.set_ylabel("observed churn (95% CI)")
    ax.set_title("Backtest" if c["method"] == "backtest" else "Cross-validated calibration")
    return fig


def html_sections(doc: dict[str, Any], chart: Callable[..., str]) -> list[str]:
    """HTML parts; `chart(fig, label, ident)` turns a matplotlib figure into a labelled inline SVG (render.html's)."""
    from churnwhy.render.html import table as _html_table

    out = ["<h2>Who is about to leave</h2>"]
    a = doc.get("at_risk", {})
    if a.get("status") != "ok":
        out.append(f"<p class='note'>Not computed: {escape(str(a.get('reason')))}</p>")
    else:
        out += [f"<p>{escape(line)}</p>" for line in headline_lines(doc)]
        out.append(_html_table(["action", "customers", "expected churners", "revenue at risk / month"],
                               [[r["key"], f"{r['customers']:,}", f"{r['expected_churners']:,.1f}", _num(r["revenue_at_risk"])]
                                for r in a["actions"]], "actions"))
        c = a.get("calibration", {})
        if c.get("status") == "ok":
            label = ("Calibration: observed against predicted churn by decile; "
                     + "; ".join(f"decile {b['decile']}: predicted {b['predicted']:.1%}, observed {b['observed']:.1%}"
                                 for b in c.get("bins", []) if b.get("predicted") is not None and b.get("observed") is not None))
            out.append(chart(calibration_figure(c), label, "calibration"))
            out.append(f"<p class='note'>{escape(c['note'])}.</p>")
        else:
            out.append(f"<p class='note'>Calibration not computed: {escape(str(c.get('reason')))}</p>")
    b = doc.get("beliefs", {})
    out.append("<h2>Belief vs evidence</h2>")
    if b.get("status") == "ok":
        out += [f"<p class='note'>{escape(b['note'])}</p>", _html_table(["belief", "measured", "95% CI", "verdict"], belief_rows(b), "beliefs")]
    r = doc.get("revenue", {})
    if r.get("status") == "ok" and r["by_reason"]:
        out += ["<h2>Value vs voice</h2>", _html_table(VALUE_VOICE_HEADER, value_voice_rows(r), "value-voice")]
    c = doc.get("concentration", {})
    if c.get("status") == "ok":
        top, bottom = concentration_rows(c)
        out += ["<h2>Where churn concentrates</h2>", _html_table(CONCENTRATION_HEADER, top + bottom, "concentration")]
    return out
