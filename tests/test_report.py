"""orgsim-report on small known tables and on real sweep folders of the engine: it reads the
sweep folder (sim/store.py's table format), says what it found, and fails with one clear line
on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support.commands import console_script

import sim
from sim import report, store

SMALL = ["steps=10", "org.employees=12", "org.partners=2"]


def strategy_table(reps: int = 4) -> pd.DataFrame:
    """A table in the store's shape: incremental beats planning by 0.1 at K=8, ties at K=0."""
    rows = []
    rng = np.random.default_rng(0)
    for org in ("bureaucracy", "adhocracy"):
        for k in (0, 8):
            for tau in (0.0, 0.1):
                for r in range(reps):
                    base = 0.8 + rng.normal(0, 0.02)
                    for strategy in ("incremental", "planning"):
                        gain = 0.1 if (k == 8 and strategy == "incremental") else 0.0
                        rows.append(
                            {
                                "org.name": org,
                                "strategy.name": strategy,
                                "problem.k": k,
                                "problem.turbulence": tau,
                                "steps": 30,
                                "seed": 0,
                                "replication": r,
                                "run_id": f"{org}{k}{tau}{r}{strategy}",
                                "status": "ok",
                                "error": "",
                                "experiment": "strategy_vs_wickedness",
                                "mean_performance": base + gain,
                                "final_performance": base + gain,
                                "time_to_90": np.nan,
                            }
                        )
    return pd.DataFrame(rows)


def test_strategy_report_from_a_known_table(tmp_path: Path) -> None:
    strategy_table().to_parquet(tmp_path / "table.parquet")
    md = report.build_report(tmp_path)
    text = md.read_text()
    # 4 cells per org form at K=8 with incremental +0.1 in every pair; K=0 exactly tied
    assert "incremental did significantly better in **4**" in text
    assert "planning in **0**" in text
    assert "in **4** the paired difference is within noise" in text
    # Holm over the 8 cells: the K=8 cells (the same +0.1 in every pair: p = 0) stay significant
    assert "Holm's correction over the 8 cells' paired t tests: incremental significantly " in text
    assert "better in **4**, planning in **0**, within noise in **4**" in text
    cells = pd.read_csv(md.parent / "cell_means.csv")
    assert cells["time_to_90"].str.startswith("reached 0/4").all()  # censored: never reached
    for stem in ("performance_by_cell", "paired_difference_heatmap"):
        assert (md.parent / "figures" / f"{stem}.png").is_file()
        assert (md.parent / "figures" / f"{stem}.svg").is_file()
    html = (md.parent / "report.html").read_text()
    assert "data:image/png;base64," in html and "src='figures/" not in html
    assert "Provenance" in text and "| n |" not in text.split("Tables")[0]
    cells = pd.read_csv(md.parent / "cell_means.csv")
    assert set(cells["n"]) == {4}


def test_generic_report_for_any_sweep(tmp_path: Path) -> None:
    t = strategy_table().assign(experiment="none")
    t.to_parquet(tmp_path / "table.parquet")
    md = report.build_report(tmp_path, tmp_path / "out")
    assert "Sweep report" in md.read_text()
    assert (tmp_path / "out" / "report.html").is_file()


def test_generic_report_of_a_plain_sweep(tmp_path: Path) -> None:
    """A plain sweep (the engine's own folder, `sim.sweep` = `orgsim -m`): the cells are the
    settings that vary, never seeds, replications or provenance (meta.*), and n per cell is
    the number of replications."""
    result = sim.sweep(
        ["strategy=incremental,planning", "problem.k=0,5", "replications=3", *SMALL],
        results_dir=tmp_path / "results",
    )
    assert result.exit_code == 0
    table = pd.read_parquet(result.sweep_dir / store.TABLE)
    assert table["meta.pid"].notna().all() and table["meta.duration_s"].nunique() > 1
    assert report.main([str(result.sweep_dir)]) == 0
    out = result.sweep_dir / "report"
    text = (out / "report.md").read_text()
    assert text.startswith("# Sweep report")
    cells = pd.read_csv(out / "cell_means.csv")
    outcomes = [c for c in report.MAIN_OUTCOMES if c in cells]
    assert outcomes
    factors = [c for c in cells.columns if c not in outcomes and c != "n"]
    assert sorted(factors) == ["problem.k", "strategy.name"]
    assert len(cells) == 4 and set(cells["n"]) == {3}
    assert (out / "figures" / "mean_performance.png").is_file()
    assert "replications per cell: 3-3" in text
    assert (out / "report.html").is_file()


