"""Generated protobuf modules (``scripts/regen-protos``); do not edit by hand.

Wire names and field numbers follow containerd 1.6 and Go ttrpc 1.1.1.
"""
