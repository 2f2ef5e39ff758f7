"""`python -m benchmark {describe,download,models}` (see benchmark.cli)."""

import sys

from benchmark.cli import benchmark_main

if __name__ == "__main__":
    sys.exit(benchmark_main())
