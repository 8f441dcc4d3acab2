"""Benchmarks of the task API against the real PostgreSQL: `make bench`.

Every result is a ratio against a baseline measured in the same run (raw
asyncpg doing the same work), because absolute timings on a shared machine
mean little. Nothing here asserts a timing.
"""
