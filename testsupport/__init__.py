"""Helpers and stand-ins shared by tests/ and bench/.

The direction is one way: tests/ and bench/ import testsupport, tests/ may
import bench/ (to test the benchmarks' own code), and neither testsupport nor
bench/ imports anything from tests/.
"""
