"""The model's description (docs/ODD.md) keeps up with the code."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from sim.config import LeversConfig, OrgConfig, ProblemConfig, StrategyConfig
from sim.metrics import SUMMARY_FIELDS, TIMESERIES_COLUMNS

ODD = (Path(__file__).resolve().parent.parent / "docs" / "ODD.md").read_text()


@pytest.mark.parametrize("column", [c for c in TIMESERIES_COLUMNS if "{" not in c])
def test_every_timeseries_column_is_described(column: str) -> None:
    assert f"`{column}`" in ODD


@pytest.mark.parametrize(
    "name", ["mean_performance", "final_performance", "time_to_90", "recovery_time"]
)
def test_headline_summary_fields_are_described(name: str) -> None:
    assert name in SUMMARY_FIELDS and f"`{name}`" in ODD


@pytest.mark.parametrize(
    "setting",
    [
        f.name
        for cls in (OrgConfig, StrategyConfig)
        for f in dataclasses.fields(cls)
        if f.name
        not in (
            "name",
            "partners",
            "network_degree",
            "bridges",
            "span_of_control",
            "max_change_size",
            "employees",
            "team_size",
        )
    ]
    + [f.name for f in dataclasses.fields(LeversConfig) if f.name != "name"]
    + [f.name for f in dataclasses.fields(ProblemConfig) if f.name in ("shock_at",)],
)
def test_settings_are_described(setting: str) -> None:
    assert setting in ODD or setting.replace("_", " ") in ODD
