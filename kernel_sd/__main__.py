"""``python -m kernel_sd`` runs the ``kernel-sd`` command line."""

import sys

from kernel_sd.cli import main

sys.exit(main())
