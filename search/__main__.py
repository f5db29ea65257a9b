"""``python -m search`` runs the ``cnn-search`` command."""

import sys

from .cli import main

sys.exit(main())
