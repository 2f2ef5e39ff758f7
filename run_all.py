"""Run the benchmark: `python run_all.py --datasets bgl spirit zookeeper` (see --help)."""

import sys

from benchmark.cli import run_all_main

if __name__ == "__main__":
    sys.exit(run_all_main())
