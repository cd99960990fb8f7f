"""Benchmarks of the performance targets in design.md: `livecomments bench SCENARIO`.

Never run by the test suite except a tiny smoke run of `embedded`; see docs/benchmarks.md.
"""