def test_bad_input_gives_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert report.main([str(tmp_path / "missing")]) == 2
    assert "no sweep folder at" in capsys.readouterr().err
    assert report.main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path} is not a sweep folder" in err and len(err.strip().splitlines()) == 1
    (tmp_path / store.SWEEP_FILE).write_text("{not json")
    assert report.main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unreadable or broken" in err and len(err.strip().splitlines()) == 1
    (tmp_path / store.SWEEP_FILE).unlink()
    strategy_table().iloc[:0].to_parquet(tmp_path / "table.parquet")
    assert report.main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "has no runs" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "report").exists()


def test_a_sweep_whose_runs_all_failed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`orgsim-report` as a user runs it: exit 2 and one line, no report, no traceback."""
    monkeypatch.setenv("ORGSIM_FAIL_ON_SEED", "3")
    result = sim.sweep(["seed=3", "replications=2", *SMALL], results_dir=tmp_path)
    assert result.failed == 2 and result.exit_code == 1
    rep = subprocess.run(
        [console_script("orgsim-report"), str(result.sweep_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert rep.returncode == 2
    assert rep.stderr.strip().splitlines() == [
        f"orgsim-report: every run in {result.sweep_dir} failed: nothing to report"
    ]
    assert not (result.sweep_dir / "report").exists()


# --- orgsim-report SWEEP --compare FACTOR (issue 11) ---------------------------------------------
@pytest.fixture(scope="module")
def small_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real sweep made by the engine: 2 strategies x 2 K x 3 replications."""
    result = sim.sweep(
        ["strategy=incremental,planning", "problem.k=0,5", "replications=3", *SMALL],
        results_dir=tmp_path_factory.mktemp("compare") / "results",
    )
    assert result.exit_code == 0
    return result.sweep_dir


