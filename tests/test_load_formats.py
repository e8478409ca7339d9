"""Issue 2: every export format, encoding and delimiter reads to the same customers."""

from __future__ import annotations

import datetime as dt
import gzip
import json

import polars as pl
import pytest
from loadkit import load, report, write

from churnwhy.errors import InputError

HEADER = ["Customer ID", "Signup Date", "Plan"]
ROWS = [["0012", "2024-01-05", "basic"], ["0013", "2024-02-01", "pro"], ["0100", "2024-03-10", "basic"]]
EXPECTED = {"0012": dt.datetime(2024, 1, 5), "0013": dt.datetime(2024, 2, 1), "0100": dt.datetime(2024, 3, 10)}


def text(delimiter: str = ",") -> str:
    return "\n".join(delimiter.join(r) for r in [HEADER, *ROWS]) + "\n"


def frame() -> pl.DataFrame:
    return pl.DataFrame(ROWS, schema=HEADER, orient="row")


def assert_customers(exports, name):  # type: ignore[no-untyped-def]
    c = exports.customers
    assert c is not None
    assert dict(zip(c["customer_id"], c["signup_date"])) == EXPECTED
    assert c["plan"].to_list() == ["basic", "pro", "basic"]
    f = report(exports, name)
    assert (f.role, f.rows_read, f.rows_loaded, f.rejected) == ("customers", 3, 3, {})
    assert f.mapping == {"customer_id": "Customer ID", "signup_date": "Signup Date"}


@pytest.mark.parametrize(
    ("name", "delimiter", "shown"),
    [("c.csv", ",", ","), ("c.csv", ";", ";"), ("c.tsv", "\t", "tab"), ("c.txt", "|", "|"), ("c.txt", "\t", "tab")],
)
def test_delimiter_is_sniffed(tmp_path, name, delimiter, shown):
    ex = load(write(tmp_path, {name: text(delimiter)}))
    assert_customers(ex, name)
    assert report(ex, name).to_dict()["delimiter"] == shown


def test_utf8_with_bom_keeps_first_header(tmp_path):
    ex = load(write(tmp_path, {"c.csv": b"\xef\xbb\xbf" + text().encode()}))
    assert_customers(ex, "c.csv")


def test_cp1252_semicolon(tmp_path):
    data = "Customer ID;Signup Date;Région\n0012;2024-01-05;Zürich\n0013;2024-02-01;Genève\n".encode("cp1252")
    ex = load(write(tmp_path, {"c.csv": data}))
    f = report(ex, "c.csv")
    assert (f.encoding, f.delimiter, f.rows_loaded) == ("cp1252", ";", 2)
    assert ex.customers["region"].to_list() == ["Zürich", "Genève"]


def test_latin1_bytes_read(tmp_path):
    data = "Customer ID,Signup Date,City\n1,2024-01-05,Malmö\n2,2024-01-06,Årsta\n".encode("latin-1")
    ex = load(write(tmp_path, {"c.csv": data}))
    assert ex.customers["city"].to_list() == ["Malmö", "Årsta"]


def test_gzip_csv(tmp_path):
    ex = load(write(tmp_path, {"c.csv.gz": gzip.compress(text(";").encode())}))
    assert_customers(ex, "c.csv.gz")


def test_parquet(tmp_path):
    ex = load(write(tmp_path, {"c.parquet": frame()}))
    assert_customers(ex, "c.parquet")


def test_parquet_native_dates_and_integer_ids(tmp_path):
    df = pl.DataFrame({"customer_id": [7, 8], "signup_date": [dt.date(2024, 1, 1), dt.date(2024, 2, 1)]})
    ex = load(write(tmp_path, {"c.parquet": df}))
    assert ex.customers["customer_id"].to_list() == ["7", "8"]
    assert ex.customers["signup_date"].to_list() == [dt.datetime(2024, 1, 1), dt.datetime(2024, 2, 1)]


def test_hive_partitioned_parquet_folder_is_one_table(tmp_path):
    files = {
        f"events/month={m}/part-0.parquet": pl.DataFrame(
            {"customer_id": ["0012", "0013"], "event_type": ["login", "login"], "event_time": [f"2024-0{m}-03"] * 2}
        )
        for m in (3, 4)
    }
    files["customers.csv"] = text()
    ex = load(write(tmp_path, files))
    f = report(ex, "events")
    assert (f.format, f.role, f.rows_read, f.rows_loaded) == ("parquet-hive", "events", 4, 4)
    assert ex.events.height == 4


