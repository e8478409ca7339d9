"""Issue 14 acceptance: every export check of ../shared/realdata/score holds for the installed churnwhy.

The real exports are a private fixture kept next to the repository (never copied into it); without them this
test is skipped. The reasons agreement (issue 15) is scored apart (`--no-reasons`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REALDATA = Path(os.environ.get("CHURNWHY_REALDATA", Path(__file__).resolve().parents[1].parent / "shared" / "realdata"))


@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.skipif(not (REALDATA / "score").is_file(), reason=f"no real-data fixture at {REALDATA}")
def test_every_realdata_export_check_holds():
    churnwhy = Path(sys.executable).parent / "churnwhy"  # the churnwhy of this venv, whatever PATH says
    assert churnwhy.is_file(), churnwhy
    proc = subprocess.run([sys.executable, str(REALDATA / "score"), str(churnwhy), "--no-reasons", "--timeout", "300"],
                          capture_output=True, text=True, timeout=1800)
    failed = [line for line in proc.stdout.splitlines() if line.startswith("FAIL")]
    assert proc.returncode == 0 and not failed, "\n".join(failed) or proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "checks hold" in proc.stdout
