"""Hostile and broken command lines, configurations and output paths (issues 14 and 20).

Each case builds its input here. What must hold everywhere: the documented exit code (0 ok, 1 only for a
`check` breach, 2 usage/input/config/output error, 3 a bug in churnwhy), never a traceback, nothing written
where it should not be, and nothing from the data obeyed by the terminal. docs/adversarial.md lists each case.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import jsonschema
import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

import churnwhy.pipeline as pipeline
import churnwhy.render.outputs as outputs
from churnwhy.cli import app
from churnwhy.render.safe import md_cell

runner = CliRunner()
HOSTILE_PLANS = ("basic", "[/bold]", "[link=https://example.org]click[/link]", "tv\x1b]8;;https://example.org\x07y")
OUTPUT_NAMES = {"customers.parquet", "reasons.parquet", "report.json"}


def build(folder: Path, *, n: int = 240, plans: tuple[str, ...] = ("basic", "plus"), seed: int = 3) -> Path:
    """Customers with signup and cancel dates and a plan, and exit-survey reason codes for half the churners."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    start = [dt.date(2023, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 300, n)]
    churned = rng.random(n) < 0.4
    end = [s + dt.timedelta(days=int(d)) if c else None for s, c, d in zip(start, churned, rng.integers(20, 400, n))]
    ids = [f"C{i:04d}" for i in range(n)]
    pl.DataFrame({"customer_id": ids, "signup_date": start, "cancel_date": end,
                  "plan": [plans[i % len(plans)] for i in range(n)]}).write_csv(folder / "customers.csv")
    codes = ["TOO_EXPENSIVE", "POOR_SERVICE", "MOVED", "COMPETITOR"]
    said = [i for i in range(n) if churned[i] and i % 2 == 0]
    texts = ["too expensive, write to jane.doe@example.com", "the delivery was late again", "moved abroad",
             "switched to a competitor with a better offer"]
    pl.DataFrame({"customer_id": [ids[i] for i in said], "reason_code": [codes[i % 4] for i in said],
                  "comment": [texts[i % 4] for i in said]}).write_csv(folder / "surveys.csv")
    return folder


def run(*args: str | Path):  # type: ignore[no-untyped-def]
    result = runner.invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("adv") / "exports")


# --- sections fail one way; bugs exit 3; --strict -----------------------------------------------------------


