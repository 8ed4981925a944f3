"""Typed ttrpc bindings generated from proto/ by ``scripts/regen-protos``.

One ``<proto>_ttrpc.py`` per .proto file with a ttrpc service; never edit
them by hand (a test regenerates and compares).
"""
