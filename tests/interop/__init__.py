"""Interop tests against the Go ttrpc 1.1.1 reference peer (tests/go)."""
