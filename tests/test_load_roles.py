"""Issue 14: real exports in, the right customer table out. Small files written here, shaped like real exports:
outcome columns, lookup tables, dates by name and value, tenure-and-flag data without dates, ids by content,
whole-row duplicates, ambiguous ids, and the assumptions every output states."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from loadkit import load, table, write
from typer.testing import CliRunner

from churnwhy.cli import app
from churnwhy.config import Config
from churnwhy.errors import MappingError
from churnwhy.load import load_exports


def runner() -> CliRunner:
    try:
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    except TypeError:
        return CliRunner()


def invoke(*args):  # type: ignore[no-untyped-def]
    result = runner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.stdout + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def merged_telco(n: int = 300, seed: int = 1) -> pl.DataFrame:
    """One merged CRM table: churn label, value, score, category and reason beside real attributes, plus a
    leaked model score under a neutral name."""
    rng = np.random.default_rng(seed)
    contract = rng.choice(["Month-to-month", "One year", "Two year"], n)
    churn = rng.random(n) < np.where(contract == "Month-to-month", 0.45, 0.1)
    return pl.DataFrame({
        "CustomerID": [f"{i:04d}-ABCDE" for i in range(n)],
        "Count": [1] * n,
        "Contract": contract,
        "Monthly Charges": np.round(rng.uniform(20, 110, n), 2),
        "Tenure Months": rng.integers(1, 72, n),
        "Churn Label": np.where(churn, "Yes", "No"),
        "Churn Value": churn.astype(int),
        "Churn Score": np.where(churn, rng.integers(40, 100, n), rng.integers(5, 80, n)),
        "Churn Category": rng.choice(["Competitor", "Price", "Attitude"], n),
        "Churn Reason": rng.choice(["Competitor offered more data", "Price too high"], n),
        "model_p": np.where(churn, rng.uniform(0.9, 1.0, n), rng.uniform(0.0, 0.1, n)).round(4),
    }).with_columns(pl.when(pl.col("Churn Value") == 1).then(pl.col(c)).alias(c) for c in ("Churn Category", "Churn Reason"))


def test_outcome_columns_are_never_segments_attributes_or_drivers(tmp_path):
    write(tmp_path, {"telco.csv": merged_telco().write_csv()})
    ex = load(tmp_path)
    assert set(ex.outcome_columns) >= {"Churn Label", "Churn Value", "Churn Score", "Churn Category", "Churn Reason",
                                       "model_p"}  # model_p: by content (it separates churners)
    used = set(ex.segments) | {ex.attribute_sources[a] for a in ex.attributes}
    assert not used & set(ex.outcome_columns)
    assert "contract" in ex.segments and ex.attributes["attr_monthly_charges"] == "number"
    assert "attr_count" not in ex.attributes  # a constant says nothing
    t = table(tmp_path)
    churned = t.frame.filter(pl.col("churned"))
    assert churned["reason_text"].null_count() == 0  # the stated reason column is read as the reason
    assert t.n_customers == 300 and set(t.attributes) == set(ex.attributes)
    assert t.frame["attr_monthly_charges"].dtype == pl.Float64


def test_inspect_and_json_list_the_outcome_columns(tmp_path):
    write(tmp_path, {"telco.csv": merged_telco().write_csv()})
    out = invoke("inspect", tmp_path, "--format", "markdown")
    assert out.exit_code == 0
    assert "Outcome columns (not used as segments or drivers):** Churn Label" in out.stdout
    doc = json.loads(invoke("analyze", tmp_path, "--format", "json", "--quiet").stdout)
    assert "model_p" in doc["input"]["outcome_columns"]
    assert not {"churn_value", "churn_score", "model_p"} & set(doc["input"]["segments"])
    assert doc["input"]["attributes"]["attr_monthly_charges"] == "number"


def five_tables(n: int = 60) -> dict[str, str]:
    ids = [f"{i:04d}-QRDMV" for i in range(n)]
    zips = [str(90000 + i % 7) for i in range(n)]
    return {
        "demographics.csv": "Customer ID,Count,Gender\n" + "".join(f"{c},1,{'FM'[i % 2]}\n" for i, c in enumerate(ids[:-1])),
        "location.csv": "Customer ID,Count,Zip Code\n" + "".join(f"{c},1,{z}\n" for c, z in zip(ids, zips, strict=True)),
        "population.csv": "ID,Zip Code,Population\n" + "".join(f"{k + 1},{90000 + k},{1000 * (k + 1)}\n" for k in range(20)),
        "services.csv": "Customer ID,Tenure in Months\n" + "".join(f"{c},{1 + i % 70}\n" for i, c in enumerate(ids)),
        "status.csv": "Customer ID,Customer Status,Churn Label,Churn Value\n"
                      + "".join(f"{c},{'Churned' if i % 4 == 0 else 'Stayed'},{'Yes' if i % 4 == 0 else 'No'},"
                                f"{int(i % 4 == 0)}\n" for i, c in enumerate(ids)),
    }


def test_lookup_table_is_joined_by_content_and_never_adds_customers(tmp_path):
    write(tmp_path, five_tables())
    t = table(tmp_path)
    assert (t.as_of, t.n_customers, t.n_churned) == (None, 60, 15)  # not 80: population's IDs are no customers
    ex = load(tmp_path)
    assert [lk["name"] for lk in ex.lookups] == ["population.csv"]
    assert "population.csv" not in [f.name for f in ex.files]
    pop = t.frame.sort("customer_id")["attr_population"].to_list()
    assert pop[:8] == [1000.0, 2000.0, 3000.0, 4000.0, 5000.0, 6000.0, 7000.0, 1000.0]
    assert any("disagree" in n and "demographics.csv" in n for n in ex.notes)  # one customer missing there
    assert {"Churn Label", "Churn Value", "Customer Status"} <= set(ex.outcome_columns)


def test_dates_by_name_broad_vocabulary_and_score_with_a_scale_suffix(tmp_path):
    write(tmp_path, {
        "crm.csv": "Customer ID,Joined On,Closed On\n1,2023-01-05,2023-06-01\n2,2023-02-01,\n3,2023-03-01,2024-01-10\n",
        "exit_survey.csv": "Customer ID,Likelihood to recommend (0-10),Comment\n1,3,too pricey\n3,9,moved abroad\n",
    })
    t = table(tmp_path)
    assert t.n_churned == 2
    ex = load(tmp_path)
    maps = {f.name: f.mapping for f in ex.files}
    assert maps["crm.csv"]["signup_date"] == "Joined On" and maps["crm.csv"]["churn_date"] == "Closed On"
    assert maps["exit_survey.csv"]["score"] == "Likelihood to recommend (0-10)"


def test_dates_by_value_when_names_say_nothing(tmp_path):
    write(tmp_path, {"crm.csv": "Customer ID,d1,d2,Plan\n1,2023-01-05,2023-06-01,a\n2,2023-02-01,,b\n3,2023-03-01,,a\n"})
    ex = load(tmp_path)
    assert ex.files[0].mapping["signup_date"] == "d1" and ex.files[0].mapping["churn_date"] == "d2"


def test_zero_churners_beside_an_end_like_date_is_a_warning_naming_it(tmp_path):
    # Two end-like columns: neither is taken for the churn date, and nothing else says who churned.
    write(tmp_path, {"crm.csv": "Customer ID,Joined On,Deactivated,Terminated\n1,2023-01-05,2023-06-01,\n"
                                "2,2023-02-01,,2023-05-01\n3,2023-03-01,,\n"})
    ex = load(tmp_path)
    assert any("'Deactivated'" in w and "churn_date" in w for w in ex.warnings)
    assert any("'Terminated'" in w for w in ex.warnings)


def test_tenure_and_flag_without_dates_render_without_none(tmp_path):
    rows = "".join(f"{i},{i % 11},{'Yes' if i % 3 == 0 else 'No'},{'ab'[i % 2]}\n" for i in range(1, 121))
    write(tmp_path / "in", {"bank.csv": f"CustomerId,Tenure,Exited,Region\n{rows}"})
    folder = tmp_path / "in"
    doc = json.loads(invoke("analyze", folder, "--format", "json", "--quiet").stdout)
    a = doc["input"]["assumptions"]
    assert doc["as_of"] is None and a["analysis_date"].startswith("not applicable")
    assert a["tenure_unit"].startswith("years") and a["outcome_columns"] == ["Exited"]
    for fmt in ("markdown", "table"):
        out = invoke("analyze", folder, "--format", fmt, "--quiet")
        assert out.exit_code == 0 and "None" not in out.stdout, out.stdout
        assert "not applicable" in out.stdout and "years" in out.stdout
    html = invoke("report", folder, "-o", tmp_path / "r.html", "--quiet")
    assert html.exit_code == 0, html.stdout + html.stderr
    assert "None" not in (tmp_path / "r.html").read_text()


def test_ids_by_content_and_other_tables_keyed_the_same_way(tmp_path):
    ids = ["XQ+ab/1=", "Yz9+cd/2=", "k0L/ef+3=", "pp+gh/4="]
    write(tmp_path, {
        "train.csv": "msno,is_churn\n" + "".join(f"{m},{i % 2}\n" for i, m in enumerate(ids)),
        "transactions.csv": "msno,transaction_date,actual_amount_paid,plan_list_price\n"
                            + "".join(f"{m},2017030{i + 1},{99 + i},149\n" for i, m in enumerate(ids)),
    })
    ex = load(tmp_path)
    assert sorted(ex.customers["customer_id"].to_list()) == sorted(ids)
    assert {f.name: f.mapping.get("amount") for f in ex.files}["transactions.csv"] == "actual_amount_paid"
    assert ex.reject_counts() == {}
    t = table(tmp_path)
    assert (t.n_customers, t.n_churned) == (4, 2)


def test_integer_id_by_content_needs_an_id_like_name(tmp_path):
    write(tmp_path, {"cards.csv": "CLIENTNR,Age,Attrition_Flag,Months_on_book\n"
                                  "768805383,45,Existing Customer,39\n818770008,49,Attrited Customer,44\n"})
    ex = load(tmp_path)
    assert ex.files[0].mapping["customer_id"] == "CLIENTNR"
    assert table(tmp_path).n_churned == 1


def test_files_without_ids_make_each_row_a_customer(tmp_path):
    head = "State,Account length,Churn\n"
    write(tmp_path, {"churn-80.csv": head + "KS,128,FALSE\nOH,107,TRUE\nOH,107,TRUE\n",
                     "churn-20.csv": head + "NJ,137,False\n"})
    t = table(tmp_path)
    assert (t.n_customers, t.n_churned, t.tenure_unit) == (4, 2, "days")  # identical rows are two customers
    ex = load(tmp_path)
    assert sum("each row is one customer" in n for n in ex.notes) == 2


def test_event_duplicates_compare_whole_rows_and_dollar_value_is_the_amount(tmp_path):
    write(tmp_path, {"purchases.csv": "customer_id,date,quantity,dollar_value\n"
                                      "1,1997-01-01,1,11.77\n1,1997-01-01,2,11.77\n1,1997-01-01,2,11.77\n"
                                      "2,1997-01-12,1,12.00\n"})
    ex = load(tmp_path)
    assert ex.files[0].mapping["amount"] == "dollar_value"
    assert ex.reject_counts() == {"duplicate_row": 1}  # the same day and value, another quantity: kept
    assert ex.events["amount"].sum() == pytest.approx(35.54)


def test_ambiguous_customer_ids_exit_2_naming_both_and_the_setting(tmp_path):
    write(tmp_path, {"crm.csv": "client_id,account_id,Churn,tenure\n1,A,Yes,3\n2,B,No,30\n"})
    with pytest.raises(MappingError, match="client_id.*account_id"):
        load(tmp_path)
    out = invoke("inspect", tmp_path)
    assert out.exit_code == 2
    text = " ".join((out.stdout + out.stderr).split())
    assert "'client_id', 'account_id'" in text and "[columns" in text and "customer_id =" in text
    write(tmp_path, {"churnwhy.toml": '[columns]\ncustomer_id = "account_id"\n'})
    assert load_exports(tmp_path, Config.load(tmp_path)).customers["customer_id"].to_list() == ["A", "B"]


def test_headline_states_every_assumption(tmp_path):
    files = five_tables()
    write(tmp_path, files)
    out = invoke("analyze", tmp_path, "--quiet")
    assert out.exit_code == 0
    text = " ".join(out.stdout.split())
    for words in ("Churn rule", "Tenure unit", "months", "not applicable", "Outcome columns", "Churn Label",
                  "population.csv: joined through 'Zip Code'"):
        assert words in text, words


def test_numeric_status_codes_beside_a_churn_flag_are_not_rejected(tmp_path):
    """A 1/2 status scale (1 active, 2 non-active) is an outcome column, not yes/no words with bad values."""
    write(tmp_path, {"churn.csv": "Subscription  Length,Status,Churn\n38,1,0\n39,2,0\n12,2,1\n40,1,0\n"})
    t = table(tmp_path)
    assert (t.n_customers, t.n_churned) == (4, 1)
    assert load(tmp_path).reject_counts() == {}


def test_a_score_in_the_customers_file_is_an_attribute_unless_it_separates_churn(tmp_path):
    rows = "".join(f"{i},{1 + i % 5},{'Yes' if i % 3 == 0 else 'No'},{i % 40 + 1}\n" for i in range(200))
    write(tmp_path, {"crm.csv": f"CustomerID,Satisfaction Score,Churn,Tenure\n{rows}"})
    t = table(tmp_path)
    assert t.attributes["attr_satisfaction_score"] == "number"
    assert t.frame["attr_satisfaction_score"].max() == 5.0
    leaked = "".join(f"{i},{1 if i % 3 == 0 else 5},{'Yes' if i % 3 == 0 else 'No'},{i % 40 + 1}\n" for i in range(200))
    write(tmp_path, {"crm.csv": f"CustomerID,Satisfaction Score,Churn,Tenure\n{leaked}"})
    assert "attr_satisfaction_score" not in table(tmp_path).attributes
    assert "Satisfaction Score" in load(tmp_path).outcome_columns


def test_a_contract_end_date_is_not_the_churn_date(tmp_path):
    write(tmp_path, {"crm.csv": "Customer ID,Joined On,Contract End Date,Churn\n1,2023-01-05,2023-06-01,No\n"
                                "2,2023-02-01,2024-02-01,Yes\n3,2023-03-01,2023-09-01,No\n"})
    ex = load(tmp_path)
    assert "churn_date" not in ex.files[0].mapping and ex.files[0].mapping["signup_date"] == "Joined On"
