"""Issue 2: `churnwhy inspect` and `churnwhy init` through the CLI: exit codes, clean errors, JSON, the toml round trip."""

from __future__ import annotations

import json
import tomllib

import polars as pl
import pytest
from loadkit import write
from typer.testing import CliRunner

from churnwhy.cli import app
from churnwhy.config import Config
from churnwhy.load import load_exports

CUSTOMERS = "Customer ID,Signup Date,Churn Date,Plan\n001,2024-01-01,2024-03-01,basic\n002,2024-01-15,,pro\n"
EVENTS = "cust_id,Event Type,Event Time\n001,login,2024-02-01\n002,login,2024-04-01\n"


def runner() -> CliRunner:
    try:
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    except TypeError:  # click >= 8.2 keeps stderr apart already
        return CliRunner()


def invoke(*args: str):  # type: ignore[no-untyped-def]
    result = runner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.stdout + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


@pytest.fixture
def folder(tmp_path):
    return write(tmp_path / "exports", {"customers.csv": CUSTOMERS, "events.csv": EVENTS})


def test_inspect_ok_table(folder):
    r = invoke("inspect", folder)
    assert r.exit_code == 0, r.stderr
    assert "customers.csv" in r.stdout and "Customers" in r.stdout


def test_inspect_json_is_only_json_on_stdout(folder):
    r = invoke("inspect", folder, "--format", "json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert (doc["customers"], doc["churned"], doc["as_of"]) == (2, 1, "2024-04-01")
    assert doc["rows"] == {"read": 4, "loaded": 4, "rejected": {}}
    assert {f["name"]: f["role"] for f in doc["files"]} == {"customers.csv": "customers", "events.csv": "events"}


def test_inspect_markdown(folder):
    r = invoke("inspect", folder, "--format", "markdown")
    assert r.exit_code == 0 and r.stdout.startswith("# churnwhy inspect")


def test_inspect_as_of_flag(folder):
    r = invoke("inspect", folder, "--format", "json", "--as-of", "2024-02-15")
    assert json.loads(r.stdout)["as_of"] == "2024-02-15"
    assert invoke("inspect", folder, "--as-of", "15/02/2024").exit_code == 2


def test_inspect_rejects_file_and_strict(tmp_path):
    folder = write(tmp_path / "x", {
        "customers.csv": CUSTOMERS + ",2024-01-01,,basic\n003,soon,,pro\n",
        "events.csv": EVENTS + "999,login,2024-02-01\n",
    })
    out = tmp_path / "rejects.csv"
    r = invoke("inspect", folder, "--format", "json", "--rejects", out)
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["rows"]["rejected"] == {"bad_date": 1, "missing_id": 1, "unknown_customer": 1}
    assert {f["name"]: f["rejected"] for f in doc["files"]} == {
        "customers.csv": {"bad_date": 1, "missing_id": 1}, "events.csv": {"unknown_customer": 1}}
    rejects = pl.read_csv(out, infer_schema=False)
    assert rejects.columns[:3] == ["file", "row", "reason"]
    assert rejects.select("file", "row", "reason").rows() == [
        ("customers.csv", "3", "missing_id"), ("customers.csv", "4", "bad_date"), ("events.csv", "3", "unknown_customer")]
    assert doc["rows"]["read"] - doc["rows"]["loaded"] == rejects.height

    strict = invoke("inspect", folder, "--strict")
    assert strict.exit_code == 2 and "--strict" in strict.stderr and "3" in strict.stderr


@pytest.mark.parametrize(
    ("files", "needle"),
    [
        (None, "does not exist"),
        ({}, "no export files"),
        ({"plans.csv": "Plan,Price\nBasic,10\n"}, "no file has a customer id"),
        ({"customers.csv": CUSTOMERS, "broken.parquet": b"PAR1 not really"}, "broken.parquet"),
        ({"customers.csv": CUSTOMERS, "broken.xlsx": b"not a workbook"}, "broken.xlsx"),
        ({"customers.csv": CUSTOMERS, "bad.json": b"[{\"a\": 1,"}, "bad.json"),
        ({"customers.csv": "customer_id,Signup Date\n1,05/01/2024\n2,03/02/2024\n"}, '"Signup Date" = "%d/%m/%Y"'),
        ({"customers.csv": "Customer ID,customer_id\n1,2\n"}, "customer_id ="),
    ],
)
def test_unusable_input_exits_2_with_a_short_message(tmp_path, files, needle):
    path = tmp_path / "exports"
    if files is not None:
        path.mkdir()
        write(path, files)
    for fmt in ("table", "json"):
        r = invoke("inspect", path, "--format", fmt)
        assert r.exit_code == 2, (r.stdout, r.stderr)
        assert needle in r.stderr and "error:" in r.stderr
        assert r.stdout == ""
        assert len(r.stderr.splitlines()) <= 6


@pytest.mark.parametrize(
    ("files", "section"),
    [({"customers.csv": "customer_id,Signup Date\n1,05/01/2024\n2,03/02/2024\n"}, "[dates.columns]"),
     ({"customers.csv": "Customer ID,customer_id\n1,2\n"}, '[columns."customers.csv"]')],
)
def test_error_hint_shows_the_toml_section(tmp_path, files, section):
    r = invoke("inspect", write(tmp_path, files))
    assert r.exit_code == 2 and section in r.stderr


def test_init_writes_a_toml_that_loads_back_to_the_same_mapping(folder):
    r = invoke("init", folder)
    assert r.exit_code == 0, r.stderr
    target = folder / "churnwhy.toml"
    raw = tomllib.loads(target.read_text())
    assert raw["columns"]["customers.csv"]["customer_id"] == "Customer ID"
    assert raw["files"] == {"customers.csv": "customers", "events.csv": "events"}
    before = load_exports(folder, Config())
    after = load_exports(folder, Config.load(folder))
    assert Config.load(folder).source == target
    assert [(f.name, f.role, f.mapping) for f in after.files] == [(f.name, f.role, f.mapping) for f in before.files]
    assert after.customers.equals(before.customers) and after.events.equals(before.events)
    # init does not overwrite without --force
    again = invoke("init", folder)
    assert again.exit_code == 2 and "--force" in again.stderr
    assert invoke("init", folder, "--force").exit_code == 0


def test_init_toml_pins_ambiguity_free_date_formats(tmp_path):
    folder = write(tmp_path / "x", {"customers.csv": "customer_id,Signup Date\n1,25/01/2024\n2,03/02/2024\n"})
    assert invoke("init", folder).exit_code == 0
    text = (folder / "churnwhy.toml").read_text()
    assert '"Signup Date" = "%d/%m/%Y"' in text
    cfg = Config.load(folder)
    assert load_exports(folder, cfg).customers["signup_date"].dt.month().to_list() == [1, 2]


def test_init_with_odd_file_and_column_names_round_trips(tmp_path):
    folder = write(tmp_path / "x", {
        "sub dir/Kunden \"2024\".csv": 'Kunden-Nr.,Signup Date,Région\n1,2024-01-01,Nord\n2,2024-01-02,Süd\n',
        "events.csv": "customerID,event,date\n1,login,2024-02-01\n",
    })
    r = invoke("init", folder)
    assert r.exit_code == 0, r.stderr
    tomllib.loads((folder / "churnwhy.toml").read_text())
    before = load_exports(folder, Config())
    after = load_exports(folder, Config.load(folder))
    assert [(f.name, f.role, f.mapping) for f in after.files] == [(f.name, f.role, f.mapping) for f in before.files]


def test_help_for_commands():
    for cmd in ("inspect", "init"):
        r = invoke(cmd, "--help")
        assert r.exit_code == 0 and "PATH" in r.stdout


def test_strict_passes_a_clean_folder_with_an_orders_file(tmp_path):
    folder = write(tmp_path / "x", {
        "customers.csv": CUSTOMERS,
        "orders.csv": "Order ID,Customer ID,Order Date,Total\nO1,001,2024-02-01,5\nO2,002,2024-02-02,7\n",
    })
    r = invoke("inspect", folder, "--strict", "--format", "json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["warnings"] == [] and any("'orders'" in n for n in doc["notes"])
    assert doc["event_types"] == ["orders"]


def test_names_with_brackets_are_shown_verbatim(tmp_path):
    folder = write(tmp_path / "x", {"data[1].csv": "Customer ID,Signup Date,[Plan]\n1,2024-01-01,a\n2,2024-01-01,b\n3,2024-01-01,a\n"})
    r = invoke("inspect", folder)
    assert r.exit_code == 0, r.stderr
    assert "data[1].csv" in r.stdout


def test_ragged_row_is_rejected_not_the_file(tmp_path):
    # Issue 20: a row with more fields than the header is one rejected row (ragged_row), and --strict stops.
    folder = write(tmp_path / "x", {"customers.csv": CUSTOMERS + "003,2024-01-03,,pro,extra\n"})
    r = invoke("inspect", folder, "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["rows"] == {"read": 3, "loaded": 2, "rejected": {"ragged_row": 1}}
    r = invoke("inspect", folder, "--strict")
    assert r.exit_code == 2 and "ragged_row" in r.stderr
