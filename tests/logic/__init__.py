"""Tests of the logic tier (see tests/conftest.py)."""
