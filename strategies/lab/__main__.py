"""``python -m strategies.lab``: run the strategy lab (see ``strategies/lab/__init__.py``)."""

import sys

from . import main

sys.exit(main())
