"""`manage.py serve`: the gateway under Daphne, with no access log that could print a key."""

from __future__ import annotations

# Daphne installs Twisted's asyncio reactor on import; it must come before anything else
# imports a reactor.
import daphne.server  # noqa: I001, F401  isort:skip

import argparse
import asyncio
import gc
import logging
import os
import socket
import sys
import threading

from channels.routing import get_default_application
from daphne.endpoints import build_endpoint_description_strings
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, connection
from twisted.internet import reactor, task
from twisted.internet.defer import Deferred
from twisted.web import http

from proxy import backpressure, checks, intake, listener, respond, schema, shutdown, upstream
from proxy import supervisor as workerpool
from requestlog import writer

logger = logging.getLogger("headroom.serve")
# Longest a shutdown waits for the request log to be written.
SHUTDOWN_FLUSH_SECONDS = 30.0
# How far past the gateway's own header limits Twisted keeps reading before it cuts a request off.
HEADER_ROOM = 4


class Command(BaseCommand):
    help = "Run the gateway under Daphne (SPEC §8)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8787)
        parser.add_argument(
            "--workers",
            type=int,
            default=1,
            help="gateway processes sharing the port, kept running by a supervisor (default 1)",
        )
        # Internal: a worker started by the supervisor (its pid) serves this inherited socket.
        parser.add_argument("--fd", type=int, default=None, help=argparse.SUPPRESS)
        parser.add_argument("--supervisor", type=int, default=None, help=argparse.SUPPRESS)
        parser.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)

    def handle(
        self,
        *args: object,
        host: str,
        port: int,
        workers: int,
        fd: int | None,
        supervisor: int | None,
        worker: int | None,
        **options: object,
    ) -> None:
        if fd is not None:
            if worker is not None:
                respond.worker_number = str(worker)
            self.serve(socket.socket(fileno=fd), supervisor_pid=supervisor)
            return
        if workers < 1:
            raise CommandError("--workers must be at least 1")
        checks.check_serving(self, host)
        refuse_unmigrated()
        replay_spilled_rows()
        try:
            sock = listener.bind(host, port)
        except listener.ListenError as exc:
            raise CommandError(str(exc)) from exc
        if workers > 1 and not listener.adoptable(sock):
            raise CommandError("--workers needs an IPv4 address to listen on")
        self.stdout.write(f"Headroom Gateway listening on http://{host}:{port}/", ending="\n")
        self.stdout.flush()
        if workers == 1:
            self.serve(sock, supervisor_pid=None, host=host, port=port)
            return
        command = [sys.executable, str(settings.BASE_DIR / "manage.py"), "serve"]
        command += ["--fd", str(sock.fileno()), "--supervisor", str(os.getpid())]
        sys.exit(workerpool.Supervisor(command, sock.fileno(), workers).run())

    def serve(
        self, sock: socket.socket, supervisor_pid: int | None, host: str = "", port: int = 0
    ) -> None:
        make_room_for_headers()
        # Bodies limited while they are read, slow senders cut off (Twisted reads a whole
        # request before Daphne's application sees any of it).
        intake.install()
        listener.raise_open_files_limit()
        if listener.adoptable(sock):
            endpoints = [listener.endpoint(sock)]
        else:
            # Daphne adopts IPv4 sockets only: free the checked port for its own TCP endpoint.
            sock.close()
            endpoints = build_endpoint_description_strings(host=host, port=port)
        # action_logger=None keeps Daphne's access log off: it prints query strings, and a
        # Gemini `?key=` is a credential. The gateway logs each request itself, without them.
        # Daphne's server, with backpressure from each client's socket (proxy.backpressure).
        server = backpressure.Server(
            # The site's one way in (ASGI_APPLICATION), named by the settings.
            application=get_default_application(),
            endpoints=endpoints,
            action_logger=None,
            http_timeout=None,
            application_close_timeout=10,
            verbosity=0,
            # SIGTERM/SIGINT start a graceful stop instead of stopping the reactor at once.
            signal_handlers=False,
        )
        reactor.callWhenRunning(shutdown.GracefulStop(server).install)
        # Graceful stop (SIGTERM/SIGINT): once Daphne's "before" trigger has ended the requests
        # in flight, write the queued request-log rows before the process exits. (Twisted declares
        # interface methods without self, zope-style; mypy reads them wrong without mypy-zope.)
        reactor.addSystemEventTrigger("during", "shutdown", flush_request_log)  # type: ignore[arg-type]
        # Registered once running, so it comes after Daphne's own "before" trigger has ended the
        # requests in flight; the event loop still runs in that phase, not in the next.
        reactor.callWhenRunning(reactor.addSystemEventTrigger, "before", "shutdown", close_upstream)
        if supervisor_pid is not None:
            # A worker whose supervisor was killed stops by itself instead of serving on alone.
            check = workerpool.watch_supervisor(supervisor_pid, reactor.stop)  # type: ignore[misc]
            reactor.callWhenRunning(task.LoopingCall(check).start, workerpool.ORPHAN_CHECK_SECONDS)
        # Everything loaded so far (Django, the apps, the routes) lives as long as the process:
        # out of the collector's sight, it is not walked again by every full collection.
        reactor.callWhenRunning(gc.freeze)
        server.run()


def refuse_unmigrated() -> None:
    """Every request would fail on a missing table: refuse to start instead, in one line."""
    try:
        pending = schema.unapplied_migrations()
    except DatabaseError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CommandError(f"cannot read the database ({reason}); check DATABASE_URL") from exc
    finally:
        connection.close()
    if pending:
        raise CommandError(
            f"{len(pending)} database migration(s) not applied: run `manage.py migrate` first"
        )


def replay_spilled_rows() -> None:
    """Write the request-log rows an earlier stop spilled while the database was down, once,
    before any worker starts (so no two workers replay the same file)."""
    try:
        replayed = writer.replay_spilled()
    except Exception as exc:
        # The rows stay on disk for the next start; serving must not wait on them. Only the
        # error's type is logged: its message may quote a caller's text.
        logger.error("request log: could not replay spilled rows (%s)", type(exc).__name__)
        return
    finally:
        connection.close()
    if replayed:
        logger.info("request log: %d spilled rows written", replayed)


def make_room_for_headers() -> None:
    """Twisted answers a header block over 16 KiB or 500 headers with a bare 400 and no body.
    Reading up to four times the gateway's own limits lets the gateway refuse such a request
    itself, with a 431 in the caller's wire format and a request-log row; only a block past that
    still meets Twisted's cut.
    """
    channel = http.HTTPChannel
    room = HEADER_ROOM * settings.HEADROOM_MAX_HEADER_BYTES
    channel.totalHeadersSize = max(channel.totalHeadersSize, room)
    channel.MAX_LENGTH = max(channel.MAX_LENGTH, room)  # one line may be that long too
    channel.maxHeaders = max(channel.maxHeaders, HEADER_ROOM * settings.HEADROOM_MAX_HEADERS)


def close_upstream() -> Deferred[None]:
    """Close the pooled upstream connections on the reactor's own event loop."""
    return Deferred.fromFuture(asyncio.ensure_future(upstream.reset_client()))


def flush_request_log() -> None:
    """Runs on the reactor's thread, where the ORM refuses to run: write from a helper thread."""
    helper = threading.Thread(target=writer.writer.stop, name="headroom-log-flush")
    helper.start()
    helper.join(SHUTDOWN_FLUSH_SECONDS)
