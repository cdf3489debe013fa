"""Tell systemd how a service is doing (``sd_notify(3)``), without libsystemd.

A service started with ``Type=notify`` (the unit ``gallerfs unit`` writes)
gets ``$NOTIFY_SOCKET``; ``notify("READY=1")`` then says the mount is up, so
systemd starts what is ordered after it only once the files are there.
Outside systemd the variable is unset and nothing happens.
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)


def notify(*fields: str) -> bool:
    """Send ``KEY=VALUE`` fields to the service manager; False when there is none (or it did not answer)."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall("\n".join(fields).encode("utf-8", "surrogateescape"))
    except OSError as exc:
        log.warning("could not notify the service manager at %s: %s", address.lstrip("\0"), exc)
        return False
    return True