def test_a_bug_in_one_section_marks_it_failed_and_the_others_run(exports, monkeypatch):
    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise ValueError("boom\nC0001 on a second line must not be shown")

    monkeypatch.setattr(pipeline, "_drivers", broken)
    result = run("analyze", exports, "--format", "json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["drivers"] == {"status": "failed", "reason": "could not compute: ValueError: boom"}
    jsonschema.validate(doc, json.loads(files("churnwhy").joinpath("schemas/report.schema.json").read_text()))
    assert doc["survival"]["status"] == "ok" and doc["reasons"]["status"] == "ok"
    assert "drivers section could not compute: ValueError: boom" in result.stderr
    assert "C0001" not in result.stderr


def test_strict_turns_a_failed_section_into_exit_2(exports, monkeypatch):
    monkeypatch.setattr(pipeline, "_survival", lambda *a, **k: 1 / 0)
    result = run("analyze", exports, "--strict", "--format", "json")
    assert result.exit_code == 2
    assert "--strict: the survival section could not compute: ZeroDivisionError" in result.stderr
    assert result.stdout == ""


def test_check_never_reports_a_failed_section_as_a_breached_threshold(exports, monkeypatch):
    monkeypatch.setattr(pipeline, "_survival", lambda *a, **k: 1 / 0)
    result = run("check", exports, "--min-retention", "90d=0.5")
    assert result.exit_code == 3  # 1 would read as "retention fell below 50%"
    assert "check cannot judge the thresholds: the survival section could not compute" in result.stderr


def test_a_write_that_fails_mid_run_is_exit_2_and_changes_nothing(exports, tmp_path, monkeypatch):
    import churnwhy.render.files as files_module

    def full(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise OSError(28, "No space left on device")

    target = tmp_path / "report.html"
    monkeypatch.setattr(files_module.os, "replace", full)
    result = run("report", exports, "-o", target, "--quiet")
    assert result.exit_code == 2 and "No space left on device" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_bug_outside_a_section_exits_3_with_one_line_and_the_traceback_only_with_debug(exports, monkeypatch):
    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise KeyError("customer_ref")

    monkeypatch.setattr(pipeline, "load_table", broken)
    plain = run("analyze", exports)
    assert plain.exit_code == 3  # never 1: that is check's "threshold breached"
    assert plain.stderr.splitlines()[0] == "internal error: KeyError: 'customer_ref'"
    debug = runner.invoke(app, ["analyze", str(exports), "--debug"])
    assert debug.exit_code == 3
    assert "Traceback (most recent call last)" in debug.stderr and "in broken" in debug.stderr


def test_every_command_maps_bugs_to_exit_3_and_offers_debug():
    """handle_errors wraps every command (it adds --debug): a command without it would crash with exit 1."""
    commands = [c.name or c.callback.__name__ for c in app.registered_commands]
    assert {"analyze", "check", "diff", "report", "inspect", "init", "demo"} <= set(commands)
    for name in commands:
        result = runner.invoke(app, [name, "--help"])
        assert result.exit_code == 0 and "--debug" in result.output, name


def test_no_module_is_imported_off_the_main_thread_during_analyze(exports, tmp_path):
    """Issues 14 and 20: importing on a background thread raced the main thread (`_DeadlockError`, hangs).
    A fresh process records every real import (a sys.meta_path finder sees only modules not yet loaded) and the
    thread it happened on; scripts/repeat_analyze.py checks the whole run many times over."""
    script = tmp_path / "spy.py"
    script.write_text(
        "import sys, threading\n"
        "off_main = []\n"
        "class Spy:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if threading.current_thread() is not threading.main_thread():\n"
        "            off_main.append((threading.current_thread().name, name))\n"
        "        return None\n"
        "sys.meta_path.insert(0, Spy())\n"
        "import churnwhy\n"
        f"report = churnwhy.analyze({str(exports)!r})\n"
        "assert report.drivers.ok or report.drivers.skipped, report.drivers\n"
        "print(off_main)\n", encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


# --- configuration ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("toml", "names"), [
    ("[reasons]\nmin_confidance = 0.5\n", ["min_confidance", "did you mean 'min_confidence'"]),
    ("[drivers]\nhorizon = 180\n", ["horizon", "did you mean 'horizon_days'"]),
    ("horizons = 30\n", ["horizons must be a list of whole numbers", "horizons = [30, 90, 180, 365]"]),
    ('files = "x"\n', ["[files] must be a table"]),
    ("as_of = 2024\n", ["as_of must be a date", '"2024-12-31"']),
    ('seed = "x"\n', ["seed must be a whole number", "seed = 0"]),
    ('segments = "plan"\n', ["segments must be a list of names", '["plan", "region"]']),
    ("lookback_days = true\n", ["lookback_days must be a whole number"]),
    ('[columns]\ncustomer_id = 3\n', ["[columns] customer_id"]),
    ('strict = "yes"\n', ["strict must be true or false"]),
    ("horizon = [30]\n", ["unknown setting 'horizon'", "did you mean 'horizons'"]),
    ('[dates]\nformats = "%d/%m/%Y"\n', ["[dates] unknown key 'formats'", "did you mean 'format'"]),
    ("[drivers]\nn_bootstrap = \"many\"\n", ["n_bootstrap must be a positive whole number"]),
], ids=["reasons-misspelt", "drivers-misspelt", "horizons-int", "files-str", "as_of-int", "seed-str",
        "segments-str", "lookback-bool", "columns-int", "strict-str", "unknown-top", "dates-misspelt",
        "drivers-type"])
def test_a_wrong_config_value_is_exit_2_naming_the_key_and_the_fix(exports, tmp_path, toml, names):
    config = tmp_path / "churnwhy.toml"
    config.write_text(toml, encoding="utf-8")
    result = run("inspect", exports, "--config", config)
    assert result.exit_code == 2, result.output
    message = " ".join(result.stderr.split())
    assert message.startswith(f"error: {config}:")
    for name in names:
        assert name in message


def test_an_analysis_date_centuries_after_the_data_is_exit_2_not_a_crash(exports):
    result = run("analyze", exports, "--as-of", "9999-12-31")  # was: ValueError "year 10000 is out of range"
    assert result.exit_code == 2 and "years after the latest date in the data" in result.stderr


# --- privacy and terminal injection ----------------------------------------------------------------------


def test_by_an_identifier_column_is_refused_and_no_id_is_printed(exports):
    for command in ("analyze", "survival"):
        result = run(command, exports, "--by", "customer_id")
        assert result.exit_code == 2
        assert "identifies customers" in result.stderr
        assert "C0001" not in result.output


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("hostile") / "exports", plans=HOSTILE_PLANS)


