"""orgsim-report on small known tables: it reads the sweep folder, says what it found, and
fails with one clear line on bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim import report


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


def test_bad_input_gives_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert report.main([str(tmp_path / "missing")]) == 2
    assert "no sweep folder" in capsys.readouterr().err
    assert report.main([str(tmp_path)]) == 2
    assert "no results table" in capsys.readouterr().err
    strategy_table().iloc[:0].to_parquet(tmp_path / "table.parquet")
    assert report.main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "has no runs" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "report").exists()
