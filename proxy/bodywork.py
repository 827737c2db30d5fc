"""CPU work on large request bodies, kept off the event loop: reading a body's routing members
and the savings engine run in a worker process under a hard time limit, so that one caller's
body never stalls the others. Bodies up to HEADROOM_BODY_OFFLOAD_BYTES are worked inline.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import threading
import zlib
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from typing import Any, TypeVar

from django.conf import settings

from proxy import admit, inbound, savings, worker
from proxy.compression import memo
from proxy.errors import GatewayError
from proxy.exchange import Exchange
from proxy.inbound import Inbound, Surface
from proxy.worker import OverTime, limited
from routing.models import UpstreamRoute

logger = logging.getLogger(__name__)

T = TypeVar("T")

# The savings note of a request whose engine run was stopped by the time limit.
TIME_LIMIT = "time_limit"
PROCESS, THREAD = "process", "thread"
# Seconds the event loop waits beyond the limit for a worker that did not stop itself (stuck in
# one long C call, or a new process still starting) before it gives up and replaces the worker.
GRACE_SECONDS = 5.0
# Requests whose bodies open alike (one conversation, turn after turn) go to the same worker, so
# that the decisions its memo holds for their tool outputs apply to every turn.
AFFINITY_BYTES = 512

# Bodies whose engine run hit the time limit, by content: the same body gets the same decision.
decisions = memo.Memo()

_pools: list[Executor] = []
_shape: tuple[str, int] = ("", 0)
_lock = threading.Lock()


def offloaded(body: bytes) -> bool:
    """Whether work on this body leaves the event loop (HEADROOM_BODY_WORKERS 0 keeps it all)."""
    # The size first: most bodies are small, and each settings read costs a little. The gateway
    # asks once per request and hands the answer to each step.
    threshold: int = settings.HEADROOM_BODY_OFFLOAD_BYTES
    if len(body) <= threshold:
        return False
    workers: int = settings.HEADROOM_BODY_WORKERS
    return workers > 0


async def parse_model(received: Inbound, surface: Surface, large: bool) -> None:
    """`inbound.parse_model`, with a `large` body (see `offloaded`) checked for depth (which
    `admit` leaves to this step) and parsed in a worker; 413 when that runs out of time, because
    a body that cannot be read cannot be routed."""
    read = None
    if large:
        depth = settings.HEADROOM_MAX_JSON_DEPTH
        read = await run(received.body, inbound.read_members, depth)
        if read is None:
            raise GatewayError(
                413, "the request body could not be read within the time limit", "body_too_slow"
            )
        if read.too_deep:
            raise admit.json_too_deep()
    inbound.parse_model(received, surface, read)


async def apply_savings(
    received: Inbound, route: UpstreamRoute | None, exchange: Exchange, large: bool
) -> None:
    """`savings.apply`, with a `large` body compressed in a worker. When the time limit runs out
    the body goes as it came, the note says so, and the same body gets that decision again."""
    if not large:
        savings.apply(received, route, exchange)
        return
    job = savings.prepare(received, route, exchange)
    if job is None:
        return
    # Hashing releases the interpreter lock, so a large body's digest costs the loop nothing.
    key = ("request", await asyncio.to_thread(memo.digest_bytes, received.body))
    if decisions.get(key) is memo.MISSING:
        try:
            spilled = await run(received.body, worker.compress, job.engine())
            if spilled is not None:
                result, path = spilled
                body = await asyncio.to_thread(worker.take, path) if path else received.body
                savings.finish(received, exchange, job, replace(result, body=body))
                return
        except Exception as exc:
            savings.failed(exchange, exc)
            return
        decisions.put(key, None, pinned=True)
    exchange.savings_note = job.skip or TIME_LIMIT


async def run(body: bytes, work: Callable[..., T], *args: Any) -> T | None:
    """`work(body, *args)` in a worker, or None when HEADROOM_BODY_TIME_LIMIT_MS ran out first."""
    limit = settings.HEADROOM_BODY_TIME_LIMIT_MS / 1000
    pool = _pool_for(body)
    process = isinstance(pool, ProcessPoolExecutor)
    if not process:
        return await _in_thread(pool, limit, work, body, *args)
    # Writing the file releases the interpreter lock; see worker.on_file.
    path = await asyncio.to_thread(worker.spill, body)
    job = pool.submit(limited, limit, worker.on_file, work, path, *args)
    try:
        # The worker stops itself at the limit; this only catches one that cannot.
        result = await asyncio.wait_for(asyncio.wrap_future(job), limit + GRACE_SECONDS)
    except asyncio.CancelledError:
        # The client left: a result that still arrives may have left a file behind.
        job.add_done_callback(_discard)
        raise
    except TimeoutError:
        logger.warning("a body worker overran its time limit; it is replaced")
        _replace(pool)
        return None
    except BrokenProcessPool:
        _replace(pool)
        return None
    finally:
        # A job that never started leaves its file behind.
        worker.remove(path)
    return None if isinstance(result, OverTime) else result


def _discard(job: Future[Any]) -> None:
    if not job.cancelled() and job.exception() is None:
        outcome = job.result()
        if isinstance(outcome, worker.Spilled) and outcome.path:
            worker.remove(outcome.path)


async def _in_thread(pool: Executor, limit: float, work: Callable[..., T], *args: Any) -> T | None:
    """A thread cannot be stopped, only no longer waited for; it shares the interpreter lock."""
    future = asyncio.get_running_loop().run_in_executor(pool, work, *args)
    try:
        return await asyncio.wait_for(future, limit)
    except TimeoutError:
        return None


def _pool_for(body: bytes) -> Executor:
    """The worker for this body: one pool of HEADROOM_BODY_WORKERS single workers, of the kind
    HEADROOM_BODY_POOL names, made on first use and again when the settings change."""
    global _pools, _shape
    shape = (settings.HEADROOM_BODY_POOL, settings.HEADROOM_BODY_WORKERS)
    with _lock:
        if shape != _shape:
            old, _pools, _shape = _pools, [_executor(shape[0]) for _ in range(shape[1])], shape
            for pool in old:
                pool.shutdown(wait=False, cancel_futures=True)
        return _pools[zlib.crc32(body[:AFFINITY_BYTES]) % len(_pools)]


def _executor(kind: str) -> Executor:
    if kind == THREAD:
        return ThreadPoolExecutor(1, thread_name_prefix="headroom-body")
    # Spawned, not forked: the gateway process runs threads (the log writer) a fork would copy
    # mid-flight.
    return ProcessPoolExecutor(
        1, mp_context=multiprocessing.get_context("spawn"), initializer=worker.start
    )


def _replace(pool: Executor) -> None:
    """Stop a worker that will not stop, and put a fresh one in its place."""
    with _lock:
        if pool in _pools:
            _pools[_pools.index(pool)] = _executor(_shape[0])
    if isinstance(pool, ProcessPoolExecutor):
        for process in list((pool._processes or {}).values()):
            process.terminate()
    pool.shutdown(wait=False, cancel_futures=True)


def shutdown() -> None:
    """Stop every worker; the next offloaded body starts a fresh pool."""
    global _pools, _shape
    with _lock:
        old, _pools, _shape = _pools, [], ("", 0)
    for pool in old:
        pool.shutdown(wait=True, cancel_futures=True)