def test_markup_links_and_escape_sequences_in_segment_values_are_shown_not_obeyed(hostile):
    result = run("analyze", hostile, "--by", "plan")
    assert result.exit_code == 0, result.output  # "[/bold]" once crashed the table view (MarkupError)
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "plan=[/bold]" in result.stdout
    assert "[link=https://example.org]click" in result.stdout  # the markup as text, not a hyperlink
    assert "tv\\x1b]8;;https://example.org\\x07y" in result.stdout


def test_paths_with_markup_in_their_names_are_printed_as_written(tmp_path):
    out = tmp_path / "d[/bold][link=https://example.org]x"
    result = run("demo", out, "-n", "100", "--clean", "-f", "csv")  # the progress notes name the folder
    assert result.exit_code == 0, result.output  # was: MarkupError, exit 3
    assert f"planted truth in {out / 'truth.json'}" in result.stderr


def test_file_names_with_newlines_pipes_and_escapes_stay_on_their_markdown_row(tmp_path):
    folder = build(tmp_path / "exports")
    (folder / "customers.csv").rename(folder / "cust|omers\n\x1b[31mred.csv")
    result = run("inspect", folder, "--format", "markdown")
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout
    row = next(line for line in result.stdout.splitlines() if "red.csv" in line)
    assert row.startswith("| cust\\|omers \\\\x1b\\[31mred.csv | customers |")  # renders as cust|omers \x1b[31mred.csv
    table = result.stdout[result.stdout.index("| file |"):].strip().splitlines()
    assert all(len(re.findall(r"(?<!\\)\|", line)) == 6 for line in table[2:])  # five cells on every row
    shown = run("inspect", folder)
    assert shown.exit_code == 0 and "\x1b[31m" not in shown.stdout


# --- output paths, checked before the analysis ------------------------------------------------------------


