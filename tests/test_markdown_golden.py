"""Golden files for rendered output that CI summaries depend on (regenerate with UPDATE_GOLDEN=1)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from churnwhy.cli import app
from churnwhy.demo import generate

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("golden") / "exports"
    generate(out, customers=800, seed=17, format="csv", messy=False)
    return out


@pytest.mark.parametrize("command,name", [
    (["analyze", "--format", "markdown"], "analyze.md"),
    (["inspect", "--format", "markdown"], "inspect.md"),
])
def test_markdown_matches_golden(exports, command, name):
    result = CliRunner().invoke(app, [command[0], str(exports), *command[1:], "--quiet"])
    assert result.exit_code == 0, result.output
    text = result.stdout.replace(str(exports), "EXPORTS")
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1" or not path.exists():
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_huge_hazard_ratio_bounds_stay_short():
    """A separated feature's CI bound (1e300) must not print as a 300-digit number."""
    from churnwhy.render.markdown import _ratio

    assert _ratio(1e300) == "1.00e+300" and _ratio(2.014) == "2.01" and _ratio(None) == "–"
