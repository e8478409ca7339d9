"""Issue 2: column aliases, ids kept as text, foreign keys, roles, joins, linking and overrides."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from loadkit import load, report, write

from churnwhy.errors import InputError, MappingError


@pytest.mark.parametrize("id_name", ["Customer ID", "customerID", "cust_id", "account_id", "CUSTOMER-ID", "Client No."])
@pytest.mark.parametrize("start_name", ["Signup Date", "created_at", "start_date"])
@pytest.mark.parametrize("end_name", ["cancelled_at", "end_date", "Churn Date"])
def test_id_and_date_aliases(tmp_path, id_name, start_name, end_name):
    body = f"{id_name},{start_name},{end_name}\nA1,2024-01-01,2024-02-01\nA2,2024-01-02,\n"
    ex = load(write(tmp_path, {"c.csv": body}))
    assert report(ex, "c.csv").mapping == {"customer_id": id_name, "signup_date": start_name, "churn_date": end_name}
    assert ex.customers["churn_date"].to_list() == [dt.datetime(2024, 2, 1), None]


@pytest.mark.parametrize("flag_name", ["Churn", "Churn Label", "is_churned"])
@pytest.mark.parametrize(("yes", "no"), [("Yes", "No"), ("Y", "N"), ("True", "False"), ("1", "0"), ("yes", "no")])
def test_churn_flag_aliases_and_words(tmp_path, flag_name, yes, no):
    body = f"customer_id,tenure,{flag_name}\n1,3,{yes}\n2,5,{no}\n3,7,\n"
    ex = load(write(tmp_path, {"c.csv": body}))
    assert report(ex, "c.csv").mapping["churned"] == flag_name
    assert ex.customers["churned"].to_list() == [True, False, None]


@pytest.mark.parametrize("tenure_name", ["tenure", "Tenure in Months", "Tenure Months"])
def test_tenure_aliases(tmp_path, tenure_name):
    ex = load(write(tmp_path, {"c.csv": f"customer_id,{tenure_name},Churn\n1,3,Yes\n"}))
    assert report(ex, "c.csv").mapping["tenure"] == tenure_name
    assert ex.customers["tenure"].to_list() == [3.0]


@pytest.mark.parametrize("reason_name", ["Churn Reason", "cancel_reason", "comment", "feedback"])
def test_reason_text_aliases(tmp_path, reason_name):
    body = f"customer_id,signup_date,{reason_name}\n1,2024-01-01,too expensive\n"
    ex = load(write(tmp_path, {"c.csv": body}))
    assert report(ex, "c.csv").mapping["reason_text"] == reason_name
    assert ex.customers["reason_text"].to_list() == ["too expensive"]


def test_ids_keep_leading_zeros_and_long_digit_strings(tmp_path):
    long = "12345678901234567890"
    body = f"customer_id,signup_date\n007,2024-01-01\n{long},2024-01-02\n0000000000000000000001,2024-01-03\n"
    for name, content in {"c.csv": body, "c.json": '[{"customer_id": "007", "signup_date": "2024-01-01"},'
                          f' {{"customer_id": "{long}", "signup_date": "2024-01-02"}}]'}.items():
        folder = tmp_path / name.replace(".", "_")
        ex = load(write(folder, {name: content}))
        assert {"007", long} <= set(ex.customers["customer_id"])


def test_ids_as_text_in_xlsx_keep_zeros(tmp_path):
    df = pl.DataFrame({"Customer ID": ["007", "12345678901234567890"], "Signup Date": ["2024-01-01", "2024-01-02"]})
    ex = load(write(tmp_path, {"customers.xlsx": df}))
    assert ex.customers["customer_id"].to_list() == ["007", "12345678901234567890"]


def test_ids_join_across_files_exactly(tmp_path):
    files = {
        "customers.csv": "customer_id,signup_date\n007,2024-01-01\n7,2024-01-02\n",
        "events.csv": "customer_id,event_type,event_time\n007,login,2024-02-01\n7,login,2024-02-02\n7,login,2024-02-03\n",
    }
    ex = load(write(tmp_path, files))
    counts = dict(ex.events.group_by("customer_id").len().iter_rows())
    assert counts == {"007": 1, "7": 2}


@pytest.mark.parametrize("foreign", ["Order ID", "Service ID", "Location ID", "order_id"])
def test_another_tables_key_is_never_the_customer_id(tmp_path, foreign):
    files = {
        "customers.csv": "Customer ID,Signup Date\nC1,2024-01-01\nC2,2024-01-02\n",
        "orders.csv": f"{foreign},Customer ID,Order Date,Amount\nO1,C1,2024-02-01,10\nO2,C2,2024-02-03,20\n",
    }
    ex = load(write(tmp_path, files))
    f = report(ex, "orders.csv")
    assert f.mapping["customer_id"] == "Customer ID"
    assert sorted(ex.events["customer_id"]) == ["C1", "C2"]


def test_table_keyed_only_by_a_foreign_id_has_no_customer_id(tmp_path):
    files = {
        "customers.csv": "Customer ID,Signup Date\nC1,2024-01-01\n",
        "order_lines.csv": "Order ID,Product,Qty\nO1,widget,2\n",
    }
    ex = load(write(tmp_path, files))
    assert [f.name for f in ex.files] == ["customers.csv"]
    assert dict(ex.skipped)["order_lines.csv"].startswith("no customer id")


def test_lookup_table_is_joined_through_the_column_customers_carry(tmp_path):
    files = {
        "customers.csv": "Customer ID,Signup Date,Plan Code\nC1,2024-01-01,P1\nC2,2024-01-02,P2\nC3,2024-01-02,P2\n",
        "plans.csv": "Plan Code,Plan Name,Price\nP1,Basic,10\nP2,Pro,20\n",
    }
    ex = load(write(tmp_path, files))
    assert [f.name for f in ex.files] == ["customers.csv"]  # never a source of customers
    assert [dict(lk) for lk in ex.lookups] == [{"name": "plans.csv", "joined_on": "Plan Code", "status": "joined"}]
    assert ex.customers["customer_id"].to_list() == ["C1", "C2", "C3"]
    assert ex.customers["attr_price"].to_list() == [10.0, 20.0, 20.0]
    assert ex.attributes["attr_plan_name"] == "category" and ex.attribute_sources["attr_price"] == "Price"


def test_lookup_table_without_a_shared_column_is_skipped_with_a_note(tmp_path):
    files = {
        "customers.csv": "Customer ID,Signup Date\nC1,2024-01-01\n",
        "plans.csv": "Plan Code,Plan Name,Price\nP1,Basic,10\nP2,Pro,20\n",
    }
    ex = load(write(tmp_path, files))
    assert "lookup" in dict(ex.skipped)["plans.csv"]
    assert ex.customers.height == 1


def test_customer_files_are_joined_on_id(tmp_path):
    files = {
        "customers.csv": "Customer ID,Signup Date\n001,2024-01-01\n002,2024-01-02\n003,2024-01-03\n",
        "demographics.csv": "customerID,Gender,Region\n001,F,North\n002,M,South\n",
        "status.csv": "cust_id,Churn Date\n002,2024-03-01\n",
    }
    ex = load(write(tmp_path, files))
    c = ex.customers.sort("customer_id")
    assert c["customer_id"].to_list() == ["001", "002", "003"]
    assert c["gender"].to_list() == ["F", "M", None]
    assert c["region"].to_list() == ["North", "South", None]
    assert c["churn_date"].to_list() == [None, dt.datetime(2024, 3, 1), None]
    assert c["signup_date"].to_list() == [dt.datetime(2024, 1, d) for d in (1, 2, 3)]


def test_events_stack_with_provenance_and_file_named_type(tmp_path):
    files = {
        "customers.csv": "customer_id,signup_date\n1,2024-01-01\n2,2024-01-01\n",
        "events_jan.csv": "customer_id,event_type,event_time\n1,Login,2024-01-10\n2,Support Ticket,2024-01-11\n",
        "events_feb.csv": "customer_id,event_type,event_time\n1,login,2024-02-10\n",
        "orders.csv": "Order ID,customer_id,order_date,total\nA,1,2024-01-15,9.5\nB,2,2024-01-16,\"1,200.00\"\n",
    }
    ex = load(write(tmp_path, files))
    ev = ex.events.sort("event_time")
    assert ev["event_type"].to_list() == ["login", "support_ticket", "orders", "orders", "login"]
    assert ev["__source"].to_list() == ["events_jan.csv", "events_jan.csv", "orders.csv", "orders.csv", "events_feb.csv"]
    assert ev.filter(pl.col("event_type") == "orders")["amount"].to_list() == [9.5, 1200.0]
    assert any("orders.csv" in n and "'orders'" in n for n in ex.notes)
    assert report(ex, "orders.csv").notes == ("orders.csv: no event type column; every row is a 'orders' event",)


def test_surveys_linked_by_email_ignoring_case_and_spaces(tmp_path):
    files = {
        "customers.csv": "customer_id,signup_date,Email\n1,2024-01-01,Ann@Example.com\n2,2024-01-01,bob@example.com\n",
        "survey.csv": (
            "Email Address,NPS,Comment\n ann@EXAMPLE.com ,3,too expensive\nBob@Example.Com,9,fine\n"
            "carol@example.com,5,who am I\n"
        ),
    }
    ex = load(write(tmp_path, files))
    s = ex.surveys.sort("customer_id")
    assert s["customer_id"].to_list() == ["1", "2"]
    assert s["reason_text"].to_list() == ["too expensive", "fine"]
    f = report(ex, "survey.csv")
    assert (f.role, f.rows_read, f.rows_loaded, f.rejected) == ("surveys", 3, 2, {"unknown_customer": 1})
    assert ex.rejects.filter(pl.col("source") == "survey.csv")["value"].to_list() == ["carol@example.com"]


@pytest.mark.parametrize(
    ("column", "customer_value", "event_value"),
    [("Handle", "@Ann_X", " @ann_x"), ("Loyalty Card", "1234-5678", "12345678"), ("Phone", "+44 20 7946 0018", "020 7946 0018")],
)
def test_events_linked_by_other_identifiers(tmp_path, column, customer_value, event_value):
    files = {
        "customers.csv": f"customer_id,signup_date,{column}\n1,2024-01-01,{customer_value}\n",
        "events.csv": f"{column},event_type,event_time\n{event_value},login,2024-02-01\n",
    }
    ex = load(write(tmp_path, files))
    assert ex.events["customer_id"].to_list() == ["1"]


def test_a_file_with_no_customer_id_anywhere_is_an_error(tmp_path):
    with pytest.raises(InputError, match="no file has a customer id"):
        load(write(tmp_path, {"plans.csv": "Plan,Price\nBasic,10\n"}))


def test_two_candidate_columns_is_an_error_with_the_config_line(tmp_path):
    body = "Customer ID,customer_id,Signup Date\n1,1,2024-01-01\n"
    with pytest.raises(MappingError) as err:
        load(write(tmp_path, {"c.csv": body}))
    assert "'Customer ID'" in err.value.message and "'customer_id'" in err.value.message
    assert '[columns."c.csv"]' in err.value.hint and 'customer_id = "Customer ID"' in err.value.hint


def test_toml_columns_override_resolves_the_ambiguity(tmp_path):
    write(tmp_path, {"c.csv": "Customer ID,customer_id,Signup Date\n1,2,2024-01-01\n"})
    ex = load(tmp_path, file_columns={"c.csv": {"customer_id": "customer_id"}})
    assert ex.customers["customer_id"].to_list() == ["2"]


def test_toml_overrides_mapping_and_roles(tmp_path):
    write(tmp_path, {
        "people.csv": "Ref,Joined On,Gone\nX1,2024-01-01,2024-02-01\nX2,2024-01-01,\n",
        "stuff.csv": "Ref,What,When\nX1,login,2024-01-05\n",
    })
    ex = load(tmp_path, columns={"customer_id": "Ref", "signup_date": "Joined On", "churn_date": "Gone",
                                 "event_type": "What", "event_time": "When"},
              files={"people.csv": "customers", "stuff.csv": "events"})
    assert report(ex, "people.csv").mapping == {"customer_id": "Ref", "signup_date": "Joined On", "churn_date": "Gone"}
    assert report(ex, "stuff.csv").role == "events"
    assert ex.events["event_type"].to_list() == ["login"]


def test_toml_skips_a_file(tmp_path):
    write(tmp_path, {"customers.csv": "customer_id,signup_date\n1,2024-01-01\n",
                     "old.csv": "customer_id,signup_date\n2,2024-01-01\n"})
    ex = load(tmp_path, files={"old.csv": "skip"})
    assert ex.customers["customer_id"].to_list() == ["1"]
    assert "old.csv" in dict(ex.skipped)


def test_toml_names_a_file_with_brackets_exactly(tmp_path):
    write(tmp_path, {"data[1].csv": "Ref,Joined\n1,2024-01-01\n"})
    ex = load(tmp_path, files={"data[1].csv": "customers"},
              file_columns={"data[1].csv": {"customer_id": "Ref", "signup_date": "Joined"}})
    assert report(ex, "data[1].csv").mapping == {"customer_id": "Ref", "signup_date": "Joined"}
    assert report(ex, "data[1].csv").role_reason == "set in churnwhy.toml"


def test_canonical_names_map_to_themselves():
    """Every canonical name is its own alias (reason_text was once missing from its family)."""
    from churnwhy.load.columns import ALIASES, key

    for canon, aliases in ALIASES.items():
        assert aliases[0] == key(canon), canon
