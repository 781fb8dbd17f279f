"""Tests of the stages tier (see tests/conftest.py)."""
