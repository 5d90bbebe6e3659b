"""``python -m experiments.benchmarks [SUITE] [options]``."""

import sys

from experiments.benchmarks import main

sys.exit(main())
