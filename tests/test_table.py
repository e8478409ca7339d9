"""Issue 2: the customer table: churn rules in order, as_of, derived customers, and no leakage after churn."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from loadkit import row, table, write

from churnwhy.config import Config
from churnwhy.load import load_exports
from churnwhy.table import CHURN_SOURCES, build_customer_table

D = dt.date

CUSTOMERS = (
    "customer_id,signup_date,churn_date,plan\n"
    "A,2024-01-01,2024-03-01,basic\n"
    "B,2024-01-15,,pro\n"
    "C,2024-02-01,2024-05-10,basic\n"
    "D,2024-02-01,,pro\n"
)
EVENTS = (
    "customer_id,event_type,event_time,amount\n"
    "A,login,2024-01-10,\nA,login,2024-02-20,\nA,purchase,2024-02-25,30\n"
    "B,login,2024-03-01,\nB,purchase,2024-05-01,10\nB,login,2024-06-01,\n"
    "C,login,2024-04-01,\nC,support_ticket,2024-05-01,\n"
    "D,login,2024-06-30,\n"
)


def test_explicit_churn_date(tmp_path):
    t = table(write(tmp_path, {"customers.csv": CUSTOMERS}))
    assert t.as_of == D(2024, 5, 10)  # the latest date in the data
    a = row(t, "A")
    assert (a["churned"], a["churn_source"], a["end_date"], a["tenure_days"]) == (True, "explicit_date", D(2024, 3, 1), 60)
    b = row(t, "B")
    assert (b["churned"], b["churn_source"], b["end_date"], b["tenure_days"]) == (False, "active", D(2024, 5, 10), 116)
    assert set(t.frame["churn_source"]) <= set(CHURN_SOURCES)
    assert t.frame["customer_id"].to_list() == ["A", "B", "C", "D"]
    assert t.segments == ("plan",)


def test_as_of_default_is_latest_date_in_data_and_override(tmp_path):
    write(tmp_path, {"customers.csv": CUSTOMERS, "events.csv": EVENTS})
    assert table(tmp_path).as_of == D(2024, 6, 30)
    t = table(tmp_path, as_of=D(2024, 4, 1))
    assert t.as_of == D(2024, 4, 1)
    # C churns after the override: active on as_of, observed until it
    c = row(t, "C")
    assert (c["churned"], c["end_date"]) == (False, D(2024, 4, 1))
    # no customer's window reaches past as_of
    assert t.frame["end_date"].max() <= D(2024, 4, 1)


def test_as_of_override_excludes_later_signups_and_events(tmp_path):
    write(tmp_path, {"customers.csv": CUSTOMERS, "events.csv": EVENTS})
    t = table(tmp_path, as_of=D(2024, 1, 20), inactivity_days=0)
    assert t.frame["customer_id"].to_list() == ["A", "B"]
    assert row(t, "A")["n_login"] == 1 and row(t, "B")["n_login"] == 0


def test_flag_with_tenure_in_months(tmp_path):
    body = "Customer ID,Tenure in Months,Churn Label,Contract\n1,3,Yes,Monthly\n2,24,No,Annual\n3,1,Y,Monthly\n"
    t = table(write(tmp_path, {"telco.csv": body}), as_of=D(2024, 12, 31))
    one, two = row(t, "1"), row(t, "2")
    assert (one["churned"], one["churn_source"], one["tenure_days"]) == (True, "flag_tenure", 91)
    assert (two["churned"], two["churn_source"], two["tenure_days"]) == (False, "active", 730)
    assert t.n_churned == 2


def test_flag_with_tenure_and_no_dates_needs_no_as_of(tmp_path):
    """The usual CRM shape (flag + tenure, no dates) is analysable as is; as_of stays unknown, never today."""
    write(tmp_path, {"telco.csv": "Customer ID,tenure,Churn\n1,3,Yes\n2,30,No\n"})
    t = table(tmp_path)
    assert t.as_of is None
    assert (t.tenure_unit, t.tenure_unit_reason) == ("months", "from its values 3 to 30")
    assert (row(t, "1")["churned"], row(t, "1")["tenure_days"]) == (True, 91)
    assert (row(t, "2")["churned"], row(t, "2")["tenure_days"]) == (False, 913)


@pytest.mark.parametrize(("name", "values", "config", "unit", "days"), [
    ("Tenure", (0, 4, 10), {}, "years", 1461),  # whole years 0-10 (a bank's snapshot)
    ("Tenure", (1, 4, 61), {}, "months", 122),
    ("Account length", (1, 4, 243), {}, "days", 4),
    ("Months_on_book", (13, 4, 56), {}, "months", 122),  # the name says months even for small values
    ("tenure_years", (1, 4, 30), {}, "years", 1461),
    ("Tenure", (0, 4, 10), {"tenure_unit": "months"}, "months", 122),  # the setting wins
])
def test_tenure_unit_from_name_and_values(tmp_path, name, values, config, unit, days):
    rows = "".join(f"{i},{v},{'Yes' if i == 1 else 'No'}\n" for i, v in enumerate(values))
    write(tmp_path, {"crm.csv": f"Customer ID,{name},Churn\n{rows}"})
    t = build_customer_table(load_exports(tmp_path), Config(**config))
    assert t.tenure_unit == unit
    assert row(t, "1")["tenure_days"] == days


def test_tenure_and_flag_with_blank_tenures_keeps_every_customer(tmp_path):
    """Customers with a blank tenure are counted (and churned) but have no tenure: survival leaves them out."""
    write(tmp_path, {"crm.csv": "Customer ID,Tenure,Churn\n1,3,1\n2,,1\n3,30,0\n"})
    t = table(tmp_path)
    assert (t.as_of, t.n_customers, t.n_churned) == (None, 3, 2)
    assert row(t, "2")["tenure_days"] is None


def test_no_dates_and_no_tenure_needs_as_of(tmp_path):
    from churnwhy.errors import InputError

    write(tmp_path, {"customers.csv": "Customer ID,Churn\n1,Yes\n"})
    with pytest.raises(InputError, match="as-of"):
        table(tmp_path)


def test_cancellation_event(tmp_path):
    events = EVENTS + "B,Cancel Subscription,2024-05-15,\n"
    customers = CUSTOMERS.replace("C,2024-02-01,2024-05-10", "C,2024-02-01,")
    t = table(write(tmp_path, {"customers.csv": customers, "events.csv": events}))
    b = row(t, "B")
    assert (b["churned"], b["churn_source"], b["end_date"]) == (True, "cancel_event", D(2024, 5, 15))
    assert "n_cancel_subscription" not in t.frame.columns


def test_inactivity(tmp_path):
    customers = CUSTOMERS.replace("C,2024-02-01,2024-05-10", "C,2024-02-01,")
    t = table(write(tmp_path, {"customers.csv": customers, "events.csv": EVENTS}), inactivity_days=45)
    assert t.as_of == D(2024, 6, 30)
    c = row(t, "C")  # last event 2024-05-01: 60 days before as_of
    assert (c["churned"], c["churn_source"], c["end_date"]) == (True, "inactivity", D(2024, 5, 1))
    b = row(t, "B")  # last event 2024-06-01: 29 days
    assert (b["churned"], b["churn_source"]) == (False, "active")
    assert row(table(tmp_path, inactivity_days=0), "C")["churned"] is False


def test_rules_apply_in_order(tmp_path):
    customers = "customer_id,signup_date,churn_date\nX,2024-01-01,2024-02-01\nY,2024-01-01,\n"
    events = "customer_id,event_type,event_time\nX,cancel,2024-03-01\nY,cancel,2024-03-01\nY,login,2024-01-02\n"
    t = table(write(tmp_path, {"customers.csv": customers, "events.csv": events}), inactivity_days=10)
    assert row(t, "X")["churn_source"] == "explicit_date" and row(t, "X")["end_date"] == D(2024, 2, 1)
    assert row(t, "Y")["churn_source"] == "cancel_event" and row(t, "Y")["end_date"] == D(2024, 3, 1)


def test_customers_derived_from_events(tmp_path):
    t = table(write(tmp_path, {"events.csv": EVENTS}), inactivity_days=45)
    assert t.frame["customer_id"].to_list() == ["A", "B", "C", "D"]
    assert row(t, "A")["start_date"] == D(2024, 1, 10)  # the first event
    a = row(t, "A")
    assert (a["churned"], a["churn_source"], a["end_date"]) == (True, "inactivity", D(2024, 2, 25))


def test_surveys_before_end_and_stated_reasons(tmp_path):
    customers = "customer_id,signup_date,churn_date,email\nA,2024-01-01,2024-03-01,a@x.com\nB,2024-01-01,,b@x.com\n"
    surveys = ("Email,Survey Date,NPS,Churn Reason\n"
               "A@X.com,2024-02-01,4,\nA@X.com,2024-03-05,0,too expensive\nb@x.com,2024-02-01,9,\n")
    t = table(write(tmp_path, {"customers.csv": customers, "exit_survey.csv": surveys}))
    a = row(t, "A")
    assert (a["last_score"], a["reason_text"], a["surveyed"]) == (4.0, "too expensive", True)
    assert t.frame["score_scale"].unique().to_list() == ["nps"]


CONTRACT = {
    "customer_id": pl.String, "start_date": pl.Date, "end_date": pl.Date, "tenure_days": pl.Int64,
    "churned": pl.Boolean, "churn_source": pl.String, "last_score": pl.Float64, "score_scale": pl.String,
    "reason_code": pl.String, "reason_text": pl.String, "competitor": pl.String, "surveyed": pl.Boolean,
    "exposure_days": pl.Int64, "amount_window": pl.Float64, "amount_total": pl.Float64,
    "days_since_last_event": pl.Float64, "activity_change": pl.Float64,
}


@pytest.mark.parametrize("with_events", [True, False])
def test_column_contract(tmp_path, with_events):
    files = {"customers.csv": CUSTOMERS} | ({"events.csv": EVENTS} if with_events else {})
    t = table(write(tmp_path, files))
    schema = t.frame.schema
    for name, dtype in CONTRACT.items():
        assert schema[name] == dtype, name
    for ty in t.event_types:
        assert schema[f"n_{ty}"] == pl.Int64 and schema[f"rate_{ty}"] == pl.Float64
    assert (t.frame["tenure_days"] >= 0).all() and (t.frame["exposure_days"] >= 1).all()


def _after_churn(events: str, customers: str) -> str:
    """Events for every customer dated after that customer's churn date (or after as_of for actives)."""
    churn = {line.split(",")[0]: line.split(",")[2] for line in customers.strip().splitlines()[1:]}
    extra = []
    for cid, end in churn.items():
        day = (dt.date.fromisoformat(end) if end else D(2024, 6, 30)) + dt.timedelta(days=1)
        extra += [f"{cid},login,{day},", f"{cid},purchase,{day + dt.timedelta(days=3)},999",
                  f"{cid},support_ticket,{day},"]
    return events + "\n".join(extra) + "\n"


