"""Where each table goes and how it looks: the clean layout (canonical names, one file per table) and the
messy layout (human column names, split files, mixed formats and encodings, planted invalid rows).

Planted invalid rows are *extra* rows, so the valid data and every truth figure stay exactly as simulated;
each one is counted in `Rejects` under the loader's reason codes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections import Counter
from pathlib import Path

import numpy as np
import polars as pl
import xlsxwriter

from churnwhy.demo.events import DAY_S, EventChunk
from churnwhy.demo.model import CANCEL, EPOCH, DemoModel, Population
from churnwhy.demo.sinks import Sink

REJECT_CODES = ("missing_id", "bad_date", "duplicate_customer", "duplicate_row", "unknown_customer", "end_before_start")
BAD_DATES = ("2024-13-45", "2023-02-30", "31.31.2024", "not a date", "2024-00-10")
OFFSETS = ((3600, "+01:00"), (7200, "+02:00"), (-18000, "-05:00"), (0, "Z"))
FIRST = ("anna", "ben", "carla", "david", "eva", "felix", "greta", "hugo", "ines", "jonas", "karin", "luca", "marie", "nils", "olga", "paul")
LAST = ("muller", "schmidt", "rossi", "dubois", "garcia", "jansen", "novak", "weber", "moreau", "ricci", "lopez", "berg")
DOMAINS = ("example.com", "mail.example.org", "post.example.net")


@dataclasses.dataclass
class Rejects:
    """Planted invalid rows by file and reason code (what the loader must report, exactly)."""

    by_file: dict[str, Counter[str]] = dataclasses.field(default_factory=dict)

    def add(self, file: str, code: str, k: int = 1) -> None:
        assert code in REJECT_CODES
        self.by_file.setdefault(file, Counter())[code] += k

    def totals(self) -> dict[str, int]:
        out = dict.fromkeys(REJECT_CODES, 0)
        for c in self.by_file.values():
            for code, k in c.items():
                out[code] += k
        return out

    def to_dict(self) -> dict[str, dict[str, int]]:
        return {f: dict(sorted(c.items())) for f, c in sorted(self.by_file.items())}


def customer_ids(n: int, extra: int) -> tuple[pl.Series, int]:
    width = max(6, len(str(n + extra)))
    return pl.Series("id", np.arange(1, n + 1)).cast(pl.String).str.zfill(width), width


def emails(n: int, rng: np.random.Generator) -> pl.Series:
    f = np.array(FIRST)[rng.integers(0, len(FIRST), n)]
    last = np.array(LAST)[rng.integers(0, len(LAST), n)]
    d = np.array(DOMAINS)[rng.integers(0, len(DOMAINS), n)]
    num = np.arange(1, n + 1).astype(str)
    return pl.Series("email", np.char.add(np.char.add(np.char.add(np.char.add(np.char.add(f, "."), last), num), "@"), d))


def _date(days: np.ndarray) -> pl.Series:
    return pl.Series(days.astype("datetime64[D]")).cast(pl.Date)


def _dt(ts: np.ndarray) -> pl.Series:
    return pl.Series((ts * 1_000_000).astype("datetime64[us]"))


def _label(names: tuple[str, ...], codes: np.ndarray) -> pl.Series:
    return pl.Series(list(names))[pl.Series(codes.astype(np.int64))]


@dataclasses.dataclass
class Context:
    out: Path
    pop: Population
    model: DemoModel
    ids: pl.Series
    width: int
    email: pl.Series
    fmt: str
    rng: np.random.Generator
    rejects: Rejects
    files: dict[str, str] = dataclasses.field(default_factory=dict)  # relative path -> role

    def rel(self, path: Path) -> str:
        return path.relative_to(self.out).as_posix()

    def planted(self, base: int) -> int:
        """How many invalid rows of one kind: grows slowly with the size."""
        return base * (1 + self.pop.start.size // 20_000)

    def new_id(self, k: int) -> str:
        return str(self.pop.start.size + k).zfill(self.width)


# ---- customers ------------------------------------------------------------------------------------


def customers_frame(ctx: Context) -> pl.DataFrame:
    pop, m = ctx.pop, ctx.model
    return pl.DataFrame(
        {
            "customer_id": ctx.ids,
            "signup_date": _date(pop.start),
            "churn_date": pl.DataFrame({"d": _date(pop.end), "c": pop.churned})
            .select(pl.when(pl.col("c")).then(pl.col("d")))
            .to_series(),
            "plan": _label(tuple(m.plans), pop.plan),
            "region": _label(tuple(m.regions), pop.region),
            "channel": _label(tuple(m.channels), pop.channel),
            "email": ctx.email,
        }
    )


def write_clean_customers(ctx: Context, ext: str) -> None:
    path = ctx.out / f"customers.{ext}"
    _write_whole(customers_frame(ctx), path, ext)
    ctx.files[ctx.rel(path)] = "customers"


def write_messy_customers(ctx: Context) -> None:
    pop, m = ctx.pop, ctx.model
    base = customers_frame(ctx)
    crm = base.select(
        pl.col("customer_id").alias("Customer ID"),
        pl.col("signup_date").dt.strftime("%Y-%m-%d").alias("Signup Date"),
        pl.when(pl.col("churn_date").is_null()).then(pl.lit("Active")).otherwise(pl.lit("Cancelled")).alias("Status"),
        pl.col("churn_date").dt.strftime("%Y-%m-%d").alias("Cancellation Date"),
        pl.col("email").alias("E-mail"),
        pl.col("channel").str.to_titlecase().alias("Channel"),
    )
    name = "crm/Customers.csv"
    rows = crm.rows()
    extra: list[tuple[object, ...]] = []
    k = 0
    for _ in range(ctx.planted(2)):  # blank id
        r = list(rows[int(ctx.rng.integers(0, len(rows)))])
        r[0] = None
        r[4] = f"noid{len(extra)}@example.com"
        extra.append(tuple(r))
        ctx.rejects.add(name, "missing_id")
    for i in range(ctx.planted(2)):  # unparseable signup date
        k += 1
        extra.append((ctx.new_id(k), BAD_DATES[i % len(BAD_DATES)], "Active", None, f"bad{k}@example.com", "Web"))
        ctx.rejects.add(name, "bad_date")
    for _ in range(ctx.planted(2)):  # cancelled before signing up
        k += 1
        extra.append((ctx.new_id(k), "2024-05-10", "Cancelled", "2024-03-01", f"ebs{k}@example.com", "Web"))
        ctx.rejects.add(name, "end_before_start")
    for j in range(ctx.planted(3)):  # the same id again, different details: the first row is kept
        r = list(rows[int(ctx.rng.integers(0, len(rows)))])
        r[4] = f"old.address{j}@example.com"
        r[5] = "Store"
        extra.append(tuple(r))
        ctx.rejects.add(name, "duplicate_customer")
    # Invalid rows go at the end, except that duplicates must follow their first occurrence anyway.
    crm = pl.concat([crm, pl.DataFrame(extra, schema=crm.schema, orient="row")])
    _write_whole(crm, ctx.out / name, "csv")
    ctx.files[name] = "customers"

    plans = base.select(pl.col("customer_id").alias("Customer ID"), pl.col("plan").str.to_titlecase().alias("Plan"))
    fee = np.array([v[2] for v in m.plans.values()])[pop.plan]
    write_xlsx(ctx.out / "crm/plans.xlsx", plans.with_columns(pl.Series("Monthly Fee", fee)), m.as_of)
    ctx.files["crm/plans.xlsx"] = "customers"

    regions = base.select(pl.col("customer_id").alias("Customer ID"), pl.col("region").alias("Region"))
    path = ctx.out / "crm/regions_eu.csv"
    path.write_bytes(regions.write_csv(separator=";").encode("cp1252"))
    ctx.files["crm/regions_eu.csv"] = "customers"


def write_xlsx(path: Path, df: pl.DataFrame, created: dt.date) -> None:
    """Excel with fixed document properties (xlsxwriter otherwise stamps the current time)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False})
    wb.set_properties({"created": dt.datetime(created.year, created.month, created.day)})
    ws = wb.add_worksheet("Plans")
    for c, name in enumerate(df.columns):
        ws.write_string(0, c, name)
    for r, row in enumerate(df.iter_rows(), start=1):  # xlsxwriter writes cell by cell
        for c, v in enumerate(row):
            if isinstance(v, str):
                ws.write_string(r, c, v)
            else:
                ws.write_number(r, c, v)
    wb.close()


