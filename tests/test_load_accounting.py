"""Issue 2: every input row is loaded or rejected with a reason; the rejects file holds exactly the rejected rows."""

from __future__ import annotations

import polars as pl
from loadkit import load, report, write

from churnwhy.load import REJECT_REASONS

BROKEN = {
    "customers.csv": (
        "Customer ID,Signup Date,Churn Date,Tenure\n"
        "001,2024-01-01,,3\n"
        ",2024-01-02,,4\n"                 # 2 missing_id
        "003,yesterday,,5\n"               # 3 bad_date
        "001,2024-01-05,,6\n"              # 4 duplicate_customer
        "005,2024-03-01,2024-02-01,7\n"    # 5 end_before_start
        "006,2024-01-06,,seven\n"          # 6 bad_number
        "007,2024-01-07,2024-04-01,\n"
    ),
    "crm/extra.csv": "customerID;Region\n001;North\n007;South\n999;East\n;West\n",  # 4 missing_id
    "events.csv": (
        "customer_id,event_type,event_time,amount\n"
        "001,login,2024-02-01,\n"
        "001,login,2024-02-01,\n"          # 2 duplicate_row
        "007,login,,\n"                    # 3 missing_date
        "007,login,31/31/2024,\n"          # 4 bad_date
        "007,purchase,2024-02-03,ten\n"    # 5 bad_number
        "404,login,2024-02-04,\n"          # 6 unknown_customer
        ",login,2024-02-05,\n"             # 7 missing_id
        "005,login,2024-02-06,\n"          # 8 unknown_customer (customer 005 rejected)
        "007,purchase,2024-02-07,\"1,5\"\n"
    ),
    "orders.jsonl": (
        '{"Order ID": "o1", "Customer ID": "001", "Order Date": "2024-02-10", "Total": 5}\n'
        '{"Order ID": "o2", "Customer ID": null, "Order Date": "2024-02-11", "Total": 6}\n'
        '{"Order ID": "o3", "Customer ID": "007", "Order Date": "2024-02-12", "Total": 7}\n'
    ),
    "nps_survey.csv": "Customer ID,NPS,Comment\n001,9,great\n007,,\n888,3,bad\n",  # 2 empty, 3 unknown
    "notes.md": "# not an export\n",
    "regions.csv": "Region,Manager\nNorth,Ann\n",
}
EXPECTED = {
    "customers.csv": {"missing_id": [2], "bad_date": [3], "duplicate_customer": [4], "end_before_start": [5],
                      "bad_number": [6]},
    "crm/extra.csv": {"missing_id": [4]},
    "events.csv": {"duplicate_row": [2], "missing_date": [3], "bad_date": [4], "bad_number": [5],
                   "unknown_customer": [6, 8], "missing_id": [7]},
    "orders.jsonl": {"missing_id": [2]},
    "nps_survey.csv": {"empty_response": [2], "unknown_customer": [3]},
}


def test_every_row_is_loaded_or_rejected_with_a_reason(tmp_path):
    ex = load(write(tmp_path, BROKEN))
    assert sorted(f.name for f in ex.files) == sorted(EXPECTED)
    assert dict(ex.skipped).keys() == {"notes.md"}
    assert [lk["name"] for lk in ex.lookups] == ["regions.csv"]  # a lookup: joined through Region, no rows counted
    for f in ex.files:
        assert f.rows_read == f.rows_loaded + sum(f.rejected.values()), f.name
        want = EXPECTED[f.name]
        assert f.rejected == {r: len(rows) for r, rows in want.items()}, f.name
        got = ex.rejects.filter(pl.col("source") == f.name)
        assert {r: sorted(g["row"]) for (r,), g in got.group_by("reason")} == want, f.name
    assert set(ex.rejects["reason"]) <= set(REJECT_REASONS)
    assert ex.rows_read == ex.rows_loaded + ex.rejects.height
    assert ex.rejects.select("source", "row").is_duplicated().sum() == 0


def test_loaded_rows_are_the_ones_counted(tmp_path):
    ex = load(write(tmp_path, BROKEN))
    # 999 is only in crm/extra.csv: a customer with attributes but no signup date
    assert sorted(ex.customers["customer_id"]) == ["001", "007", "999"]
    events = ex.events
    assert events.height == report(ex, "events.csv").rows_loaded + report(ex, "orders.jsonl").rows_loaded
    assert sorted(events.filter(pl.col("__source") == "events.csv")["amount"].drop_nulls()) == [1.5]
    assert ex.surveys.height == report(ex, "nps_survey.csv").rows_loaded == 1


