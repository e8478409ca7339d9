"""The package's public surface (issue 18): results and errors importable from `churnwhy`, typed (PEP 561)."""

from __future__ import annotations

import inspect
from importlib import resources

import churnwhy
from churnwhy import errors


def test_every_name_in_all_is_importable_from_the_top_level():
    missing = [name for name in churnwhy.__all__ if not hasattr(churnwhy, name)]
    assert missing == []


def test_every_error_class_is_exported():
    error_classes = {name for name, obj in vars(errors).items()
                     if inspect.isclass(obj) and issubclass(obj, churnwhy.ChurnwhyError)}
    assert error_classes <= set(churnwhy.__all__)


def test_the_report_and_its_section_results_are_exported():
    for name in ("Report", "ReasonsResult", "DriversResult", "SurvivalResult", "AtRiskResult", "InspectResult"):
        assert name in churnwhy.__all__


def test_analyze_declares_that_it_returns_a_report():
    assert inspect.signature(churnwhy.analyze).return_annotation in (churnwhy.Report, "Report")


def test_the_package_ships_a_py_typed_marker():
    assert resources.files("churnwhy").joinpath("py.typed").is_file()
