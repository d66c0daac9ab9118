"""``python -m bench``: see ``bench/sidebyside.py`` and ``bench/README.md``."""

import sys

from .sidebyside import main

sys.exit(main())
