"""Benchmarks: run as scripts (python bench/NAME.py); a package so mypy sees unique module names."""
