"""CRI end-to-end suite (issue 9): pyrunc against the Go runc shim through containerd's CRI plugin.

One private containerd per pinned version (1.6.20 bookworm, 1.7.24 trixie,
2.1.9 sid; ``_peers``), fetched as ``.deb`` files by ``scripts/fetch-debs``
and never installed; two runtime handlers on each (``runc``, ``pyrunc``);
host-network pods; a busybox-static OCI image built in the test and imported
into ``k8s.io`` as both the sandbox and the app image (``_image``); a typed
grpcio client (``_client``) over stubs generated at test time from Debian's
cri-api ``api.proto`` (``_stubs``); streaming exec over WebSocket
(``_stream``). What pyrunc cannot do yet is listed in ``_gaps`` (strict
xfail: the list must shrink). ``SHIMTYPES_CRI_DEBUG=1`` runs the daemons at
debug level (shims then log their runc calls into the failure reports).
"""
