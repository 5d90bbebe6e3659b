"""``python -m experiments NAME|all [--quick] [--out DIR] [--seed S] [--only PART]``."""

import sys

from experiments._runner import main

sys.exit(main())