def test_json_array(tmp_path):
    ex = load(write(tmp_path, {"c.json": json.dumps(frame().to_dicts())}))
    assert_customers(ex, "c.json")


@pytest.mark.parametrize("name", ["c.ndjson", "c.jsonl", "c.json"])
def test_ndjson(tmp_path, name):
    body = "\n".join(json.dumps(r) for r in frame().to_dicts()) + "\n"
    ex = load(write(tmp_path, {name: body}))
    assert_customers(ex, name)


def test_xlsx(tmp_path):
    ex = load(write(tmp_path, {"customers.xlsx": frame()}))
    assert_customers(ex, "customers.xlsx")


def test_single_file_path(tmp_path):
    write(tmp_path, {"c.csv": text(), "other.csv": "x,y\n1,2\n"})
    ex = load(tmp_path / "c.csv")
    assert [f.name for f in ex.files] == ["c.csv"]
    assert_customers(ex, "c.csv")


def test_folder_is_recursive(tmp_path):
    ex = load(write(tmp_path, {"a/b/c.csv": text()}))
    assert_customers(ex, "a/b/c.csv")


def test_quoted_fields_with_delimiters_inside(tmp_path):
    body = 'Customer ID;Signup Date;Churn Reason\n1;2024-01-05;"too dear; slow"\n2;2024-01-06;"ok"\n'
    ex = load(write(tmp_path, {"c.csv": body}))
    assert ex.customers["reason_text"].to_list() == ["too dear; slow", "ok"]


def test_missing_path_and_empty_folder_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no export files"):
        load(tmp_path / "empty")


def test_unreadable_file_names_the_file(tmp_path):
    write(tmp_path, {"c.csv": text(), "broken.parquet": b"not parquet at all"})
    with pytest.raises(InputError, match="broken.parquet"):
        load(tmp_path)


def test_empty_csv_names_the_file(tmp_path):
    write(tmp_path, {"c.csv": text(), "empty.csv": ""})
    with pytest.raises(InputError, match="empty.csv"):
        load(tmp_path)


def test_row_with_more_fields_than_header_is_a_rejected_row(tmp_path):
    # Issue 20: the row is rejected (its extra fields shown), not the whole file lost.
    body = "Customer ID,Signup Date,Note\n1,2024-01-01,ok\n2,2024-01-02,too, many\n"
    ex = load(write(tmp_path, {"c.csv": body}))
    assert ex.rejects.select("row", "reason", "value").rows() == [(2, "ragged_row", "many")]
    assert ex.customers["customer_id"].to_list() == ["1"]


def test_row_with_fewer_fields_is_read_with_nulls(tmp_path):
    ex = load(write(tmp_path, {"c.csv": "Customer ID,Signup Date,Churn Date\n1,2024-01-01,2024-02-01\n2,2024-01-02\n"}))
    assert ex.customers["churn_date"].to_list() == [dt.datetime(2024, 2, 1), None]


def test_crlf_line_endings(tmp_path):
    ex = load(write(tmp_path, {"c.csv": text().replace("\n", "\r\n").encode()}))
    assert_customers(ex, "c.csv")


def test_null_tokens_are_whole_cells_quoted_or_not(tmp_path):
    # "NA", quoted or not, and an empty cell are missing; a padded ' N/A ' is not a null token (it is read,
    # trimmed, as the text 'N/A': a bad number here), and neither is 'NA' inside a longer text.
    body = ('customer_id,survey_date,score,comment\n'
            '1,2024-03-01,"NA",""\n'
            '2,2024-03-02, N/A ,fine\n'
            '"NA",2024-03-03,5,ok\n'
            '4,2024-03-04,-,NA or not\n'
            '5,"null",7,\n')
    customers = "customer_id,signup_date\n" + "".join(f"{i},2024-01-01\n" for i in (1, 2, 4, 5))
    ex = load(write(tmp_path, {"customers.csv": customers, "nps_survey.csv": body}))
    rejects = ex.rejects.filter(pl.col("source") == "nps_survey.csv").select("row", "reason", "value").rows()
    assert rejects == [(1, "empty_response", None), (2, "bad_number", "N/A"), (3, "missing_id", None)]
    assert ex.surveys.select("customer_id", "survey_date", "score", "reason_text").rows() == [
        ("4", dt.datetime(2024, 3, 4), None, "NA or not"), ("5", None, 7.0, None)]
