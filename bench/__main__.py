"""``python -m bench [--quick] [--out bench/results]``: see :mod:`bench.run`."""

from bench.run import main

main()