def test_no_leakage_events_after_churn_never_count(tmp_path):
    base = table(write(tmp_path / "base", {"customers.csv": CUSTOMERS, "events.csv": EVENTS}), as_of=D(2024, 6, 30))
    leaky = table(write(tmp_path / "leaky", {"customers.csv": CUSTOMERS,
                                             "events.csv": _after_churn(EVENTS, CUSTOMERS)}), as_of=D(2024, 6, 30))
    churned = base.frame.filter(pl.col("churned"))["customer_id"]
    assert churned.to_list() == ["A", "C"]
    cols = ["customer_id", "end_date", "tenure_days", "churned", "churn_source", *base.features, "amount_total",
            *[f"n_{t}" for t in base.event_types]]
    assert base.event_types == leaky.event_types
    assert base.frame.select(cols).equals(leaky.frame.select(cols))


def test_no_leakage_same_day_as_churn_is_excluded(tmp_path):
    customers = "customer_id,signup_date,churn_date\nA,2024-01-01,2024-03-01\n"
    events = "customer_id,event_type,event_time\nA,login,2024-02-28\nA,login,2024-03-01T10:00:00\n"
    t = table(write(tmp_path, {"customers.csv": customers, "events.csv": events}), as_of=D(2024, 6, 1))
    assert row(t, "A")["n_login"] == 1


