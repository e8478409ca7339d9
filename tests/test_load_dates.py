"""Issue 2: date forms decided per column, offsets to UTC, numeric dates, and the DD/MM vs MM/DD error."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from loadkit import load, report, write

from churnwhy.errors import DateFormatError

D = dt.datetime


def signups(tmp_path, values: list[str], header: str = "Signup Date", **settings) -> list:  # type: ignore[no-untyped-def]
    body = f"customer_id,{header}\n" + "".join(f"{i},{v}\n" for i, v in enumerate(values))
    ex = load(write(tmp_path, {"c.csv": body}), **settings)
    return ex.customers.sort("customer_id")["signup_date"].to_list()


def test_iso_dates_and_datetimes(tmp_path):
    got = signups(tmp_path, ["2024-01-05", "2024-02-29T13:45:00", "2024-03-01 08:00:00.250", "2024-03-02T07:05"])
    assert got == [D(2024, 1, 5), D(2024, 2, 29, 13, 45), D(2024, 3, 1, 8, 0, 0, 250_000), D(2024, 3, 2, 7, 5)]


def test_offsets_are_converted_to_utc(tmp_path):
    got = signups(tmp_path, ["2024-01-05T10:00:00+02:00", "2024-01-05T23:30:00-05:00", "2024-01-06T01:00:00Z"])
    assert got == [D(2024, 1, 5, 8), D(2024, 1, 6, 4, 30), D(2024, 1, 6, 1)]


def test_day_first_decided_by_a_day_over_12(tmp_path):
    assert signups(tmp_path, ["05/01/2024", "25/12/2023", "01/02/2024"]) == [D(2024, 1, 5), D(2023, 12, 25), D(2024, 2, 1)]


def test_month_first_decided_by_a_day_over_12(tmp_path):
    assert signups(tmp_path, ["05/01/2024", "12/25/2023", "01/02/2024"]) == [D(2024, 5, 1), D(2023, 12, 25), D(2024, 1, 2)]


def test_formats_decided_per_column(tmp_path):
    body = "customer_id,Signup Date,Churn Date\n1,25/12/2023,12/25/2024\n2,05/01/2024,\n3,01/02/2024,01/03/2025\n"
    ex = load(write(tmp_path, {"c.csv": body}))
    c = ex.customers.sort("customer_id")
    assert c["signup_date"].to_list() == [D(2023, 12, 25), D(2024, 1, 5), D(2024, 2, 1)]
    assert c["churn_date"].to_list() == [D(2024, 12, 25), None, D(2025, 1, 3)]
    f = report(ex, "c.csv")
    assert "%d/%m/%Y" in f.date_formats["Signup Date"] and "%m/%d/%Y" in f.date_formats["Churn Date"]


def test_ambiguous_day_month_is_an_error_naming_column_and_setting(tmp_path):
    with pytest.raises(DateFormatError) as err:
        signups(tmp_path, ["05/01/2024", "03/02/2024"])
    assert "'Signup Date'" in err.value.message and "c.csv" in err.value.message
    assert "[dates.columns]" in err.value.hint and '"Signup Date" = "%d/%m/%Y"' in err.value.hint


def test_ambiguity_resolved_by_dates_columns_setting(tmp_path):
    got = signups(tmp_path, ["05/01/2024", "03/02/2024"], date_formats={"Signup Date": "%m/%d/%Y"})
    assert got == [D(2024, 5, 1), D(2024, 3, 2)]


def test_excel_serial_numbers(tmp_path):
    # 45292 is 2024-01-01 in Excel (and in LibreOffice, epoch 1899-12-30)
    assert signups(tmp_path, ["45296", "45352.5"]) == [D(2024, 1, 5), D(2024, 3, 1, 12)]


def test_epoch_seconds_and_milliseconds(tmp_path):
    sec = int(D(2024, 1, 5, 12, tzinfo=dt.timezone.utc).timestamp())
    assert signups(tmp_path / "s", [str(sec), str(sec + 86_400)]) == [D(2024, 1, 5, 12), D(2024, 1, 6, 12)]
    assert signups(tmp_path / "ms", [str(sec * 1000), str(sec * 1000 + 1)]) == [D(2024, 1, 5, 12), D(2024, 1, 5, 12, 0, 0, 1000)]


def test_excel_native_dates_in_xlsx(tmp_path):
    df = pl.DataFrame({"Customer ID": ["1", "2"], "Signup Date": [dt.date(2024, 1, 5), dt.date(2024, 2, 6)]})
    ex = load(write(tmp_path, {"customers.xlsx": df}))
    assert ex.customers.sort("customer_id")["signup_date"].to_list() == [D(2024, 1, 5), D(2024, 2, 6)]


def test_parquet_tz_aware_datetimes_become_naive_utc(tmp_path):
    ts = pl.Series([D(2024, 1, 5, 10), D(2024, 1, 6, 1)]).dt.replace_time_zone("Europe/Berlin")
    ex = load(write(tmp_path, {"c.parquet": pl.DataFrame({"customer_id": ["1", "2"], "signup_date": ts})}))
    assert ex.customers.sort("customer_id")["signup_date"].to_list() == [D(2024, 1, 5, 9), D(2024, 1, 6, 0)]


def test_unreadable_date_value_is_a_reject_not_a_guess(tmp_path):
    body = "customer_id,signup_date\n1,2024-01-05\n2,not a date\n3,2024-13-45\n"
    ex = load(write(tmp_path, {"c.csv": body}))
    assert ex.customers["customer_id"].to_list() == ["1"]
    bad = ex.rejects.filter(pl.col("reason") == "bad_date")
    assert bad["row"].to_list() == [2, 3] and bad["value"].to_list() == ["not a date", "2024-13-45"]


@pytest.mark.parametrize(
    ("values", "expected"),
    [(["25/01/24", "05/02/24"], [D(2024, 1, 25), D(2024, 2, 5)]),
     (["01/25/24", "05/02/24"], [D(2024, 1, 25), D(2024, 5, 2)]),
     (["25.01.2024", "05.02.2024"], [D(2024, 1, 25), D(2024, 2, 5)])],
)
def test_two_digit_years_are_not_read_as_year_24(tmp_path, values, expected):
    assert signups(tmp_path, values) == expected


def test_mixed_iso_and_day_first_in_one_column(tmp_path):
    assert signups(tmp_path, ["2024-01-25", "26/01/2024", "2024-01-27T08:00:00"]) == [
        D(2024, 1, 25), D(2024, 1, 26), D(2024, 1, 27, 8)]


def test_values_off_the_format_shape_are_rejected_among_good_ones(tmp_path):
    # The column is parsed once for all rows: a few values chrono would accept but that are not written in the
    # detected format (one-digit minutes, a sign, a space inside) are still rejects, named by row and column.
    good = [f"2024-01-{d:02d}T10:{d:02d}:00.000000" for d in range(1, 21)]
    odd = {21: "2024-01-05T10:5:00.000000", 22: "+2024-01-05T10:05:00.000000", 23: "2024-01- 5T10:05:00.000000"}
    values = good + list(odd.values()) + ["2024-02-01T10:00:00", "2024-02-02T10:00:00.5"]
    events = "customer_id,event_type,Event Time\n" + "".join(f"1,login,{v}\n" for v in values)
    ex = load(write(tmp_path, {"customers.csv": "customer_id,signup_date\n1,2024-01-01\n", "events.csv": events}))
    bad = ex.rejects.filter(pl.col("reason") == "bad_date").sort("row")
    assert bad["row"].to_list() == list(odd) and bad["value"].to_list() == list(odd.values())
    assert set(bad["column"]) == {"Event Time"} and set(bad["source"]) == {"events.csv"}
    times = ex.events.sort("event_time")["event_time"].to_list()
    assert len(times) == 22 and times[0] == D(2024, 1, 1, 10, 1)
    assert times[-2:] == [D(2024, 2, 1, 10), D(2024, 2, 2, 10, 0, 0, 500000)]
    assert report(ex, "events.csv").rejected == {"bad_date": 3}


def test_trailing_z_on_a_column_without_offsets_is_a_reject(tmp_path):
    # Past the rows the format is decided from, a 'Z' on a plain date is not read as UTC (no %z format).
    n = 20_000
    body = "customer_id,signup_date\n" + "".join(f"{i},2024-01-05\n" for i in range(n)) + f"{n},2024-01-06Z\n"
    ex = load(write(tmp_path, {"c.csv": body}))
    assert report(ex, "c.csv").date_formats == {"signup_date": "%Y-%m-%d"}
    assert ex.rejects.select("row", "reason", "value").rows() == [(n + 1, "bad_date", "2024-01-06Z")]


def test_fractions_of_any_length_read_alike(tmp_path):
    # Most values are read with a fixed-width fraction (.%6f here), the others with %.f itself.
    values = [f"2024-01-{d:02d}T10:00:00.{d:06d}" for d in range(1, 20)] + [
        "2024-02-01T10:00:00", "2024-02-02T10:00:00.5", "2024-02-03T10:00:00.123", "2024-02-04T10:00:00.123456789",
        "1969-12-31T23:59:59.999999"]
    events = "customer_id,event_type,event_time\n" + "".join(f"1,login,{v}\n" for v in values)
    ex = load(write(tmp_path, {"customers.csv": "customer_id,signup_date\n1,2024-01-01\n", "events.csv": events}))
    assert report(ex, "events.csv").date_formats == {"event_time": "%Y-%m-%dT%H:%M:%S%.f"}
    assert ex.rejects.height == 0
    times = ex.events["event_time"].to_list()
    assert times[:2] == [D(2024, 1, 1, 10, 0, 0, 1), D(2024, 1, 2, 10, 0, 0, 2)]
    assert times[19:] == [D(2024, 2, 1, 10), D(2024, 2, 2, 10, 0, 0, 500000), D(2024, 2, 3, 10, 0, 0, 123000),
                          D(2024, 2, 4, 10, 0, 0, 123456), D(1969, 12, 31, 23, 59, 59, 999999)]
