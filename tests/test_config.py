"""Configuration: every preset composes; bad input stops with one line naming the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

import sim
from sim.config import CONF_DIR, ConfigError, OrgsimConfig, to_config

GROUPS = ["problem", "org", "strategy", "levers"]


def presets() -> list[tuple[str, str]]:
    return [(g, p.stem) for g in GROUPS for p in sorted((CONF_DIR / g).glob("*.yaml"))]


@pytest.mark.parametrize(("group", "preset"), presets())
def test_every_preset_composes_and_validates(group: str, preset: str) -> None:
    cfg = sim.compose_config([f"{group}={preset}"])
    model_cfg = to_config(sim.config.model_part(cfg))
    assert getattr(model_cfg, group).name == preset


def test_compose_in_a_temporary_copy_of_the_configs(tmp_path: Path) -> None:
    """The real configs, composed from another folder (as a user's own copy would be)."""
    import shutil

    shutil.copytree(CONF_DIR, tmp_path / "conf")
    (tmp_path / "conf" / "org" / "flat.yaml").write_text(
        (CONF_DIR / "org" / "adhocracy.yaml").read_text().replace("name: adhocracy", "name: flat")
    )
    cfg = sim.compose_config(["org=flat"], config_dir=tmp_path / "conf")
    assert cfg.org.name == "flat"


@pytest.mark.parametrize(
    ("overrides", "names"),
    [
        (["problem.k=12"], "problem.k"),
        (["problem.k=abc"], "problem.k"),
        (["problem.n=40"], "problem.n"),
        (["org.employees=-3"], "org.employees"),
        (["levers.cocreation=1.5"], "levers.cocreation"),
        (["levers.rd_budget=-0.1"], "levers.rd_budget"),
        (["org=matrix"], "org=matrix"),
        (["strategy=waterfall"], "strategy=waterfall"),
        (["problem=evil"], "problem=evil"),
        (["problem.interaction=ring"], "problem.interaction"),
        (["problem.colour=red"], "problem.colour"),
        (["org.team_size=500"], "org.team_size"),
        (["strategy.undo_failed=maybe"], "strategy.undo_failed"),
        (["org.decision_rule=vote"], "org.decision_rule"),
        (["steps=0"], "steps"),
    ],
)
def test_bad_input_gives_one_line_naming_the_setting(overrides: list[str], names: str) -> None:
    with pytest.raises(ConfigError) as err:
        sim.compose_config(overrides)
    message = str(err.value)
    assert names in message
    assert "\n" not in message
    assert any(word in message for word in ("allowed", "must", "use", "known"))


def test_model_validates_a_plain_config_too() -> None:
    cfg = OrgsimConfig()
    cfg.problem.k = cfg.problem.n
    with pytest.raises(ConfigError, match="problem.k"):
        sim.InnovationModel(cfg)
    with pytest.raises(ConfigError, match="org.employees"):
        sim.InnovationModel({"org": {"employees": 1}})
