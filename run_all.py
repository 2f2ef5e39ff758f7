"""Run the benchmark: `python run_all.py --datasets bgl spirit zookeeper` (see --help)."""

import sys

from benchmark.runner import main

if __name__ == "__main__":
    sys.exit(main())