def _write_whole(df: pl.DataFrame, path: Path, ext: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sink = Sink(path, ext)
    sink.write(df)
    sink.close()


# ---- events ---------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class MonthSpec:
    path: str
    fmt: str  # csv | csv.gz | parquet | ndjson
    columns: tuple[str, str, str, str]  # id, time, type, amount
    time: str  # iso | iso_offset | us | epoch_ms | typed
    title_types: bool


def month_specs(model: DemoModel, fmt: str) -> list[MonthSpec]:
    first = model.as_of.replace(day=1) - dt.timedelta(days=model.history_days + 31)
    first = first.replace(day=1)
    months = []
    y, mth = first.year, first.month
    while (y, mth) <= (model.as_of.year, model.as_of.month):
        months.append((y, mth))
        y, mth = (y + 1, 1) if mth == 12 else (y, mth + 1)
    a = ("cust_id", "timestamp", "event", "amount")
    b = ("Customer ID", "Event Time", "Event Type", "Amount")
    cycle = ("csv", "csv.gz", "parquet", "csv.gz", "ndjson", "parquet") if fmt == "mixed" else (fmt,)
    specs = []
    for i, (yy, mm) in enumerate(months):
        f = cycle[i % len(cycle)]
        if f == "parquet":
            time = "typed"
        elif i == len(months) - 2:
            time = "epoch_ms"  # one file of epoch milliseconds
        elif f == "csv" and i % 3 == 0:
            time = "us"  # MM/DD/YYYY HH:MM:SS
        elif f in ("csv.gz", "ndjson") or i % 3 == 1:
            time = "iso_offset"
        else:
            time = "iso"
        specs.append(MonthSpec(f"events/{yy}/events_{yy}_{mm:02d}.{f}", f, a if i % 2 == 0 else b, time, i % 3 == 1))
    return specs


def month_index(model: DemoModel, ts: np.ndarray) -> np.ndarray:
    specs_first = model.as_of.replace(day=1) - dt.timedelta(days=model.history_days + 31)
    y0, m0 = specs_first.year, specs_first.month
    months = ts.astype("datetime64[s]").astype("datetime64[M]").astype(np.int64)  # months since 1970-01
    return months - ((y0 - 1970) * 12 + (m0 - 1))


class EventWriter:
    """Receives event chunks and routes them to the clean file or the messy monthly files."""

    def __init__(self, ctx: Context, messy: bool, ext: str) -> None:
        self.ctx, self.messy = ctx, messy
        self.names = (*ctx.model.events, CANCEL)
        self.title = tuple(n.replace("_", " ").title() for n in self.names)
        self.written = 0
        self.by_type: Counter[str] = Counter()
        self.sinks: dict[str, Sink] = {}
        self.order_no = 100_000
        self.sample_orders: pl.DataFrame | None = None
        self.sample_month: tuple[MonthSpec, pl.DataFrame] | None = None
        if messy:
            self.specs = month_specs(ctx.model, ext)
            self.orders = Sink(ctx.out / "shop/orders.csv", "csv")
        else:
            self.clean = Sink(ctx.out / f"events.{ext}", ext)
            ctx.files[f"events.{ext}"] = "events"

    def write(self, ev: EventChunk) -> None:
        self.written += len(ev)
        self.by_type.update(dict(zip(*np.unique(ev.etype, return_counts=True), strict=True)))
        if not self.messy:
            self.clean.write(
                pl.DataFrame(
                    {"customer_id": self.ctx.ids[pl.Series(ev.cust)], "event_time": _dt(ev.ts),
                     "event_type": _label(self.names, ev.etype), "amount": pl.Series(ev.amount).fill_nan(None)}
                )  # fmt: skip
            )
            return
        is_order = ev.etype == self.names.index("order")
        self._orders(ev.cust[is_order], ev.ts[is_order], ev.amount[is_order])
        keep = ~is_order
        cust, etype, ts, amount = ev.cust[keep], ev.etype[keep], ev.ts[keep], ev.amount[keep]
        month = month_index(self.ctx.model, ts)
        order = np.argsort(month, kind="stable")
        cust, etype, ts, amount, month = cust[order], etype[order], ts[order], amount[order], month[order]
        bounds = np.searchsorted(month, np.arange(len(self.specs) + 1))
        for i, spec in enumerate(self.specs):
            lo, hi = bounds[i], bounds[i + 1]
            if hi > lo:
                df = self._month_frame(spec, cust[lo:hi], etype[lo:hi], ts[lo:hi], amount[lo:hi])
                self._sink(spec).write(df)
                if self.sample_month is None and spec.fmt == "csv" and df.height >= 10:
                    self.sample_month = (spec, df.head(10))

    def _sink(self, spec: MonthSpec) -> Sink:
        if spec.path not in self.sinks:
            self.sinks[spec.path] = Sink(self.ctx.out / spec.path, spec.fmt)
            self.ctx.files[spec.path] = "events"
        return self.sinks[spec.path]

    def _month_frame(self, spec: MonthSpec, cust: np.ndarray, etype: np.ndarray, ts: np.ndarray,
                     amount: np.ndarray) -> pl.DataFrame:
        ids = self.ctx.ids[pl.Series(cust)]
        c_id, c_time, c_type, c_amt = spec.columns
        if spec.time == "typed":
            time = _dt(ts)
        elif spec.time == "epoch_ms":
            time = pl.Series(ts * 1000)
        elif spec.time == "us":
            time = _dt(ts).dt.strftime("%m/%d/%Y %H:%M:%S")
        elif spec.time == "iso_offset":
            pick = (cust + ts) % len(OFFSETS)  # deterministic, varied per row
            off = np.array([o[0] for o in OFFSETS])[pick]
            label = np.array([o[1] for o in OFFSETS])[pick]
            time = _dt(ts + off).dt.strftime("%Y-%m-%dT%H:%M:%S") + pl.Series(label)
        else:
            time = _dt(ts).dt.strftime("%Y-%m-%d %H:%M:%S")
        types = _label(self.title if spec.title_types else self.names, etype)
        return pl.DataFrame({c_id: ids, c_time: time, c_type: types, c_amt: pl.Series(amount).fill_nan(None)})

    def _orders(self, cust: np.ndarray, ts: np.ndarray, amount: np.ndarray) -> None:
        n = cust.size
        df = pl.DataFrame(
            {"Order ID": pl.Series(np.arange(self.order_no, self.order_no + n)).cast(pl.String).str.replace(r"^", "SO-"),
             "Customer Number": self.ctx.ids[pl.Series(cust)], "Order Date": _date(ts // DAY_S).dt.strftime("%Y-%m-%d"),
             "Order Value": pl.Series(amount)}
        )  # fmt: skip
        self.order_no += n
        self.orders.write(df)
        if self.sample_orders is None and n >= 10:
            self.sample_orders = df.head(10)

    def close(self) -> None:
        if self.messy:
            self._plant_invalid()
            for s in self.sinks.values():
                s.close()
            self.orders.close()
            self.ctx.files["shop/orders.csv"] = "events"
        else:
            self.clean.close()

    def _plant_invalid(self) -> None:
        ctx = self.ctx
        name = "shop/orders.csv"
        rows = []
        n_ids = ctx.ids.len()
        for i in range(ctx.planted(3)):
            rows.append((f"SO-X{i:04d}", ctx.ids[int(ctx.rng.integers(0, n_ids))], BAD_DATES[i % len(BAD_DATES)], 12.5))
            ctx.rejects.add(name, "bad_date")
        for i in range(ctx.planted(3)):
            rows.append((f"SO-U{i:04d}", str(900_000_000 + i), "2025-01-15", 20.0))
            ctx.rejects.add(name, "unknown_customer")
        for i in range(ctx.planted(1)):
            rows.append((f"SO-M{i:04d}", None, "2025-01-16", 9.0))
            ctx.rejects.add(name, "missing_id")
        if self.sample_orders is not None:
            k = min(ctx.planted(2), self.sample_orders.height)
            rows.extend(self.sample_orders.head(k).rows())
            ctx.rejects.add(name, "duplicate_row", k)
        schema = {"Order ID": pl.String, "Customer Number": pl.String, "Order Date": pl.String, "Order Value": pl.Float64}
        self.orders.write(pl.DataFrame(rows, schema=schema, orient="row"))
        if self.sample_month is not None:
            spec, sample = self.sample_month
            k = min(ctx.planted(3), sample.height)
            self.sinks[spec.path].write(sample.head(k))
            ctx.rejects.add(spec.path, "duplicate_row", k)


# ---- surveys --------------------------------------------------------------------------------------


def clean_surveys(ctx: Context, s: pl.DataFrame) -> pl.DataFrame:
    return s.select(
        ctx.ids[pl.Series(s["cust"])].alias("customer_id"),
        _date(s["day"].to_numpy()).alias("survey_date"),
        "score", "reason_code", "reason_text", "competitor",
    )  # fmt: skip


def write_clean_surveys(ctx: Context, s: pl.DataFrame, ext: str) -> None:
    path = ctx.out / f"surveys.{ext}"
    _write_whole(clean_surveys(ctx, s), path, ext)
    ctx.files[ctx.rel(path)] = "surveys"


def write_messy_surveys(ctx: Context, s: pl.DataFrame) -> None:
    ids, rng = ctx.ids, ctx.rng
    nps = s.filter(pl.col("kind") == "nps")
    df = nps.select(
        ids[pl.Series(nps["cust"])].alias("Customer ID"),
        _date(nps["day"].to_numpy()).dt.strftime("%Y-%m-%d").alias("Response Date"),
        pl.col("score").alias("NPS"),
    )
    _write_whole(df, ctx.out / "surveys/nps_responses.csv", "csv")
    ctx.files["surveys/nps_responses.csv"] = "surveys"

    ex = s.filter(pl.col("kind") == "exit_text")
    mail = ctx.email[pl.Series(ex["cust"])]
    style = rng.integers(0, 5, ex.height)
    mail = (
        pl.DataFrame({"m": mail, "s": style})
        .select(
            pl.when(pl.col("s") == 1).then(pl.col("m").str.to_uppercase())
            .when(pl.col("s") == 2).then(pl.lit(" ") + pl.col("m") + pl.lit(" "))
            .when(pl.col("s") == 3).then(pl.col("m").str.to_titlecase())
            .otherwise(pl.col("m"))
        )
        .to_series()
    )  # fmt: skip
    df = pl.DataFrame(
        {"Response Date": _date(ex["day"].to_numpy()).dt.strftime("%Y-%m-%d"), "Email": mail,
         "Score": ex["score"], "Why did you leave?": ex["reason_text"]}
    )  # fmt: skip
    name = "surveys/exit_survey.csv"
    unknown = pl.DataFrame(
        [(ctx.model.as_of.isoformat(), f"someone.else{i}@unknown.example", 5, "just browsing") for i in range(ctx.planted(2))],
        schema=df.schema, orient="row",
    )
    ctx.rejects.add(name, "unknown_customer", unknown.height)
    _write_whole(pl.concat([df, unknown]), ctx.out / name, "csv")
    ctx.files[name] = "surveys"

    cf = s.filter(pl.col("kind") == "cancel_code")
    records = [
        {"customer_id": c, "submitted_at": t, "reason_code": r}
        for c, t, r in zip(
            ids[pl.Series(cf["cust"])].to_list(),
            _dt(cf["ts"].to_numpy()).dt.strftime("%Y-%m-%dT%H:%M:%S").to_list(),
            cf["reason_code"].to_list(),
            strict=True,
        )
    ]
    name = "surveys/cancel_form.json"
    for i in range(ctx.planted(1)):
        records.append({"customer_id": str(800_000_000 + i), "submitted_at": f"{ctx.model.as_of.isoformat()}T09:00:00", "reason_code": "OTHER"})
        ctx.rejects.add(name, "unknown_customer")
    (ctx.out / name).write_text(json.dumps(records, indent=1) + "\n", encoding="utf-8")
    ctx.files[name] = "surveys"


__all__ = ["EPOCH", "REJECT_CODES"]
