"""The domain: tables and fields, cell values, rows, status, goals and tasks. Pure.

Nothing here reads a file, a clock or the network, and nothing imports from `sources`:
rows and an as-of date come in, computed values go out.
"""
