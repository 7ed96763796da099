"""``python -m coop``: see :mod:`coop.cli`."""

import sys

from .cli import main

sys.exit(main())
