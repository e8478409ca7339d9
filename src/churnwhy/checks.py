"""`check` thresholds and `diff` between two runs, computed on Report.to_dict() documents (what CI keeps)."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path
from typing import Any, Literal, overload

import numpy as np

from churnwhy.errors import ChurnwhyError, InputError
from churnwhy.models.survival import holm_adjust

_UNITS = {"d": 1, "w": 7, "m": 30, "y": 365}


@dataclasses.dataclass(frozen=True)
class Check:
    """One threshold judged: `value` against `threshold`, a ceiling (`bound` "max") or a floor ("min")."""

    name: str
    threshold: float
    value: float | None
    ok: bool
    message: str
    bound: str = "max"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def parse_horizon(text: str) -> int:
    m = re.fullmatch(r"\s*(\d+)\s*([dwmy]?)\s*", text.lower())
    if not m:
        raise ChurnwhyError(f"{text!r} is not a horizon", hint="write it like 90d, 12w, 6m or 1y")
    return int(m.group(1)) * _UNITS[m.group(2) or "d"]


def parse_retention(spec: str) -> tuple[int, float]:
    """'90d=0.85' -> (90, 0.85)."""
    if "=" not in spec:
        raise ChurnwhyError(f"--min-retention {spec!r}: expected HORIZON=SHARE", hint="e.g. --min-retention 90d=0.85")
    h, v = spec.split("=", 1)
    return parse_horizon(h), _share(v, f"--min-retention {spec}")


def parse_share(spec: str) -> tuple[str, str, float]:
    """'why=brand_failed:0.4' -> ('why', 'brand_failed', 0.4)."""
    m = re.fullmatch(r"\s*(why|what)\s*=\s*([a-z_]+)\s*:\s*([0-9.]+%?)\s*", spec)
    if not m:
        raise ChurnwhyError(f"--max-share {spec!r}: expected AXIS=LABEL:SHARE", hint="e.g. --max-share why=brand_failed:0.4")
    from churnwhy.models.reason_taxonomy import WHAT, WHY

    labels = WHY if m.group(1) == "why" else WHAT
    if m.group(2) not in labels:  # a typo is a usage error (exit 2), not a breached threshold (exit 1)
        raise ChurnwhyError(f"--max-share {spec}: {m.group(2)!r} is not a {m.group(1)} reason",
                            hint=f"one of {', '.join(labels)}")
    return m.group(1), m.group(2), _share(m.group(3), f"--max-share {spec}")


def _share(text: str, where: str) -> float:
    try:
        value = float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
    except ValueError:
        raise ChurnwhyError(f"{where}: {text!r} is not a number") from None
    if not 0 <= value <= 1:
        raise ChurnwhyError(f"{where}: a share must be between 0 and 1 (or 0% and 100%)")
    return value


@dataclasses.dataclass(frozen=True)
class Thresholds:
    """What `check` was asked to judge, parsed from its flags (usage errors, exit 2, before any analysis)."""

    max_churn_rate: float | None
    min_retention: tuple[tuple[int, float], ...]
    max_share: tuple[tuple[str, str, float], ...]

    @classmethod
    def parse(cls, max_churn_rate: float | None, min_retention: list[str], max_share: list[str]) -> Thresholds:
        retention = tuple(parse_retention(s) for s in min_retention)
        shares = tuple(parse_share(s) for s in max_share)
        if max_churn_rate is None and not retention and not shares:
            raise ChurnwhyError("check needs at least one threshold",
                                hint="e.g. --max-churn-rate 0.05 --min-retention 90d=0.85 --max-share why=brand_failed:0.4")
        if max_churn_rate is not None and not 0 <= max_churn_rate <= 1:
            raise ChurnwhyError("--max-churn-rate must be between 0 and 1")
        return cls(max_churn_rate, retention, shares)

    def check_saved(self, doc: dict[str, Any], name: str) -> None:
        """A saved report holds retention only at the horizons it was run with: another horizon cannot be judged
        from it, which is a usage error (exit 2), not a breach."""
        have = sorted(int(h) for h in retention_horizons(doc))
        for horizon, _ in self.min_retention:
            if horizon not in have:
                raise ChurnwhyError(f"--min-retention {horizon}d: {name} has retention at {', '.join(f'{h}d' for h in have) or 'no horizon'} only",
                                    hint="use one of those horizons, or run check on the exports (or set `horizons` in churnwhy.toml)")


@overload
def read_report(path: Path, *, required: Literal[True]) -> dict[str, Any]: ...


@overload
def read_report(path: Path, *, required: bool) -> dict[str, Any] | None: ...


def read_report(path: Path, *, required: bool) -> dict[str, Any] | None:
    """A report.json written by `churnwhy analyze` (the document), or None when `path` is not one and not
    `required` (a folder or an export file, to analyse). Unreadable or foreign JSON when required: exit 2."""
    hint = "pass a report.json written by `churnwhy analyze --format json` or `--out DIR`"
    if not required and (path.is_dir() or path.suffix.lower() != ".json"):
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path} does not exist", hint=hint) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        if not required:
            return None  # NDJSON or a broken export: the loader says what is wrong with it
        raise InputError(f"{path}: not JSON ({exc})", hint=hint) from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})", hint=hint) from None
    if isinstance(doc, dict) and "summary" in doc and "schema_version" in doc:
        return upgraded(doc)
    if required:
        raise InputError(f"{path} is not a churnwhy report", hint=hint)
    return None  # a JSON export of customers or events


def upgraded(doc: dict[str, Any]) -> dict[str, Any]:
    """A report of schema 1.x read with 2.0's names (the renames in CHANGELOG), so `diff` and `check` compare a
    report saved before an upgrade with one written after it."""
    if str(doc.get("schema_version", "")).split(".")[0] != "1":
        return doc
    from churnwhy.results.contract import named

    out: dict[str, Any] = named(doc)
    retention = out.get("summary", {}).get("retention")
    if isinstance(retention, dict):
        out["summary"]["retention"] = [{"horizon_days": int(h), **cell} for h, cell in sorted(retention.items(), key=lambda kv: int(kv[0]))]
    return out


def retention_cells(doc: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """Retention at each horizon the report holds, by horizon in days."""
    return {int(cell["horizon_days"]): cell for cell in doc.get("summary", {}).get("retention", [])}


def retention_horizons(doc: dict[str, Any]) -> list[int]:
    return sorted(retention_cells(doc))


def retention_at(doc: dict[str, Any], horizon: int) -> float | None:
    cell = retention_cells(doc).get(horizon)
    return None if cell is None else cell.get("survival")


def reason_share(doc: dict[str, Any], axis: str, category: str) -> float | None:
    """The headline share of a reason among churners: stated + inferred when inferred ran, else stated."""
    for share in headline_shares(doc, axis):
        if share["category"] == category:
            found: float | None = share["share"]
            return found
    return None


HEADLINE_SOURCES = {
    "combined": "stated reasons plus reasons inferred for silent churners",
    "reweighted": "stated reasons, reweighted for who answered",
    "stated": "stated reasons of the churners who answered",
}


def headline_source(doc: dict[str, Any], axis: str | None = None) -> str | None:
    """Which estimate of the reason mix a report leads with on an axis (any axis when None): every churner
    (stated + inferred) when inference ran for it, else respondents reweighted for non-response, else
    respondents as they are. An axis the silent classifier refused keeps the respondents' estimate, so a
    report never leads with a mix that is mostly `unknown`."""
    reasons = doc.get("reasons", {})
    inferred = reasons.get("inferred", {})
    if inferred.get("status") == "ok" and inferred.get("mix") and any(
        m.get("inferred") and (axis is None or m.get("axis") == axis) for m in inferred.get("models", [])
    ):
        return "combined"
    if reasons.get("status") != "ok":
        return None
    rows = reasons.get("nonresponse", {}).get("rows", [])
    if rows and not reasons["nonresponse"].get("note"):
        return "reweighted"
    return "stated"


def headline_caption(doc: dict[str, Any]) -> str:
    """'stated reasons, reweighted ...', or one phrase per axis when the axes come from different estimates;
    then, for an axis whose shares are among the known only, how many answers were left out."""
    sources = {axis: headline_source(doc, axis) for axis in ("why", "what")}
    if sources["why"] == sources["what"]:
        text = HEADLINE_SOURCES.get(sources["why"] or "", "no stated reasons")
    else:
        text = "; ".join(f"{axis}: {HEADLINE_SOURCES.get(src or '', 'no stated reasons')}" for axis, src in sources.items())
    notes = [note for axis in ("why", "what") if (note := known_only_note(doc, axis))]
    return text + (". " + "; ".join(notes) if notes else "")


def known_only_note(doc: dict[str, Any], axis: str) -> str | None:
    """'what: shares among the known; 12 answers unknown left out (the unknown row is their share of all answers)',
    or None when the axis's shares are over every churner."""
    rows = headline_shares(doc, axis)
    known = [r for r in rows if r.get("among") == "known"]
    if not known:
        return None
    left = max(int(r.get("left_out") or 0) for r in known)
    return (f"{axis}: shares among the known; {left:,} answer{'s' if left != 1 else ''} unknown on {axis} left out "
            "(the unknown row is their share of all answers)")


