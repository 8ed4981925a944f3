"""Typed gRPC registration helpers for the host's services, generated from proto/ by ``scripts/regen-protos``.

One ``<proto>_grpc.py`` per .proto file the host serves over gRPC; never
edit them by hand (a test regenerates and compares). They import grpcio
only when a service is added (``impl.server._grpc_methods``).
"""
