"""``python -m ferstream.cli``: the ``ferstream`` command (tests and worker subprocesses run it so)."""

import sys

from ferstream.cli import main

sys.exit(main())
