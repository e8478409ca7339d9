"""Issue 20 (inputs) and issue 14 item 7: hostile and broken export files. Each case builds its input here and
checks that churnwhy answers without a traceback, with the right exit code, every row read loaded or rejected
with a reason, and every file it could not read named. docs/adversarial.md lists what each case answers."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import zipfile

import polars as pl
import pytest

from churnwhy.load import discover as discover_module

from .inputs_kit import CUSTOMERS, EVENT_HEADER, all_notes, events, fails, file_report, inspect, run, write

# --- formats -------------------------------------------------------------------------------------------------


def ndjson_events(n: int) -> list[str]:
    return [json.dumps({"customer_id": i % 40 + 1, "event_time": f"2024-03-{i % 28 + 1:02d}", "event_type": "login"})
            for i in range(n)]


def test_bad_ndjson_line_is_one_rejected_row(tmp_path):
    lines = ndjson_events(30)
    lines.insert(12, '{"customer_id": 3, "event_time": "2024-03-01", "event_type": "log')  # cut mid-line
    folder = write(tmp_path / "x", {"c.csv": CUSTOMERS, "events.ndjson": "\n".join(lines) + "\n"})
    out = inspect(folder, "--rejects", tmp_path / "rejects.csv")
    f = file_report(out, "events.ndjson")
    assert (f["rows_read"], f["rows_loaded"], f["rejected"]) == (31, 30, {"bad_json": 1})
    rows = list(csv.DictReader((tmp_path / "rejects.csv").open()))
    assert [(r["file"], r["row"], r["reason"]) for r in rows] == [("events.ndjson", "13", "bad_json")]
    assert rows[0]["value"].startswith('{"customer_id": 3')


def test_bad_line_in_gzipped_ndjson(tmp_path):
    lines = ndjson_events(2001)
    lines.insert(1000, "not json at all")
    folder = write(tmp_path / "x", {"c.csv": CUSTOMERS, "events.ndjson.gz": gzip.compress("\n".join(lines).encode())})
    f = file_report(inspect(folder), "events.ndjson.gz")
    assert (f["rows_read"], f["rejected"].get("bad_json")) == (2002, 1)


def test_ndjson_type_conflict_after_many_rows(tmp_path):
    # The id is a number for 12,000 lines, then text: the types come from every line, not the first 10,000.
    lines = ndjson_events(12_000) + [json.dumps({"customer_id": "C-7", "event_time": "2024-03-02", "event_type": "x"})]
    folder = write(tmp_path / "x", {"c.csv": CUSTOMERS, "events.ndjson": "\n".join(lines)})
    f = file_report(inspect(folder), "events.ndjson")
    assert (f["rows_read"], f["rejected"]) == (12_001, {"duplicate_row": f["rejected"]["duplicate_row"], "unknown_customer": 1})


def test_ndjson_field_that_is_a_list_here_and_a_number_there(tmp_path):
    lines = ndjson_events(20)
    lines[5] = json.dumps({"customer_id": 6, "event_time": "2024-03-06", "event_type": "login", "tags": [1, 2]})
    lines[9] = json.dumps({"customer_id": 10, "event_time": "2024-03-10", "event_type": "login", "tags": 3})
    out = inspect(write(tmp_path / "x", {"c.csv": CUSTOMERS, "events.ndjson": "\n".join(lines)}))
    assert file_report(out, "events.ndjson")["rows_loaded"] == 20
    assert "'tags' hold nested values" in all_notes(out)


def test_json_array_with_a_field_of_no_common_type(tmp_path):
    records = [{"customer_id": i, "event_time": "2024-03-01", "event_type": "login", "v": [1] if i % 2 else 5}
               for i in range(1, 11)] + ["not a record"]
    f = file_report(inspect(write(tmp_path / "x", {"c.csv": CUSTOMERS, "e.json": json.dumps(records)})), "e.json")
    assert (f["rows_read"], f["rows_loaded"], f["rejected"]) == (11, 10, {"bad_json": 1})


def test_whitespace_aligned_text_file(tmp_path):
    body = "Customer ID   Signup Date   Plan Name\n" + "".join(
        f"{i:<13} 2024-01-{i:02d}    {'basic' if i % 2 else 'pro'}\n" for i in range(1, 21))
    out = inspect(write(tmp_path / "x", {"customers.txt": body}))
    f = file_report(out, "customers.txt")
    assert (f["rows_loaded"], f["delimiter"], f["mapping"]["customer_id"]) == (20, "whitespace", "Customer ID")
    assert out["customers"] == 20 and "aligned with spaces" in all_notes(out)


def test_headerless_whitespace_purchase_log(tmp_path):
    # A log exported without column names (right-aligned numbers): the first row is data, not a header.
    body = "".join(f"{i:>5} 2024{i % 12 + 1:02d}01 {i % 3 + 1:>2} {i * 1.5:>8.2f}\n" for i in range(1, 31))
    folder = write(tmp_path / "x", {"purchases.txt": body, "churnwhy.toml": '[columns]\ncustomer_id = "column_1"\n'
                                    'event_time = "column_2"\namount = "column_4"\n'})
    f = file_report(inspect(folder), "purchases.txt")
    assert (f["rows_read"], f["rows_loaded"], f["mapping"]["amount"]) == (30, 30, "column_4")


def test_nested_json_column_is_left_out_not_the_file(tmp_path):
    records = [{"customer_id": i, "event_time": "2024-03-01", "event_type": "login", "meta": {"tags": [1, 2]}}
               for i in range(1, 11)]
    out = inspect(write(tmp_path / "x", {"c.csv": CUSTOMERS, "events.json": json.dumps(records)}))
    assert file_report(out, "events.json")["rows_loaded"] == 10
    assert "'meta' hold nested values" in all_notes(out)


def test_nested_parquet_columns_are_left_out(tmp_path):
    folder = tmp_path / "x"
    folder.mkdir()
    pl.DataFrame({"customer_id": ["1", "2", "3"], "signup_date": ["2024-01-01", "2024-01-02", "2024-01-03"],
                  "tags": [[1, 2], [3], []], "address": [{"zip": "1"}, {"zip": "2"}, {"zip": "3"}]}
                 ).write_parquet(folder / "c.parquet")
    out = inspect(folder)
    assert out["customers"] == 3
    assert "'tags', 'address' hold nested values" in all_notes(out)


def test_broken_json_array_names_the_line(tmp_path):
    body = '[\n{"customer_id": 1, "signup_date": "2024-01-01"},\n{"customer_id": 2, "signup_date": \n'
    msg = fails(write(tmp_path / "x", {"c.json": body}))
    assert "c.json: not valid JSON (line 4" in msg


# --- Excel -----------------------------------------------------------------------------------------------------


def workbook(path, cells: dict[tuple[int, int], object]) -> None:
    import xlsxwriter

    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet("Data")
    for (r, c), v in cells.items():
        if isinstance(v, int | float):
            sheet.write_number(r, c, v)
        else:
            sheet.write_string(r, c, v)
    book.close()


def test_excel_title_rows_above_the_header(tmp_path):
    cells: dict[tuple[int, int], object] = {(0, 0): "Customer report, March 2024", (1, 0): "confidential"}
    for j, h in enumerate(["Customer ID", "Signup Date", "Plan"]):
        cells[(3, j)] = h
    for i in range(1, 21):
        cells[(3 + i, 0)], cells[(3 + i, 1)], cells[(3 + i, 2)] = f"C{i}", f"2024-01-{i:02d}", "ab"[i % 2]
    (tmp_path / "x").mkdir()
    workbook(tmp_path / "x" / "crm.xlsx", cells)
    out = inspect(tmp_path / "x")
    assert out["customers"] == 20 and file_report(out, "crm.xlsx")["mapping"]["customer_id"] == "Customer ID"
    assert "header on row 4" in all_notes(out)


def long_id_workbook(path, exact: bool) -> list[str]:
    ids = [str(1234567890123456789 + i) for i in range(4)]
    cells: dict[tuple[int, int], object] = {(0, 0): "customer_id", (0, 1): "signup_date"}
    for i, v in enumerate(ids, 1):
        cells[(i, 0)], cells[(i, 1)] = int(v), f"2024-01-0{i}"
    workbook(path, cells)
    if exact:  # as pandas/openpyxl write an int64: every digit in the XML (Excel's own writer keeps 15)
        with zipfile.ZipFile(path) as z:
            parts = {n: z.read(n) for n in z.namelist()}
        xml = parts["xl/worksheets/sheet1.xml"].decode()
        for v in ids:  # the writer wrote each as 1.234567890123457E+18
            xml = xml.replace("<v>1.234567890123457E+18</v>", f"<v>{v}</v>", 1)
        parts["xl/worksheets/sheet1.xml"] = xml.encode()
        with zipfile.ZipFile(path, "w") as z:
            for n, b in parts.items():
                z.writestr(n, b)
    return ids


def test_excel_19_digit_ids_keep_every_digit(tmp_path):
    (tmp_path / "x").mkdir()
    ids = long_id_workbook(tmp_path / "x" / "crm.xlsx", exact=True)
    out = inspect(tmp_path / "x")
    assert out["customers"] == 4 and out["rows"]["rejected"] == {}
    events_csv = EVENT_HEADER + "".join(f"{v},2024-02-01,login\n" for v in ids)
    out = inspect(write(tmp_path / "x", {"events.csv": events_csv}))
    assert file_report(out, "events.csv")["rejected"] == {}  # every event links to its customer


def test_excel_ids_the_workbook_itself_rounded_are_named(tmp_path):
    (tmp_path / "x").mkdir()
    long_id_workbook(tmp_path / "x" / "crm.xlsx", exact=False)
    out = inspect(tmp_path / "x")
    assert "4 numbers longer than 15 digits" in all_notes(out)
    assert out["rows"]["rejected"] == {"duplicate_customer": 3}


# --- folders ---------------------------------------------------------------------------------------------------


def test_symlinked_subfolder_is_followed_once(tmp_path):
    folder = write(tmp_path / "x", {"crm/customers.csv": CUSTOMERS})
    write(tmp_path / "elsewhere", {"events.csv": events()})
    os.symlink(tmp_path / "elsewhere", folder / "linked")
    os.symlink(folder, folder / "crm" / "loop")  # a link back up the tree
    out = inspect(folder)
    assert {f["name"] for f in out["files"]} == {"crm/customers.csv", "linked/events.csv"}
    assert "crm/loop: link to a folder already read" in all_notes(out)


def unreadable(monkeypatch, path) -> None:
    """`path` cannot be read: by its mode, and for a root user (who reads anything) by os.access as well."""
    os.chmod(path, 0)
    real = os.access
    monkeypatch.setattr(discover_module.os, "access",
                        lambda p, mode, **kw: False if os.path.samefile(p, path) else real(p, mode, **kw))


@pytest.mark.parametrize("which", ["sub", "sub/events.csv"])
def test_unreadable_folder_or_file_is_named_and_strict_stops(tmp_path, monkeypatch, which):
    folder = write(tmp_path / "x", {"customers.csv": CUSTOMERS, "sub/events.csv": events()})
    unreadable(monkeypatch, folder / which)
    try:
        out = inspect(folder)
        assert f"{which}: " in "\n".join(out["warnings"]) and "cannot be read" in all_notes(out)
        assert "cannot be read" in fails(folder, "--strict")
    finally:
        os.chmod(folder / which, 0o755)


def test_hidden_exports_and_folders_are_named_not_read(tmp_path):
    folder = write(tmp_path / "x", {"customers.csv": CUSTOMERS, ".old/events.csv": events(), ".backup.csv": CUSTOMERS})
    out = inspect(folder)
    notes = all_notes(out)
    assert ".old/: hidden folder (not read)" in notes and ".backup.csv: hidden file (not read)" in notes
    assert [f["name"] for f in out["files"]] == ["customers.csv"]


def test_broken_link_is_named(tmp_path):
    folder = write(tmp_path / "x", {"customers.csv": CUSTOMERS})
    os.symlink(tmp_path / "gone.csv", folder / "events.csv")
    assert "events.csv: broken link" in all_notes(inspect(folder))


# --- values ----------------------------------------------------------------------------------------------------


def test_churn_flags_in_many_languages_and_unparseable_ones_rejected(tmp_path):
    words = {"Churned: yes": True, "Ja": True, "Nein": False, "oui": True, "non": False, "Sí": True,
             "Attrited Customer": True, "Existing Customer": False, "1": True, "0": False, "maybe": None, "??": None}
    body = "customer_id,tenure_months,churned\n" + "".join(f"{i},{i + 3},{w}\n" for i, w in enumerate(words, 1))
    out = inspect(write(tmp_path / "x", {"c.csv": body}), "--rejects", tmp_path / "r.csv")
    assert out["rows"]["rejected"] == {"bad_flag": 2}
    assert out["churned"] == sum(v is True for v in words.values())
    assert sorted(r["value"] for r in csv.DictReader((tmp_path / "r.csv").open())) == ["??", "maybe"]


def test_status_words_that_are_not_churn_words_are_rejected(tmp_path):
    statuses = ["Active", "Cancelled", "Paused", "Churned", "Active", "whatever"] * 5
    body = "customer_id,signup_date,account_status\n" + "".join(
        f"{i},2024-01-{i:02d},{s}\n" for i, s in enumerate(statuses, 1))
    out = inspect(write(tmp_path / "x", {"c.csv": body}))
    assert (out["rows"]["rejected"], out["churned"]) == ({"bad_flag": 5}, 10)


def test_a_status_of_tiers_decides_nothing_and_loses_nobody(tmp_path):
    body = "customer_id,signup_date,member_status\n" + "".join(
        f"{i},2024-01-{i:02d},{['Gold', 'Silver', 'Bronze'][i % 3]}\n" for i in range(1, 31))
    out = inspect(write(tmp_path / "x", {"c.csv": body}))
    assert (out["customers"], out["rows"]["rejected"]) == (30, {})


def test_utf8_and_windows_1252_rows_in_one_file_are_each_decoded(tmp_path):
    data = ("customer_id,signup_date,city\n1,2024-01-01,Zürich\n".encode()
            + "2,2024-01-02,Genève\n".encode("cp1252") + "3,2024-01-03,Malmö\n".encode())
    folder = write(tmp_path / "x", {"c.csv": data})
    out = inspect(folder)
    assert file_report(out, "c.csv")["encoding"] == "utf-8+cp1252" and "1 rows are not UTF-8" in all_notes(out)
    from churnwhy.load import load_exports

    assert load_exports(folder).customers["city"].to_list() == ["Zürich", "Genève", "Malmö"]


def test_float_like_ids_link_to_integer_ids(tmp_path):
    ev = EVENT_HEADER + "".join(f"{i}.0,2024-03-0{i},login\n" for i in range(1, 8))
    f = file_report(inspect(write(tmp_path / "x", {"c.csv": CUSTOMERS, "e.csv": ev})), "e.csv")
    assert (f["rows_loaded"], f["rejected"]) == (7, {})


def test_open_end_date_9999_is_no_churn(tmp_path):
    body = CUSTOMERS.replace("3,2024-01-04,2024-06-01", "3,2024-01-04,9999-12-31")
    out = inspect(write(tmp_path / "x", {"c.csv": body}))
    assert out["as_of"] == "2024-06-01" and out["rows"]["rejected"] == {}
    assert out["churned"] == 12  # customer 3 is active, not churned in the year 9999


@pytest.mark.parametrize("where", ["signup", "event"])
def test_year_9999_signup_or_event_is_a_bad_date(tmp_path, where):
    files = {"c.csv": CUSTOMERS, "e.csv": events()}
    if where == "signup":
        files["c.csv"] = CUSTOMERS.replace("1,2024-01-02,", "1,9999-12-31,")
    else:
        files["e.csv"] = events() + "5,9999-12-31,login\n"
    folder = write(tmp_path / "x", files)
    out = inspect(folder)
    # a customer whose signup is rejected takes its events along (unknown_customer), counted as well
    expected = {"bad_date": 1, "unknown_customer": 1} if where == "signup" else {"bad_date": 1}
    assert out["rows"]["rejected"] == expected and out["as_of"] == "2024-06-01"
    assert run("analyze", folder, "--format", "json").exit_code == 0


def test_ragged_row_late_in_an_events_file(tmp_path):
    body = events(5000) + "7,2024-03-09,login,extra,fields\n" + "8,2024-03-10,login\n"
    f = file_report(inspect(write(tmp_path / "x", {"c.csv": CUSTOMERS, "e.csv": body})), "e.csv")
    assert f["rows_read"] == 5002 and f["rejected"]["ragged_row"] == 1


def test_two_columns_with_one_name_after_snake_case(tmp_path):
    body = "customer_id,signup_date,Plan Type,plan_type\n" + "".join(
        f"{i},2024-01-{i:02d},{'ab'[i % 2]},{'cd'[i % 2]}\n" for i in range(1, 21))
    out = inspect(write(tmp_path / "x", {"c.csv": body}))
    assert out["customers"] == 20 and len(out["segments"]) == 2


def test_header_only_events_file(tmp_path):
    folder = write(tmp_path / "x", {"c.csv": CUSTOMERS, "e.csv": EVENT_HEADER})
    assert file_report(inspect(folder), "e.csv")["rows_read"] == 0
    assert run("analyze", folder, "--format", "json").exit_code == 0


def test_events_for_no_known_customer(tmp_path):
    ev = EVENT_HEADER + "".join(f"X{i},2024-03-01,login\n" for i in range(10))
    folder = write(tmp_path / "x", {"c.csv": CUSTOMERS, "e.csv": ev})
    assert file_report(inspect(folder), "e.csv")["rejected"] == {"unknown_customer": 10}
    assert run("analyze", folder, "--format", "json").exit_code == 0


def test_200_kb_field(tmp_path):
    body = "customer_id,signup_date,note\n1,2024-01-01," + "x" * 200_000 + "\n2,2024-01-02,short\n"
    assert inspect(write(tmp_path / "x", {"c.csv": body}))["customers"] == 2


def test_csv_title_lines_above_the_header(tmp_path):
    body = "Customer export\nGenerated 2024-06-30\n\n" + CUSTOMERS
    out = inspect(write(tmp_path / "x", {"c.csv": body}))
    assert (out["customers"], out["churned"]) == (40, 13)
    assert "the 3 lines above the header (a title?) not read" in all_notes(out)


def test_named_pipe_is_named_not_read(tmp_path):
    folder = write(tmp_path / "x", {"c.csv": CUSTOMERS})
    os.mkfifo(folder / "events.csv")  # reading it would block forever
    assert "events.csv: not a regular file" in all_notes(inspect(folder))


def test_literal_quote_inside_a_value_is_not_an_unclosed_quote(tmp_path):
    body = 'customer_id,signup_date,plan\n1,2024-01-01,12" screen\n2,2024-01-02,basic\n'
    assert inspect(write(tmp_path / "x", {"c.csv": body}))["customers"] == 2


def test_excel_serial_dates_with_a_stray_number(tmp_path):
    # 45292 is 2024-01-01; a stray 7 among the serials is one bad date, not a column that cannot be read.
    body = "customer_id,signup_date\n" + "".join(f"{i},{45292 + i}\n" for i in range(1, 30)) + "30,7\n"
    out = inspect(write(tmp_path / "x", {"c.csv": body}))
    assert (out["customers"], out["rows"]["rejected"]) == (29, {"bad_date": 1})


def test_ids_a_spreadsheet_wrote_in_scientific_notation_are_named(tmp_path):
    body = "customer_id,signup_date\n1.23457E+18,2024-01-01\n1.23457E+18,2024-01-02\n9,2024-01-03\n"
    out = inspect(write(tmp_path / "x", {"c.csv": body}))
    assert "2 ids in 'customer_id' are written like 1.23457E+18" in all_notes(out)
    assert out["rows"]["rejected"] == {"duplicate_customer": 1}


@pytest.mark.parametrize("tenure", ["inf", "1e300", "-3"])
def test_impossible_tenure_is_a_bad_number(tmp_path, tenure):
    body = "customer_id,tenure_months,churned\n" + "".join(
        f"{i},{tenure if i == 3 else i},{'yes' if i % 2 else 'no'}\n" for i in range(1, 30))
    folder = write(tmp_path / "x", {"c.csv": body})
    out = inspect(folder)
    assert (out["customers"], out["rows"]["rejected"]) == (28, {"bad_number": 1})
    assert run("analyze", folder, "--format", "json").exit_code == 0


def test_infinite_and_overflowing_amounts_are_bad_numbers(tmp_path):
    ev = "customer_id,event_time,event_type,amount\n" + "".join(
        f"{i % 40 + 1},2024-03-01,order,{ {3: 'inf', 4: '-1e308'}.get(i, i)}\n" for i in range(40))
    r = run("inspect", write(tmp_path / "x", {"c.csv": CUSTOMERS, "e.csv": ev}), "--format", "json")
    assert r.exit_code == 0 and "Warning" not in r.stderr  # no overflow warnings from the sums
    assert file_report(json.loads(r.stdout), "e.csv")["rejected"] == {"bad_number": 2}


@pytest.mark.parametrize("body", ["42", "[[1, 2], [3, 4]]"])
def test_json_that_is_not_records_is_named_and_skipped(tmp_path, body):
    out = inspect(write(tmp_path / "x", {"c.csv": CUSTOMERS, "e.json": body}))
    assert "e.json: JSON that is not a list of records" in all_notes(out)


# --- analysis date ---------------------------------------------------------------------------------------------


def test_as_of_before_all_data_is_an_error(tmp_path):
    msg = fails(write(tmp_path / "x", {"c.csv": CUSTOMERS}), "--as-of", "2000-01-01")
    assert "--as-of 2000-01-01 is before every date in the data (2024-01-01 to 2024-06-01)" in msg


def test_as_of_after_all_data_is_a_warning(tmp_path):
    folder = write(tmp_path / "x", {"c.csv": CUSTOMERS})
    out = inspect(folder, "--as-of", "2030-01-01")
    assert out["customers"] == 40 and "after the latest date in the data (2024-06-01)" in "\n".join(out["warnings"])
    assert "after the latest date" in fails(folder, "--as-of", "2030-01-01", "--strict")


def test_back_dated_as_of_says_who_is_left_out(tmp_path):
    out = inspect(write(tmp_path / "x", {"c.csv": CUSTOMERS}), "--as-of", "2024-01-10")
    assert "customers signed up after it and are left out" in "\n".join(out["warnings"])


# --- messages --------------------------------------------------------------------------------------------------


def test_every_row_rejected_says_so(tmp_path):
    msg = fails(write(tmp_path / "x", {"c.csv": "customer_id,signup_date\n,2024-01-01\n,2024-01-02\n"}))
    assert "every one of the 2 input rows was rejected (2 missing_id)" in msg and "no dates" not in msg


def test_cr_only_line_endings_are_read(tmp_path):
    out = inspect(write(tmp_path / "x", {"c.csv": CUSTOMERS.replace("\n", "\r").encode()}))
    assert (out["customers"], out["churned"]) == (40, 13)


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le"])
def test_utf16_with_or_without_bom_is_decoded(tmp_path, codec):
    out = inspect(write(tmp_path / "x", {"c.csv": CUSTOMERS.encode(codec)}))
    assert out["customers"] == 40 and file_report(out, "c.csv")["encoding"] == "utf-16"


def test_binary_file_named_a_csv_is_a_clean_error(tmp_path):
    msg = fails(write(tmp_path / "x", {"c.csv": CUSTOMERS, "blob.csv": bytes(range(256)) * 40}))
    assert "blob.csv: holds binary data" in msg


def test_unclosed_quote_names_file_and_line(tmp_path):
    body = CUSTOMERS + '41,"2024-01-01,,a\n42,2024-01-02,,b\n'
    assert 'c.csv: line 42 opens a quoted value (") that is never closed' in fails(write(tmp_path / "x", {"c.csv": body}))


def test_gzip_bomb_stops_at_the_limit(tmp_path):
    bomb = gzip.compress(EVENT_HEADER.encode() + b"1,2024-03-01,login\n" * 200_000)  # ~4 MB from ~20 KB
    folder = write(tmp_path / "x", {"c.csv": CUSTOMERS, "e.csv.gz": bomb, "churnwhy.toml": "max_decompressed_mb = 1\n"})
    msg = fails(folder)
    assert "e.csv.gz: decompresses to more than 1 MB" in msg and "max_decompressed_mb" in msg


def test_workbook_inflating_past_the_limit(tmp_path):
    (tmp_path / "x").mkdir()
    cells: dict[tuple[int, int], object] = {(0, 0): "customer_id", (0, 1): "note"}
    for i in range(1, 3000):
        cells[(i, 0)], cells[(i, 1)] = str(i), f"{i}" + "x" * 400  # ~1.2 MB of XML, a few KB zipped
    workbook(tmp_path / "x" / "crm.xlsx", cells)
    write(tmp_path / "x", {"churnwhy.toml": "max_decompressed_mb = 1\n"})
    assert "crm.xlsx: decompresses to more than 1 MB" in fails(tmp_path / "x")


def test_truncated_gzip_is_a_clean_error(tmp_path):
    cut = gzip.compress(events(2000).encode())[:-200]
    assert "e.csv.gz: not a readable gzip file" in fails(write(tmp_path / "x", {"c.csv": CUSTOMERS, "e.csv.gz": cut}))


def test_rejects_file_lists_the_reader_rejects_with_their_reason(tmp_path):
    # Several kinds in one folder: the rejects CSV and the counts agree.
    body = events(50) + "7,2024-03-09,login,extra\n"
    lines = ndjson_events(10) + ["{oops"]
    folder = write(tmp_path / "x", {"c.csv": CUSTOMERS, "e.csv": body, "more.ndjson": "\n".join(lines)})
    out = inspect(folder, "--rejects", tmp_path / "r.csv")
    listed = pl.read_csv(io.BytesIO((tmp_path / "r.csv").read_bytes()), infer_schema=False)
    counts = dict(listed.group_by("reason").len().iter_rows())
    assert counts == out["rows"]["rejected"] and counts["ragged_row"] == 1 and counts["bad_json"] == 1
