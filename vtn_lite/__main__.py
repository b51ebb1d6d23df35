"""``python -m vtn_lite`` is the ``vtn-lite`` command."""

import sys

from vtn_lite.cli import main

sys.exit(main())
