"""``python -m labor_econ.cli``: the ``labor-econ`` command line."""

import sys

from . import main

sys.exit(main())
