"""What every hostile-input case checks: no traceback, the exit code, and rows read = loaded + rejected."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from churnwhy.cli import app

CUSTOMERS = "customer_id,signup_date,churn_date,plan\n" + "".join(
    f"{i},2024-01-{i % 28 + 1:02d},{'2024-06-01' if i % 3 == 0 else ''},{'ab'[i % 2]}\n" for i in range(1, 41))
EVENT_HEADER = "customer_id,event_time,event_type\n"


def events(n: int = 40) -> str:
    return EVENT_HEADER + "".join(f"{i % 40 + 1},2024-03-{i % 28 + 1:02d},login\n" for i in range(n))


def write(folder: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return folder


def run(*args: object):  # type: ignore[no-untyped-def]
    """The CLI's result; never a traceback, whatever the exit code."""
    try:
        runner = CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    except TypeError:
        runner = CliRunner()
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.stdout + result.stderr
    assert "\x00" not in result.stderr
    return result


def inspect(folder: Path, *args: object) -> dict:
    """`inspect --format json` that exits 0, with every row read accounted for, per file and in total."""
    r = run("inspect", folder, "--format", "json", *args)
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    rows = out["rows"]
    assert rows["read"] == rows["loaded"] + sum(rows["rejected"].values())
    for f in out["files"]:
        assert f["rows_read"] == f["rows_loaded"] + sum(f["rejected"].values()), f["name"]
    return out


def fails(folder: Path, *args: object, code: int = 2, command: str = "inspect") -> str:
    """The one-line error (stderr) of a run that must exit `code`."""
    r = run(command, folder, *args)
    assert r.exit_code == code, (r.exit_code, r.stdout, r.stderr)
    assert r.stderr.startswith("error:"), r.stderr
    return " ".join(r.stderr.split())


def file_report(out: dict, name: str) -> dict:
    return next(f for f in out["files"] if f["name"] == name)


def all_notes(out: dict) -> str:
    texts = [*out["notes"], *out["warnings"], *[f"{s['name']}: {s['why']}" for s in out["skipped"]]]
    texts += [n for f in out["files"] for n in f["notes"]]
    return "\n".join(texts)