def headline_shares(doc: dict[str, Any], axis: str) -> list[dict[str, Any]]:
    """[{category, share, ci_low, ci_high, among, left_out}] among churners on one axis, from the estimate
    headline_source picks (documents with the contract's names: results/contract.py)."""
    source = headline_source(doc, axis)
    reasons = doc.get("reasons", {})
    if source == "combined":
        return [{"category": s["category"], "share": s["share"], "ci_low": s["ci_low"], "ci_high": s["ci_high"],
                 "among": "all", "left_out": 0} for s in reasons["inferred"]["mix"] if s["axis"] == axis]
    if source == "reweighted":
        return [{"category": r["category"], "share": r["reweighted"], "ci_low": r["ci_low"], "ci_high": r["ci_high"],
                 "among": r.get("among", "known"), "left_out": r.get("left_out", 0)}
                for r in reasons["nonresponse"]["rows"] if r["axis"] == axis]
    if source == "stated":
        return [{"category": s["category"], "share": s["share"], "ci_low": s["ci_low"], "ci_high": s["ci_high"],
                 "among": s.get("among", "known"), "left_out": s.get("left_out", 0)}
                for s in reasons.get("shares", []) if s["axis"] == axis and s["by"] == "all" and s["basis"] == "count"]
    return []


def run_checks(doc: dict[str, Any], thresholds: Thresholds) -> list[Check]:
    checks = []
    max_churn_rate, min_retention, max_share = thresholds.max_churn_rate, thresholds.min_retention, thresholds.max_share
    if max_churn_rate is not None:
        v = doc["summary"]["churn_rate"]
        checks.append(Check("churn_rate", max_churn_rate, v, v is not None and v <= max_churn_rate,
                            f"churn rate {_pct(v)} (max {_pct(max_churn_rate)})"))
    for horizon, floor in min_retention:
        v = retention_at(doc, horizon)
        checks.append(Check(f"retention_{horizon}d", floor, v, v is not None and v >= floor,
                            f"retention at {horizon} days {_pct(v)} (min {_pct(floor)})"
                            + ("" if v is not None else ": not computable (too few customers observed that long?)"),
                            bound="min"))
    for axis, label, ceiling in max_share:
        v = reason_share(doc, axis, label)
        checks.append(Check(f"share_{axis}_{label}", ceiling, v, v is not None and v <= ceiling,
                            f"share of churn with {axis}={label} {_pct(v)} (max {_pct(ceiling)})"
                            + ("" if v is not None else ": no such reason in the report")))
    return checks


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.1%}"


