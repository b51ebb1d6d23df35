"""``python -m ven_edge`` is the ``ven-edge`` command."""

from ven_edge.cli import main

raise SystemExit(main())
