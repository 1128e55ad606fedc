"""Helpers for trying milestone-sheets offline: generated plans (and, later, emulators).

These need the test extras (`pip install milestone-sheets[test]`).
"""