# --- diff ----------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Change:
    metric: str
    old: float | None
    new: float | None
    change: float | None
    p_value: float | None  # two-sided, where a test applies
    significant: bool | None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def diff_reports(old: dict[str, Any], new: dict[str, Any], *, alpha: float = 0.05) -> list[Change]:
    """Changes between two reports. Reason shares are tested from each report's 95% intervals (which include
    classification error where the mix was corrected for it) and flagged after a Holm correction across all
    the shares compared, so that two samples of one business rarely differ by chance."""
    for doc, which in ((old, "OLD"), (new, "NEW")):
        if "summary" not in doc or "schema_version" not in doc:
            raise ChurnwhyError(f"{which} is not a churnwhy report", hint="pass two files written by `churnwhy analyze --format json`")
    old, new = upgraded(old), upgraded(new)
    changes = []
    so, sn = old["summary"], new["summary"]
    p = _two_proportions(so["churned"], so["customers"], sn["churned"], sn["customers"])
    changes.append(_change("churn_rate", so["churn_rate"], sn["churn_rate"], p, alpha))
    cells_old, cells_new = retention_cells(old), retention_cells(new)
    for h in sorted(set(cells_old) | set(cells_new)):
        a, b = cells_old.get(h, {}), cells_new.get(h, {})
        p = _two_estimates(a, b)
        changes.append(_change(f"retention_{h}d", a.get("survival"), b.get("survival"), p, alpha))
    shares = []
    for axis in ("why", "what"):
        olds = {s["category"]: s for s in headline_shares(old, axis)}
        news = {s["category"]: s for s in headline_shares(new, axis)}
        for label in sorted(set(olds) | set(news)):
            a, b = olds.get(label, {}), news.get(label, {})
            shares.append(_change(f"share_{axis}_{label}", a.get("share"), b.get("share"), _two_estimates(a, b), alpha))
    return changes + holm(shares, alpha)


