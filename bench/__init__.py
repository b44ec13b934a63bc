"""Benchmarks run by `sena bench ...`; their figures go in closing notes, never in test asserts."""
