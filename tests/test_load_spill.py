"""Events above `spill_events_above` rows go through temporary files instead of memory (issue 8: memory must
not grow with events). Spilled or not, the loaded events, rejects, row accounting, customer table and report
must be the same."""

from __future__ import annotations

import dataclasses
import gc
from pathlib import Path

import polars as pl
import pytest
from loadkit import load, write
from polars.testing import assert_frame_equal
from test_load_accounting import BROKEN

from churnwhy import pipeline
from churnwhy.config import Config
from churnwhy.demo import generate
from churnwhy.load import spill as load_module
from churnwhy.load import load_exports
from churnwhy.table import build_customer_table


def _same_exports(a, b) -> None:  # type: ignore[no-untyped-def]
    assert a.event_codes.schema == b.event_codes.schema  # the same columns and the same Enum of type names
    assert_frame_equal(a.event_codes.frame, b.event_codes.frame)
    assert_frame_equal(a.events, b.events)
    assert_frame_equal(a.rejects, b.rejects)
    assert [f.to_dict() for f in a.files] == [f.to_dict() for f in b.files]
    assert a.data_end == b.data_end


def test_broken_exports_account_for_every_row_the_same_when_spilled(tmp_path: Path) -> None:
    folder = write(tmp_path, BROKEN)
    memory, spilled = load(folder), load(folder, spill_events_above=0)
    assert not memory.event_codes.spilled and spilled.event_codes.spilled
    _same_exports(memory, spilled)
    assert set(spilled.rejects["reason"]) >= {"duplicate_row", "unknown_customer", "missing_id", "bad_date"}
    folder_on_disk = Path(spilled.event_codes.folder.name)  # type: ignore[attr-defined]
    assert folder_on_disk.is_dir() and any(folder_on_disk.iterdir())
    del spilled
    gc.collect()
    assert not folder_on_disk.exists()  # the temporary files go with the codes


@pytest.fixture(scope="module")
def messy_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("spill") / "demo"
    generate(out, customers=1500, seed=11, format="mixed", messy=True)
    return out


def test_spilled_table_equals_in_memory_across_slices_and_hash_ranges(messy_demo: Path, monkeypatch) -> None:
    # Tiny slices and hash ranges: many parts, many ranges, and the duplicate check across them.
    monkeypatch.setattr(load_module, "SPILL_SLICE", 7_001)
    monkeypatch.setattr(load_module, "SPILL_PARTITION", 9_999)
    config = Config.load(messy_demo)
    spill = dataclasses.replace(config, spill_events_above=0)
    memory_exports, spilled_exports = load_exports(messy_demo, config), load_exports(messy_demo, spill)
    assert len(spilled_exports.event_codes.data) > 3  # several parts were written
    _same_exports(memory_exports, spilled_exports)
    assert spilled_exports.reject_counts().get("duplicate_row", 0) > 0
    memory_table = build_customer_table(memory_exports, config)
    spilled_table = build_customer_table(spilled_exports, spill)
    assert_frame_equal(memory_table.frame, spilled_table.frame)


def test_events_without_a_customers_file_spill_the_same(tmp_path: Path) -> None:
    events = pl.DataFrame({
        "customer_id": ["a", "b", "a", "c", "a", "b"],
        "event_time": ["2024-01-01", "2024-01-03", "2024-02-01", "2024-02-02", "2024-02-01", "2024-05-01"],
        "event_type": ["login", "Order", "order", "cancel", "order", "login"],
        "amount": [None, 10.0, 12.5, None, 12.5, None],
    })
    folder = write(tmp_path, {"events.parquet": events})
    memory, spilled = load(folder), load(folder, spill_events_above=0)
    _same_exports(memory, spilled)
    assert_frame_equal(build_customer_table(memory).frame, build_customer_table(spilled).frame)


def test_analyze_report_is_the_same_when_spilled(messy_demo: Path) -> None:
    config = Config.load(messy_demo)
    spill = dataclasses.replace(config, spill_events_above=0)
    assert pipeline.analyze(messy_demo, config).to_dict() == pipeline.analyze(messy_demo, spill).to_dict()


def test_spill_setting_is_validated() -> None:
    from churnwhy.errors import ConfigError

    with pytest.raises(ConfigError, match="spill_events_above"):
        Config.from_mapping({"spill_events_above": -1})


def test_a_type_seen_only_on_rejected_rows_is_not_a_type_either_way(tmp_path: Path) -> None:
    folder = write(tmp_path, {
        "customers.csv": "customer_id,signup_date\na,2024-01-01\nb,2024-01-02\n",
        "events.csv": "customer_id,event_time,event_type\na,2024-02-01,login\nzz,2024-02-02,refund\nb,,order\n",
    })
    memory, spilled = load(folder), load(folder, spill_events_above=0)
    _same_exports(memory, spilled)
    assert spilled.event_codes.schema["event_type"].categories.to_list() == ["login"]