def test_compare_a_factor_of_a_real_sweep(small_sweep: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code = report.main(
        [str(small_sweep), "--compare", "strategy.name", "--outcomes",
         "mean_performance,time_to_90", "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    stem = "comparison_strategy.name"
    text = (out / f"{stem}.md").read_text()
    assert text.startswith("# Paired comparison of strategy.name: planning vs incremental")
    for words in ("What the comparison found", "d_z", "Holm", "pairs won", "Provenance"):
        assert words in text, words
    rows = pd.read_csv(out / f"{stem}_pairs.csv")
    pooled = rows[rows["level"] == "pooled"].set_index("outcome")
    cells = rows[rows["level"] == "cell"]
    # 2 K x 3 replications = 6 pairs; pooled over K within each replication: 3 units
    assert list(pooled.index) == ["mean_performance", "time_to_90"]
    assert (pooled["pairs"] == 6).all() and (pooled["units"] == 3).all()
    assert len(cells) == 4 and (cells["pairs"] == 3).all()  # 2 cells x 2 outcomes
    assert set(cells["problem.k"]) == {0, 5}
    t90 = pooled.loc["time_to_90"]
    assert 0 <= t90["reached_a"] <= 6 and 0 <= t90["reached_b"] <= 6
    assert "reached" in text
    # the table straight from the store: the pooled difference of mean performance by hand
    table = pd.read_parquet(small_sweep / store.TABLE)
    wide = table.pivot_table(
        index=["problem.k", "replication"], columns="strategy.name", values="mean_performance"
    )
    per_rep = (wide["planning"] - wide["incremental"]).groupby(level="replication").mean()
    assert pooled.loc["mean_performance", "diff_mean"] == pytest.approx(per_rep.mean())
    arms = pd.read_csv(out / f"{stem}_arms.csv")
    perf = arms[arms["outcome"] == "mean_performance"]
    assert (perf["lo"] >= 0).all() and (perf["hi"] <= 1).all() and set(perf["n"]) == {3}
    assert (out / "figures" / f"{stem}.png").is_file() and (out / f"{stem}.html").is_file()


def test_a_regenerated_report_keeps_no_stale_file(small_sweep: Path, tmp_path: Path) -> None:
    """A report written again into its folder removes what the same report wrote last time and
    no longer writes; a comparison beside it, and files no report wrote, stay."""
    out = tmp_path / "out"
    assert report.main([str(small_sweep), "--out", str(out)]) == 0
    assert report.main([str(small_sweep), "--compare", "strategy.name", "--out", str(out)]) == 0
    record = out / ".report.files.json"
    listed = json.loads(record.read_text())
    assert "report.md" in listed and all(not name.startswith("comparison_") for name in listed)
    (out / "figures" / "old_figure.png").write_bytes(b"stale")  # as an older report wrote it
    record.write_text(json.dumps([*listed, "figures/old_figure.png", "../outside.txt"]))
    (tmp_path / "outside.txt").write_text("not the report's")
    (out / "my_notes.txt").write_text("the user's")
    assert report.main([str(small_sweep), "--out", str(out)]) == 0
    assert not (out / "figures" / "old_figure.png").exists()
    assert (out / "my_notes.txt").exists() and (tmp_path / "outside.txt").exists()
    assert (out / "comparison_strategy.name.md").exists() and (out / "report.md").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--compare", "strategy.colour"], "--compare strategy.colour: not a setting of this "
         "sweep; the settings that vary: problem.k, strategy.name"),
        (["--compare", "org.name"], "--compare org.name: it does not vary in this sweep (every "
         "ok run has org.name=bureaucracy); the settings that vary: problem.k, strategy.name"),
        (["--compare", "strategy.name", "--outcomes", "mean_performance,speed"], "--outcomes "
         "speed: not an outcome of this table; the outcomes: mean_performance, "),
        (["--compare", "strategy.name", "--correction", "bonferroni"], "--correction "
         "bonferroni: use one of holm, fdr, none"),
        (["--outcomes", "time_to_90"], "go with --compare FACTOR"),
    ],
)  # fmt: skip
def test_compare_bad_input_one_line_nothing_written(
    small_sweep: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
    message: str,
) -> None:  # fmt: skip
    out = tmp_path / "never"
    assert report.main([str(small_sweep), *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("orgsim-report: ")
    assert message in err, err
    assert "Traceback" not in err and not out.exists() and not list(tmp_path.glob(".tmp-*"))


def test_python_dash_m_and_the_entry_point_are_the_same_command(small_sweep: Path) -> None:
    """`python -m sim.report` (the package's __main__) on the command line: exit 2, one line."""
    run = subprocess.run(
        [sys.executable, "-m", "sim.report", str(small_sweep), "--compare", "seed"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        "orgsim-report: --compare seed: seeds and replications are what pairs share, not a "
        "factor; the settings that vary: problem.k, strategy.name"
    ]


def test_data_flows_one_way() -> None:
    """Analysis modules never import the reports (the reports import them), and nothing the
    report package imports runs a model."""
    code = (
        "import sys, sim.discovery, sim.paired, sim.stats, sim.outcomes\n"
        "assert not [m for m in sys.modules if m.startswith('sim.report')], 'report imported'\n"
        "import sim.report, sim.report.scenarios\n"
        "bad = [m for m in ('sim.engine', 'sim.model', 'mesa') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
