"""Which report a sweep gets, writing it safely, and the ``orgsim-report`` command line.

Each research experiment has its own analysis (chosen by the experiment's name); any other sweep
gets a generic table of cell means; ``--compare FACTOR`` asks for the paired comparison of a
factor's arms (:mod:`sim.report.comparison`) in any sweep. Everything is written into a
temporary folder first, so a report that fails half-way leaves nothing half-written behind.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from sim import paired, stats
from sim.report.comparison import file_stem, report_comparison
from sim.report.document import Report, write_report
from sim.report.generic import report_generic
from sim.report.load import ReportError, Sweep, load_sweep
from sim.report.org_forms import report_org_forms
from sim.report.sensitivity import report_sensitivity
from sim.report.strategy import report_strategy


def _report_where_planning_wins(sweep: Sweep, out: Path) -> Report:
    # imported when needed: the EMA workbench takes a second to import
    from sim.report.scenarios import report_where_planning_wins

    return report_where_planning_wins(sweep, out)


BUILDERS: dict[str, Callable[[Sweep, Path], Report]] = {
    "strategy_vs_wickedness": report_strategy,
    "org_forms_vs_turbulence": report_org_forms,
    "levers_sensitivity": report_sensitivity,
    "where_planning_wins": _report_where_planning_wins,
}


def _split(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [t.strip() for t in text.split(",") if t.strip()]


def build_report(
    sweep_dir: str | Path,
    out_dir: str | Path | None = None,
    notes: str | Path | None = None,
    *,
    compare: str | None = None,
    outcomes: list[str] | None = None,
    reference: str | None = None,
    by: list[str] | None = None,
    correction: str = "holm",
) -> Path:
    """Build the report of a sweep folder; returns the Markdown file's path.

    The report goes to ``SWEEP_DIR/report/`` unless ``out_dir`` is given; ``notes`` (a Markdown
    file of a researcher's interpretation) is copied in and shown under "Interpretation".
    With ``compare`` (a setting that varies, e.g. ``strategy.name``), the report is the paired
    comparison of its values (``comparison_<factor>.md`` beside the sweep's own report) on
    ``outcomes`` (default: the headline ones), against ``reference`` (default: the first
    value), per cell of ``by`` (default: the other settings that vary), with ``correction``
    (``holm``, ``fdr`` or ``none``). A request that cannot be made raises :class:`ReportError`
    before anything is written.
    """
    sweep = load_sweep(sweep_dir)
    if sweep.ok.empty:
        raise ReportError(f"every run in {sweep.path} failed: nothing to report")
    out = Path(out_dir) if out_dir else sweep.path / "report"
    stem = "report"
    if compare is not None:
        if correction not in stats.CORRECTIONS:
            raise ReportError(
                f"--correction {correction}: use one of {', '.join(stats.CORRECTIONS)}"
            )
        try:
            analysis = paired.analyse(
                sweep.runs, compare, outcomes, reference, by=by, correction=correction
            )
        except paired.AnalysisError as exc:
            raise ReportError(str(exc)) from None
        stem = file_stem(compare)

        def builder(sw: Sweep, folder: Path) -> Report:
            return report_comparison(sw, folder, analysis)

    else:
        if outcomes or reference or by:
            raise ReportError("--outcomes, --reference and --by go with --compare FACTOR")
        builder = BUILDERS.get(sweep.name.removesuffix("_quick"), report_generic)
        if builder is report_sensitivity and "salib" not in sweep.meta:
            builder = report_generic
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-report-", dir=out.parent))
    except OSError as exc:
        raise ReportError(f"cannot write the report into {out}: {exc.strerror or exc}") from None
    try:
        if notes:
            (tmp / "notes.md").write_text(Path(notes).read_text())
        report = builder(sweep, tmp)
        (tmp / "sweep.json").write_text(
            json.dumps({k: v for k, v in sweep.meta.items() if k != "salib"}, default=str, indent=1)
        )
        written = write_report(report, tmp, stem)
        replace_files(tmp, out, stem)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out / written.relative_to(tmp)


def replace_files(new: Path, out: Path, stem: str) -> None:
    """Put a report's files (built in ``new``) into ``out``, and remove the files that the same
    report (``stem``) wrote there last time and no longer writes, so that a regenerated report
    keeps no stale figure or table. Other files stay: another report's (a comparison beside the
    sweep's report) and anything that was not written by a report."""
    record = out / f".{stem}.files.json"
    written = sorted(p.relative_to(new).as_posix() for p in new.rglob("*") if p.is_file())
    try:
        before = json.loads(record.read_text()) if record.is_file() else []
    except (OSError, ValueError):
        before = []
    shutil.copytree(new, out, dirs_exist_ok=True)
    root = out.resolve()
    for rel in set(before if isinstance(before, list) else []) - set(written):
        stale = (out / str(rel)).resolve()
        if stale.is_file() and stale.is_relative_to(root) and stale != root:
            stale.unlink()
    record.write_text(json.dumps(written, indent=0))


def main(argv: list[str] | None = None) -> int:
    """``orgsim-report SWEEP_DIR [--out DIR] [--notes FILE] [--compare FACTOR ...]``."""
    ap = argparse.ArgumentParser(
        prog="orgsim-report",
        description="Figures and a report (Markdown + HTML) of a sweep folder.",
    )
    ap.add_argument(
        "sweep_dir", help="a sweep folder (printed by `orgsim -m`, or sim.sweep(...).sweep_dir)"
    )
    ap.add_argument("--out", help="where to write the report (default SWEEP_DIR/report)")
    ap.add_argument(
        "--notes", help="a Markdown file with the researcher's interpretation to include"
    )
    ap.add_argument(
        "--compare",
        metavar="FACTOR",
        help="compare the values of this setting (e.g. strategy.name) on paired runs",
    )
    ap.add_argument(
        "--outcomes",
        metavar="A,B",
        help="with --compare: the outcomes to compare (default: the headline outcomes)",
    )
    ap.add_argument(
        "--reference",
        metavar="VALUE",
        help="with --compare: the arm the others are compared with (default: the first)",
    )
    ap.add_argument(
        "--by",
        metavar="A,B",
        help="with --compare: the settings whose cells get their own tests (default: every "
        "other setting that varies)",
    )
    ap.add_argument(
        "--correction",
        default="holm",
        metavar="holm|fdr|none",
        help="with --compare: multiple-comparison correction (default holm)",
    )
    args = ap.parse_args(argv)
    try:
        path = build_report(
            args.sweep_dir,
            args.out,
            args.notes,
            compare=args.compare,
            outcomes=_split(args.outcomes),
            reference=args.reference,
            by=_split(args.by),
            correction=args.correction,
        )
    except (ReportError, FileNotFoundError) as exc:
        print(f"orgsim-report: {exc}", file=sys.stderr)
        return 2
    print(path)
    return 0
