"""``python -m search.bench`` runs the benchmark command."""

import sys

from .cli import main

sys.exit(main())
