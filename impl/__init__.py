"""impl: the behaviour behind shimtypes (plugins, loader, ttrpc, shim runner, host)."""
