"""Bastion's own HTTP/1.1 server (uvloop + httptools) and the ``--workers`` supervisor.

The server (:mod:`bastion.server.server`) serves the ASGI app with the limits a gateway at the
edge needs: header and body read timeouts, an idle keep-alive timeout, a header size limit and a
connection cap, all in ``bastion_settings.server`` (docs/operations.md). The supervisor
(:mod:`bastion.server.supervisor`) runs N of them on one port and imports none of the app, which
is why this package's ``__init__`` imports nothing.
"""

__all__: list[str] = []
