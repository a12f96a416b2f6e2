"""``python -m sim.report SWEEP_DIR``: the same as ``orgsim-report``."""

import sys

from sim.report.build import main

sys.exit(main())
