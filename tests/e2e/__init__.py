"""Tests of the e2e tier (see tests/conftest.py)."""