def test_reject_values_name_the_offending_cell(tmp_path):
    ex = load(write(tmp_path, BROKEN))
    r = {(s, n): (c, v) for s, n, _, c, v in ex.rejects.iter_rows()}
    assert r[("customers.csv", 3)] == ("Signup Date", "yesterday")
    assert r[("customers.csv", 6)] == ("Tenure", "seven")
    assert r[("events.csv", 4)] == ("event_time", "31/31/2024")
    assert r[("events.csv", 6)][1] == "404"


def test_excel_sheets_are_accounted_separately(tmp_path):
    import xlsxwriter

    path = tmp_path / "crm.xlsx"
    wb = xlsxwriter.Workbook(path)
    for sheet, rows in {"customers": [["Customer ID", "Signup Date"], ["1", "2024-01-01"], ["", "2024-01-02"]],
                        "events": [["Customer ID", "Event Type", "Event Date"], ["1", "login", "2024-02-01"]],
                        "blank": []}.items():
        ws = wb.add_worksheet(sheet)
        for i, values in enumerate(rows):
            ws.write_row(i, 0, values)
    wb.close()
    ex = load(tmp_path)
    assert {f.name: (f.role, f.rows_read, f.rows_loaded) for f in ex.files} == {
        "crm.xlsx#customers": ("customers", 2, 1), "crm.xlsx#events": ("events", 1, 1)}
    assert "crm.xlsx#blank" in dict(ex.skipped)


def test_rows_are_counted_by_the_pass_that_reads_them(tmp_path):
    # Blank lines and quoted line breaks, several events files, one of them with a header only.
    files = {
        "customers.csv": 'customer_id,signup_date,note\n 1 ,2024-01-01,"two\nlines"\n\n2,2024-01-02,\n',
        "events_1.csv": "customer_id,event_type,event_time\n 1 , Login ,2024-02-01\n2,login,2024-02-02\n\n",
        "events_2.csv": "customer_id,event_type,event_time\n",
        "events_3.csv": "customer_id,event_type,event_time\n2,Order,2024-02-03\n3,order,2024-02-04\n",
    }
    ex = load(write(tmp_path, files))
    counts = {f.name: (f.rows_read, f.rows_loaded, f.rejected) for f in ex.files}
    assert counts == {
        "customers.csv": (3, 2, {"missing_id": 1}),
        "events_1.csv": (3, 2, {"missing_id": 1}),
        "events_2.csv": (0, 0, {}),
        "events_3.csv": (2, 1, {"unknown_customer": 1}),
    }
    # Cells are trimmed where they are read: ' 1 ' is customer 1, ' Login ' the login event.
    assert sorted(ex.customers["customer_id"]) == ["1", "2"]
    assert sorted(ex.events["event_type"]) == ["login", "login", "order"]


def test_numbers_plain_and_as_written(tmp_path):
    # Plain numbers are read by a cast; the rest (currency, separators, decimal commas) by the rules, and an
    # upper-case INF/NAN, which a cast would read, stays a bad number as before; so is 'inf' (issue 20: no
    # infinite amounts).
    amounts = ["12.5", "-3", "1e3", ".5", "$5", "1,5", "1.234,5", "EUR 7", "10%", "INF", "NAN", "inf", "ten"]
    body = "customer_id,event_type,event_time,amount\n" + "".join(
        f'1,order,2024-02-{i + 1:02d},"{a}"\n' for i, a in enumerate(amounts))
    ex = load(write(tmp_path, {"customers.csv": "customer_id,signup_date\n1,2024-01-01\n", "events.csv": body}))
    bad = ex.rejects.filter(pl.col("reason") == "bad_number")
    assert bad.select("row", "value").rows() == [(10, "INF"), (11, "NAN"), (12, "inf"), (13, "ten")]
    assert ex.events.sort("event_time")["amount"].to_list() == [12.5, -3.0, 1000.0, 0.5, 5.0, 1.5, 1234.5, 7.0,
                                                               10.0]
