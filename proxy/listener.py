"""The listening socket `serve` binds itself, before Daphne starts, so that an address in use
ends the command with a clear message, and so that several worker processes can share it.
"""

from __future__ import annotations

import contextlib
import errno
import resource
import socket

# Connections the kernel queues for the workers while they are busy accepting: a burst of
# 1,000 streams arrives at once (the kernel caps it at net.core.somaxconn).
BACKLOG = 4096


class ListenError(Exception):
    """The address cannot be listened on; the message says why, in one line."""


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (IPv4 preferred when a name has both)."""
    try:
        found = socket.getaddrinfo(
            host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    family, _type, _proto, _name, address = sorted(found, key=lambda info: info[0])[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        # Lets a restarted gateway bind at once while old connections sit in TIME_WAIT; it does
        # not let two servers listen on one port.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        reason = "the port is already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
        raise ListenError(f"cannot listen on {host}:{port}: {reason}") from exc
    sock.set_inheritable(True)
    return sock


def endpoint(sock: socket.socket) -> str:
    """The Daphne endpoint string that adopts this socket, which Twisted then owns and closes.
    Daphne's `fd:` endpoint takes IPv4 sockets only, so `serve` hands an IPv6 address to
    Daphne's own TCP endpoint instead."""
    return f"fd:fileno={sock.detach()}"


def adoptable(sock: socket.socket) -> bool:
    return sock.family == socket.AF_INET


def raise_open_files_limit() -> None:
    """Each stream holds two descriptors (client and upstream): lift the soft limit, often
    1024, to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and hard != resource.RLIM_INFINITY and soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
