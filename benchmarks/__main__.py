"""``python -m benchmarks BENCHMARK|all [options]``: the development harness's command line."""

import sys

from benchmarks.cli import main

sys.exit(main())
