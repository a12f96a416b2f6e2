"""The model's description (docs/ODD.md) keeps up with the code, and docs/ links stay inside
the repository (every clone has what they point at)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

from sim.config import (
    FIELD_TYPES,
    MODEL_GROUPS,
    LeversConfig,
    OrgConfig,
    OrgsimConfig,
    ProblemConfig,
    RunConfig,
    StrategyConfig,
    compose_config,
    flat_of,
    model_part,
    to_config,
)
from sim.metrics import (
    RECOVERY_TOLERANCE,
    SUMMARY_FIELDS,
    TARGET_SHARE,
    TIMESERIES_COLUMNS,
)
from sim.organisation import COHESION_SAMPLE, CONSENT_TOLERANCE, PROPOSAL_SHELF_LIFE

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


# --- the parameter tables (ODD 2020) keep up with the schema ----------------------------------
DOCS = Path(__file__).resolve().parent.parent / "docs"
REPO = DOCS.parent


def _fmt(value: object) -> str:
    """A setting's value as the ODD's tables write it."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int):
        return "2^63-1" if value == 2**63 - 1 else str(value)
    return str(value)


def _range(meta: Any) -> str:
    if "choices" in meta:
        return ", ".join(meta["choices"])
    if "range" in meta:
        lo, hi = meta["range"]
        return f"[{_fmt(lo)}, {_fmt(hi)}]"
    return "any"


def _table(heading: str) -> dict[str, list[str]]:
    """The rows of the first table after ``heading`` in the ODD: name -> the other cells."""
    section = ODD.split(heading, 1)[1]
    rows: dict[str, list[str]] = {}
    started = False
    for line in section.splitlines():
        if line.startswith("| name | value | range | unit | source or reason |"):
            started = True
            continue
        if started and line.startswith("| ---"):
            continue
        if started and not line.startswith("|"):
            break
        if started:
            cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
            name = cells[0].strip("`")
            assert name not in rows, f"{name} appears twice"
            rows[name] = cells[1:]
    assert rows, f"no parameter table after {heading!r}"
    return rows


def _metadata() -> dict[str, Any]:
    meta = {}
    for f in dataclasses.fields(RunConfig):
        if f.name in MODEL_GROUPS:
            for g in dataclasses.fields(MODEL_GROUPS[f.name]):
                meta[f"{f.name}.{g.name}"] = g.metadata
        else:
            meta[f.name] = f.metadata
    return meta


def test_parameter_table_lists_every_model_setting_and_no_other() -> None:
    rows = _table("### Model settings")
    assert set(rows) == set(FIELD_TYPES), (
        f"undocumented: {sorted(set(FIELD_TYPES) - set(rows))}; "
        f"not settings: {sorted(set(rows) - set(FIELD_TYPES))}"
    )


def test_parameter_table_values_and_ranges_match_the_schema() -> None:
    """Value = the default scenario (`orgsim` without overrides), range = the schema's."""
    default = flat_of(to_config(model_part(compose_config([]))))
    meta = _metadata()
    for name, cells in _table("### Model settings").items():
        value, rng, unit, reason = cells
        assert value == _fmt(default[name]), f"{name}: table says {value}, default {default[name]}"
        assert rng == _range(meta[name]), f"{name}: table says {rng}, schema {_range(meta[name])}"
        assert unit and reason, name


def test_run_level_table_lists_every_run_setting_and_no_other() -> None:
    model_names = {f.name for f in dataclasses.fields(OrgsimConfig)}
    run_only = {f.name for f in dataclasses.fields(RunConfig)} - model_names
    rows = _table("### Run-level settings")
    assert set(rows) == run_only
    composed = compose_config([])
    meta = _metadata()
    for name, (value, rng, unit, reason) in rows.items():
        assert value == _fmt(composed[name]) and rng == _range(meta[name]), name
        assert unit and reason, name


@pytest.mark.parametrize(
    ("constant", "value"),
    [
        ("PROPOSAL_SHELF_LIFE", PROPOSAL_SHELF_LIFE),
        ("CONSENT_TOLERANCE", CONSENT_TOLERANCE),
        ("COHESION_SAMPLE", COHESION_SAMPLE),
        ("RECOVERY_TOLERANCE", RECOVERY_TOLERANCE),
        ("TARGET_SHARE", TARGET_SHARE),
    ],
)
def test_fixed_constants_are_in_the_table_with_their_value(constant: str, value: float) -> None:
    rows = {
        line.split("|")[1].strip(): line.split("|")[2].strip()
        for line in ODD.split("### Constants in the code", 1)[1].splitlines()
        if line.startswith("| `")
    }
    assert rows.get(f"`{constant}`") == _fmt(value), constant


def test_cohesion_sample_is_described_as_the_code_samples() -> None:
    """network_cohesion averages over every (m // 200)-th employee: all of them below 400."""
    for m, expected in ((48, 48), (300, 300), (399, 399), (400, 200), (500, 250), (601, 201)):
        assert len(range(0, m, max(1, m // COHESION_SAMPLE))) == expected
    assert "<= 200 nodes" not in ODD and "≤ 200 nodes" not in ODD
    assert "every employee up to 399" in ODD


# --- links stay inside the repository ----------------------------------------------------------
LINK = re.compile(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
WEB = ("http://", "https://", "mailto:")


def _doc_links() -> list[tuple[Path, str]]:
    return [
        (path, target)
        for path in sorted(DOCS.rglob("*.md"))
        for target in LINK.findall(path.read_text(encoding="utf-8"))
    ]


def test_docs_have_links_to_check() -> None:
    assert len(_doc_links()) >= 5  # the scan below would pass vacuously on a broken pattern


def test_no_link_in_docs_points_outside_the_repository() -> None:
    for path, target in _doc_links():
        if target.startswith(WEB) or target.startswith("#"):
            continue
        assert not target.startswith(("/", "file:", "~")), f"{path.name}: {target}"
        resolved = (path.parent / target.split("#", 1)[0]).resolve()
        assert resolved.is_relative_to(REPO), f"{path.name} links outside the repo: {target}"
        assert resolved.exists(), f"{path.name} links to a missing file: {target}"


def test_docs_name_no_path_outside_the_repository() -> None:
    for path in sorted(DOCS.rglob("*.md")):
        text = path.read_text(encoding="utf-8")
        for outside in ("../shared", "/work/shared", "shared/DESIGN.md"):
            assert outside not in text, f"{path.name} refers to {outside}"
