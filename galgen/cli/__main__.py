"""``python -m galgen.cli`` (and ``torchrun ... -m galgen.cli``) runs the ``galgen`` command."""

import sys

from galgen.cli import main

sys.exit(main())