def test_same_input_gives_the_same_table(tmp_path):
    """Money is summed in whole cents, so parallel aggregation order cannot change a bit of the table."""
    from churnwhy.demo import generate
    from churnwhy.pipeline import load_table

    generate(tmp_path / "d", customers=1500, seed=4, format="parquet", messy=False)
    frames = [load_table(tmp_path / "d").table.frame for _ in range(3)]
    assert all(frames[0].equals(f) for f in frames[1:])


def test_behaviour_sums_do_not_depend_on_how_events_are_sliced(tmp_path, monkeypatch):
    """Events are summed in slices on worker_count() threads: slice edges (here every 7 events) and the number of
    threads (1, 3: the machine decides) change nothing, and the features match a plain Polars group-by written
    independently."""
    import churnwhy.table as T
    from churnwhy.demo import generate
    from churnwhy.pipeline import load_table

    generate(tmp_path / "d", customers=300, seed=2, format="parquet", messy=False)
    whole = load_table(tmp_path / "d").table
    monkeypatch.setattr(T, "BEHAVIOUR_CHUNK", 7)
    for workers in (1, 3):
        monkeypatch.setattr(T, "worker_count", lambda workers=workers: workers)
        sliced = load_table(tmp_path / "d").table.frame
        assert whole.frame.equals(sliced), workers

    ev = pl.read_parquet(tmp_path / "d" / "events.parquet").join(
        whole.frame.select("customer_id", "start_date", "end_date"), on="customer_id")
    day = pl.col("event_time").dt.date()
    win = day >= pl.col("end_date") - pl.duration(days=whole.lookback_days)
    ref = (ev.filter((day < pl.col("end_date")) & (day >= pl.col("start_date")))
           .group_by("customer_id").agg((win & (pl.col("event_type") == "login")).sum().alias("ref_login"),
                                        pl.col("amount").filter(win).sum().alias("ref_amount")))
    got = whole.frame.join(ref, on="customer_id", how="left").with_columns(pl.col("ref_login", "ref_amount").fill_null(0))
    assert (got["n_login"] == got["ref_login"]).all()
    assert ((got["amount_window"] - got["ref_amount"]).abs() < 1e-6).all()
    assert got["n_login"].sum() > 100


def test_rows_come_out_sorted_by_id_whatever_the_file_order(tmp_path):
    """The table skips its sort when the customers file is already in id order; an unsorted file is sorted."""
    customers = "customer_id,signup_date,churn_date\nC,2024-01-01,\nA,2024-01-01,2024-03-01\nB,2024-01-02,\n"
    events = "customer_id,event_type,event_time\nB,login,2024-05-01\nC,login,2024-05-02\nC,login,2024-05-03\n"
    t = table(write(tmp_path, {"customers.csv": customers, "events.csv": events}), as_of=D(2024, 6, 1))
    assert t.frame["customer_id"].to_list() == ["A", "B", "C"]
    assert t.frame["n_login"].to_list() == [0, 1, 2]
    assert t.frame["churned"].to_list() == [True, False, False]
