"""Benchmarks of the dual write: ``python -m bench [--quick]`` (not part of the tests)."""
