"""`python -m gancli ...` behaves like the `gancli` console script."""

import sys

from gancli.cli import main

sys.exit(main())