def _no_analysis(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def fail(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("the analysis ran before the output path was checked")

    monkeypatch.setattr(pipeline, "load_table", fail)


def test_out_at_an_existing_file_is_exit_2_before_the_analysis(exports, tmp_path, monkeypatch):
    _no_analysis(monkeypatch)
    target = tmp_path / "results"
    target.write_text("keep me")
    result = run("analyze", exports, "--out", target)
    assert result.exit_code == 2 and "is a file, not a folder" in result.stderr
    assert target.read_text() == "keep me"


def test_out_inside_the_input_folder_is_exit_2(tmp_path, monkeypatch):
    folder = build(tmp_path / "exports")
    _no_analysis(monkeypatch)
    result = run("analyze", folder, "--out", folder / "results")
    assert result.exit_code == 2 and "inside the input folder" in result.stderr
    assert not (folder / "results").exists()
    rejects = run("analyze", folder, "--rejects", folder / "rejects.csv")
    assert rejects.exit_code == 2 and "the next run would read it" in rejects.stderr


def test_rejects_and_report_output_at_a_folder_are_exit_2(exports, tmp_path, monkeypatch):
    _no_analysis(monkeypatch)
    for args in (("inspect", exports, "--rejects", tmp_path), ("analyze", exports, "--rejects", tmp_path),
                 ("report", exports, "-o", tmp_path)):
        result = run(*args)
        assert result.exit_code == 2 and "is a folder" in result.stderr, args


def test_usage_mistakes_are_exit_2_before_the_analysis_never_a_breach_or_a_crash(exports, tmp_path, monkeypatch):
    plots = tmp_path / "plots"
    plots.write_text("a file")
    _no_analysis(monkeypatch)
    for args, message in (
        (("check", exports, "--max-share", "why=brand_faild:0.4"), "'brand_faild' is not a why reason"),  # was exit 1
        (("analyze", exports, "--horizon", "0"), "--horizon must be a positive number of days"),
        (("survival", exports, "--plots", plots), "--plots"),  # was FileExistsError, exit 3
    ):
        result = run(*args)
        assert result.exit_code == 2 and message in result.stderr, (args, result.output)


def test_out_in_a_folder_that_cannot_be_written_is_exit_2(exports, tmp_path, monkeypatch):
    """A real read-only folder where the test can make one (root writes anywhere), else a refused probe."""
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    if os.geteuid() == 0:
        def refuse(*args, **kwargs):  # type: ignore[no-untyped-def]
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr("churnwhy.render.files.tempfile.mkstemp", refuse)
    _no_analysis(monkeypatch)
    result = run("analyze", exports, "--out", locked / "results")
    assert result.exit_code == 2 and "cannot write in" in result.stderr
    assert not (locked / "results").exists()


def test_out_never_replaces_a_folder_holding_other_files(exports, tmp_path, monkeypatch):
    target = tmp_path / "documents"
    target.mkdir()
    (target / "thesis.docx").write_text("years of work")
    _no_analysis(monkeypatch)
    result = run("analyze", exports, "--out", target)
    assert result.exit_code == 2 and "holds other files (thesis.docx)" in result.stderr
    assert (target / "thesis.docx").read_text() == "years of work"


# --- the output set: atomic, umask, determinism, formula-safe CSV -------------------------------------------


def test_out_is_swapped_in_as_a_set_and_an_interrupt_leaves_the_old_set(exports, tmp_path, monkeypatch):
    out = tmp_path / "results"
    old_mask = os.umask(0o027)
    try:
        first = run("analyze", exports, "--out", out, "--quiet")
    finally:
        os.umask(old_mask)
    assert first.exit_code == 0, first.output
    assert OUTPUT_NAMES <= {p.name for p in out.iterdir()}
    assert {oct(p.stat().st_mode & 0o777) for p in out.iterdir()} == {oct(0o640)}  # the umask, not 0600
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def interrupted(path, document):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt  # Ctrl-C after the Parquet tables, before report.json

    monkeypatch.setattr(outputs, "write_json", interrupted)
    second = run("analyze", exports, "--out", out, "--quiet", "--as-of", "2024-03-01")
    assert second.exit_code == 130
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["results"]  # no staging folder left behind


def test_every_output_file_is_identical_bit_for_bit_across_runs(exports, tmp_path):
    for name in ("one", "two"):
        assert run("analyze", exports, "--out", tmp_path / name, "--quiet").exit_code == 0
    one = {p.name: p.read_bytes() for p in (tmp_path / "one").iterdir()}
    two = {p.name: p.read_bytes() for p in (tmp_path / "two").iterdir()}
    assert OUTPUT_NAMES <= set(one) and one == two


def test_rejected_values_that_look_like_formulas_are_neutralised_in_the_rejects_csv(tmp_path):
    folder = build(tmp_path / "exports")
    rows = (folder / "customers.csv").read_text().splitlines()
    rows.append('C9001,=HYPERLINK("https://example.org"),,basic')
    rows.append("C9002,@SUM(A1:A9),,basic")
    rows.append("C9003,-1+1,,basic")
    (folder / "customers.csv").write_text("\n".join(rows) + "\n")
    rejects = tmp_path / "rejects.csv"
    assert run("inspect", folder, "--rejects", rejects, "--quiet").exit_code == 0
    written = pl.read_csv(rejects, infer_schema=False)
    values = written.filter(pl.col("reason") == "bad_date")["value"].to_list()
    assert "'=HYPERLINK(\"https://example.org\")" in values and "'@SUM(A1:A9)" in values and "'-1+1" in values
    assert not any(v[0] in "=+-@" for v in written.drop_nulls("value")["value"] if v)


def test_include_examples_adds_the_same_masked_quotes_to_every_format_and_nothing_without_it(exports, tmp_path):
    quotes = {}
    for fmt in ("json", "markdown", "table"):
        plain = run("analyze", exports, "--format", fmt, "--quiet")
        assert plain.exit_code == 0 and "delivery was late" not in plain.stdout and "@example.com" not in plain.stdout
        shown = run("analyze", exports, "--format", fmt, "--quiet", "--include-examples")
        assert shown.exit_code == 0 and "jane.doe@example.com" not in shown.stdout
        quotes[fmt] = shown.stdout
    doc = json.loads(quotes["json"])
    jsonschema.validate(doc, json.loads(files("churnwhy").joinpath("schemas/report.schema.json").read_text()))
    examples = doc["reasons"]["examples"]
    assert examples and all(set(q) == {"why", "quote"} for q in examples)
    for q in examples:
        assert md_cell(q["quote"]) in quotes["markdown"] and q["quote"] in quotes["table"]
    html = tmp_path / "report.html"
    assert run("report", exports, "-o", html, "--quiet", "--include-examples").exit_code == 0
    assert all(q["quote"].replace("&", "&amp;") in html.read_text() for q in examples)
