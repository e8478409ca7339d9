"""The terminal and CI surface (issue 18): piped width and tables that never cut a number, `check` on a saved
report.json, check/diff JSON and Markdown, `survival -f markdown`, `-h`, completion, and the documented
GitHub Actions workflow run step by step."""

from __future__ import annotations

import io
import json
import re
import shlex
from pathlib import Path

import pytest
from rich.table import Table
from typer.testing import CliRunner

from churnwhy.cli import app
from churnwhy.demo import generate
from churnwhy.render.fit import OutConsole

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
NUMBER = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?%?")


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ci") / "exports"
    generate(root, customers=500, seed=11, format="csv")
    return root


@pytest.fixture(scope="module")
def saved(exports, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ci-out") / "results"
    result = runner.invoke(app, ["analyze", str(exports), "--out", str(out), "-q", "-f", "json"])
    assert result.exit_code == 0, result.output
    return out / "report.json"


def _render(table: Table, width: int) -> str:
    buf = io.StringIO()
    console = OutConsole(file=buf, width=width, highlight=False, soft_wrap=False, emoji=False)
    console.print(table)
    return buf.getvalue()


@pytest.mark.parametrize("width", [40, 60, 80, 120])
def test_a_wide_table_never_cuts_a_number_at_any_width(width):
    table = Table(title="many numbers")
    table.add_column("name")
    numbers = [[f"{(i + 1) * 1234.5678 * (j + 1):,.2f}" for j in range(9)] for i in range(4)]
    for j in range(9):
        table.add_column(f"value {j}", justify="right")
    for i, row in enumerate(numbers):
        table.add_row(f"a fairly long row label {i}", *row)
    text = _render(table, width)
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= width
    tokens = set(NUMBER.findall(text))
    assert all(n in tokens for row in numbers for n in row)  # each number whole, on one line


def test_piped_output_is_120_wide_or_columns(exports):
    wide = runner.invoke(app, ["survival", str(exports), "-q"], env={"COLUMNS": None})
    narrow = runner.invoke(app, ["drivers", str(exports), "-q"], env={"COLUMNS": "60"})
    assert wide.exit_code == 0 and narrow.exit_code == 0, wide.output + narrow.output
    assert max(len(line) for line in wide.stdout.splitlines()) == 120
    assert max(len(line) for line in narrow.stdout.splitlines()) <= 60
    for out in (wide.stdout, narrow.stdout):
        assert "…" not in out
    # at 60 columns every driver column still has its values: no header over an empty column
    hrs = json.loads(runner.invoke(app, ["drivers", str(exports), "-q", "-f", "json"]).stdout)["drivers"]["effects"]
    shown = set(NUMBER.findall(narrow.stdout))
    assert all(f"{e['hazard_ratio']:.3g}" in shown for e in hrs if e.get("estimable") and e["hazard_ratio"] < 1000)


def test_check_reads_a_saved_report_and_prints_only_the_checks(saved):
    doc = json.loads(saved.read_text())
    rate = doc["summary"]["churn_rate"]
    ok = runner.invoke(app, ["check", str(saved), "--max-churn-rate", str(min(1.0, rate + 0.01)), "-f", "json"])
    breach = runner.invoke(app, ["check", str(saved), "--max-churn-rate", str(max(0.0, rate - 0.01)),
                                 "--min-retention", "90d=0.1", "-f", "markdown"])
    assert ok.exit_code == 0 and breach.exit_code == 1, ok.output + breach.output
    out = json.loads(ok.stdout)
    assert set(out) == {"schema_version", "churnwhy_version", "passed", "checks"} and out["passed"] is True
    assert out["checks"][0]["value"] == rate
    md = breach.stdout
    assert md.startswith("## churnwhy check: 1 of 2 breached")
    assert f"| {rate:.1%} | ≤ {max(0.0, rate - 0.01):.1%} | **FAIL** |" in md and "| ≥ 10.0% | pass |" in md


@pytest.mark.parametrize("args, needle", [
    (["--max-share", "why=brand_faild:0.4"], "brand_failed, better_offer, circumstance, unknown"),
    (["--max-share", "what=prise:0.4"], "product, experience, price, other"),
    (["--min-retention", "45d=0.5"], "30d, 90d, 180d, 365d"),
])
def test_check_usage_errors_exit_2_naming_what_is_valid(saved, args, needle):
    result = runner.invoke(app, ["check", str(saved), *args])
    assert result.exit_code == 2 and needle in result.stderr, result.output


def test_diff_markdown_has_a_heading_percentages_and_json_a_version(saved):
    md = runner.invoke(app, ["diff", str(saved), str(saved), "-f", "markdown"])
    js = runner.invoke(app, ["diff", str(saved), str(saved), "-f", "json"])
    assert md.exit_code == 0 and js.exit_code == 0
    assert md.stdout.startswith("## churnwhy diff: ") and "No significant change" in md.stdout
    assert re.search(r"\| churn_rate \| \d+\.\d% \| \d+\.\d% \| \+0\.0 pt \|", md.stdout)
    doc = json.loads(js.stdout)
    assert doc["schema_version"] and doc["churnwhy_version"] and doc["changes"]


def test_survival_markdown(exports):
    result = runner.invoke(app, ["survival", str(exports), "-f", "markdown", "-q"])
    assert result.exit_code == 0, result.output
    md = result.stdout
    assert md.startswith("# Retention\n") and "## Retention at horizons" in md and "## Cohort retention" in md
    assert "|---|---:|" in md and "\x1b" not in md and "┃" not in md


def test_short_help_and_completion():
    for args in (["-h"], ["analyze", "-h"], ["check", "-h"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0 and "Usage" in result.stdout, args
    completion = runner.invoke(app, ["--show-completion", "bash"])
    assert completion.exit_code == 0 and "_CHURNWHY_COMPLETE" in completion.stdout


def test_every_analysing_command_takes_the_shared_options():
    for command in ("analyze", "check", "report", "inspect", "reasons", "drivers", "survival", "risk"):
        text = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"}).stdout
        for option in ("--config", "--as-of", "--strict", "--quiet", "--debug"):
            assert option in text, (command, option)


def test_the_documented_workflow_runs_in_order(exports, tmp_path, monkeypatch):
    """docs/retention-workflow.yml step by step: its churnwhy commands, in its order, on generated exports;
    the diff runs `if: always()` and before the thresholds; the report is kept as an artifact."""
    text = (ROOT / "docs" / "retention-workflow.yml").read_text(encoding="utf-8")
    steps = text.split("\n      - ")[1:]
    names = [re.match(r"(?:name: )?(.*)", s).group(1) for s in steps]
    keep = next(s for s in steps if "upload-artifact" in s)
    diff = next(s for s in steps if "churnwhy diff" in s)
    check = next(s for s in steps if "churnwhy check" in s)
    assert "if: always()" in keep and "if: always()" in diff and "path: results/report.json" in keep
    assert steps.index(keep) < steps.index(diff) < steps.index(check), names
    monkeypatch.chdir(tmp_path)
    (tmp_path / "exports").symlink_to(exports)
    commands = [re.sub(r"\s+", " ", c).strip() for c in re.findall(r"(churnwhy (?:analyze|diff|check)[^>]*)>>", text)]
    assert [c.split()[1] for c in commands] == ["analyze", "diff", "check"]
    previous = tmp_path / "previous"
    previous.mkdir()
    for command in commands:
        result = runner.invoke(app, shlex.split(command)[1:])
        assert result.exit_code in (0, 1), (command, result.output)  # 1: a threshold the demo breaches
        assert result.stdout.startswith(("# ", "## ")), command
        if command.split()[1] == "analyze":
            (previous / "report.json").write_bytes((tmp_path / "results" / "report.json").read_bytes())
