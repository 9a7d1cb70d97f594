"""``python -m aiconsole`` is the same as the ``aiconsole`` script."""

from aiconsole.cli.main import main

raise SystemExit(main())
