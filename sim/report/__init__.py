"""``orgsim-report SWEEP_DIR``: figures and a Markdown + self-contained HTML report of a sweep.

Why it reads only the sweep folder: a report must be rebuildable by anyone from the data it
summarises, so everything it says (means, intervals, the number of runs behind each number, the
config that produced them, the wall time) comes from the sweep's table and its metadata.

The package, by concern (data flows one way: store -> analysis -> document; nothing here runs a
model, and no two modules import each other):

* :mod:`~sim.report.load` -- a sweep folder through the store's format (:mod:`sim.store`);
* :mod:`~sim.report.document` -- the document: blocks rendered to Markdown and HTML;
* :mod:`~sim.report.common` -- what every report shares: provenance, the cell-means table;
* the analyses: :mod:`~sim.report.strategy`, :mod:`~sim.report.org_forms`,
  :mod:`~sim.report.sensitivity`, :mod:`~sim.report.scenarios` (on :mod:`sim.discovery`),
  :mod:`~sim.report.generic` (any other sweep) and :mod:`~sim.report.comparison`
  (``--compare FACTOR``, on :mod:`sim.paired`, which ``orgsim-compare`` uses too);
* :mod:`~sim.report.build` -- which report a sweep gets, and the command line.
"""

from __future__ import annotations

from sim.report.build import BUILDERS, build_report, main
from sim.report.common import (
    MAIN_OUTCOMES,
    config_columns,
    means_table,
    provenance,
    varying_columns,
)
from sim.report.document import Report, save_figure, to_html, to_markdown, write_report
from sim.report.generic import report_generic
from sim.report.load import ReportError, Sweep, load_sweep
from sim.report.org_forms import report_org_forms
from sim.report.sensitivity import report_sensitivity, sensitivity_indices
from sim.report.strategy import report_strategy

__all__ = [
    "BUILDERS",
    "MAIN_OUTCOMES",
    "Report",
    "ReportError",
    "Sweep",
    "build_report",
    "config_columns",
    "load_sweep",
    "main",
    "means_table",
    "provenance",
    "report_generic",
    "report_org_forms",
    "report_sensitivity",
    "report_strategy",
    "save_figure",
    "sensitivity_indices",
    "to_html",
    "to_markdown",
    "varying_columns",
    "write_report",
]
