"""`python -m specproof.cli` runs the `specproof` command."""

import sys

from .main import main

sys.exit(main())
