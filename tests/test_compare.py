"""orgsim-compare: no difference between identical designs, the right direction for a strong
mechanism-driven contrast, and one clear line (exit 2, nothing written) for bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim import compare

SMALL = ["org.employees=12"]


def test_identical_designs_report_no_difference(tmp_path: Path) -> None:
    comp = compare.run_comparison(
        SMALL, SMALL, ["tame", "complex"], replications=3, steps=20, n_jobs=1, progress=False
    )
    diffs = compare.differences(comp).set_index("outcome")
    row = diffs.loc["mean_performance"]
    assert row["diff_lo"] <= 0 <= row["diff_hi"]
    assert (
        diffs["diff_mean"].dropna().abs() < 1e-12
    ).all()  # common random numbers: identical runs
    text = compare.verdict(comp, diffs.reset_index())
    assert text.startswith("No difference")
    md = compare.build_compare_report(comp, tmp_path / "same")
    assert "No difference" in md.read_text()
    for name in ("compare.md", "compare.html", "compare.png"):
        assert (tmp_path / "same" / name).is_file()


def test_strong_contrast_has_the_right_direction(tmp_path: Path, quick: bool) -> None:
    # Planning spends its first weeks analysing and then executes a plan drawn on a stale,
    # simplified map; on a complex problem the incremental design is clearly ahead (checked
    # empirically: about +0.1 mean performance at every K > 0 in strategy_vs_wickedness).
    reps = 8 if quick else 20  # n = replications (a replication's conditions averaged)
    comp = compare.run_comparison(
        [*SMALL, "strategy=planning"], [*SMALL, "strategy=incremental"], ["complex", "wicked"],
        replications=reps, steps=30, n_jobs=2, progress=False,
    )  # fmt: skip
    row = compare.differences(comp).set_index("outcome").loc["mean_performance"]
    assert row["diff_lo"] > 0, row
    text = compare.verdict(comp)
    assert text.startswith("The to-be design did better")
    assert "95% CI" in text and "paired runs" in text
    compare.build_compare_report(comp, tmp_path / "diff", write_data=False)
    assert not (tmp_path / "diff" / "runs.parquet").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--as-is", "org=heterarchy"], "org=heterarchy is not a known preset"),
        (["--to-be", "levers.magic=1"], "levers.magic is not a known setting"),
        (["--to-be", "levers.cocreation=2"], "out of range"),
        (["--problems", "chaotic"], "problem=chaotic is not a known preset"),
        (["--to-be", "cocreation"], "could not parse override"),
        (["-R", "1"], "at least 2"),
    ],
)
def test_bad_input_exit_2_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    out = tmp_path / "out"
    assert compare.main([*args, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_design_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("org: [adhocracy\n")
    assert compare.main(["--to-be", str(broken), "--out", str(tmp_path / "o")]) == 2
    assert "not valid YAML" in capsys.readouterr().err
    assert compare.main(["--to-be", str(tmp_path / "nope.yaml")]) == 2
    assert "does not exist" in capsys.readouterr().err
    mapping = tmp_path / "to_be.yaml"
    mapping.write_text("org: adhocracy\nlevers:\n  cocreation: 0.8\n")
    assert compare.parse_design([str(mapping)]) == ["org=adhocracy", "levers.cocreation=0.8"]
    listed = tmp_path / "as_is.yaml"
    listed.write_text("- org=bureaucracy\n- strategy=planning\n")
    assert compare.parse_design([str(listed)]) == ["org=bureaucracy", "strategy=planning"]