def holm(changes: list[Change], alpha: float) -> list[Change]:
    """Holm's step-down correction (Holm 1979; R: p.adjust(p, "holm")) over the changes that have a test:
    p-values become adjusted p-values, significant when below alpha; changes without a test keep None."""
    tested = [i for i, c in enumerate(changes) if c.p_value is not None]
    adjusted = dict(zip(tested, holm_adjust(np.array([changes[i].p_value for i in tested], dtype=float)).tolist()))
    return [dataclasses.replace(c, p_value=round(adjusted[i], 6), significant=adjusted[i] < alpha) if i in adjusted
            else c for i, c in enumerate(changes)]


def _change(metric: str, old: float | None, new: float | None, p: float | None, alpha: float) -> Change:
    delta = None if old is None or new is None else round(new - old, 6)
    return Change(metric, old, new, delta, None if p is None else round(p, 6), None if p is None else p < alpha)


def _two_proportions(x1: int, n1: int, x2: int, n2: int) -> float | None:
    if min(n1, n2) == 0:
        return None
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return None
    z = (x2 / n2 - x1 / n1) / se
    return math.erfc(abs(z) / math.sqrt(2))


def _two_estimates(a: dict[str, Any], b: dict[str, Any]) -> float | None:
    """Wald test from each estimate's 95% CI (SE ~ width / 3.92): independent samples assumed."""
    try:
        se_a = (a["ci_high"] - a["ci_low"]) / 3.92
        se_b = (b["ci_high"] - b["ci_low"]) / 3.92
        est_a, est_b = a.get("survival", a.get("share")), b.get("survival", b.get("share"))
        se = math.sqrt(se_a**2 + se_b**2)
        if se == 0 or est_a is None or est_b is None:
            return None
        return math.erfc(abs(est_b - est_a) / se / math.sqrt(2))
    except (KeyError, TypeError):
        return None


def assumption_lines(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, text) of what was assumed: churn rule, tenure unit, analysis date, outcome columns, lookups."""
    a = (doc.get("input") or {}).get("assumptions") or {}
    lines = [("Churn rule", a.get("churn_rule") or doc["summary"].get("churn_rule") or "n/a"),
             ("Tenure unit", a.get("tenure_unit") or "no tenure column"),
             ("As of", a.get("analysis_date") or doc.get("as_of") or "not applicable")]
    if a.get("outcome_columns"):
        lines.append(("Outcome columns", "ignored as segments and drivers: " + ", ".join(a["outcome_columns"])))
    for lk in a.get("lookups") or []:
        lines.append(("Lookup", lk))
    return lines
