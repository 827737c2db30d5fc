"""Throughput and added latency of `serve --workers 1` and `--workers 2` beside direct calls to
the same upstream, measured in the same run.

Starts bench/latency.py's minimal upstream (its own process), then the gateway on a temporary
SQLite database with one worker, then with two, and drives each from this process with aiohttp.
Every process shares this machine's cores, the load generator included, so two workers gain
only as far as cores are free.

    .venv/bin/python bench/workers.py [--requests 3000] [--concurrency 16 64]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from latency import SMALL, UPSTREAM, free_port, pct, timed_posts, wait_until_up

ROOT = Path(__file__).resolve().parent.parent
# Longest wait for every worker to answer, and for the gateway to stop.
START_SECONDS = 60
STOP_SECONDS = 60


def children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def wait_for_each_worker(supervisor: int, url: str, workers: int) -> None:
    """Every worker answers: each in turn, the others paused (a paused worker accepts nothing)."""
    deadline = time.monotonic() + START_SECONDS
    while len(children(supervisor)) < workers and time.monotonic() < deadline:
        time.sleep(0.1)
    pids = children(supervisor)
    for pid in pids:
        others = [other for other in pids if other != pid]
        for other in others:
            os.kill(other, signal.SIGSTOP)
        try:
            wait_until_up(url)
        finally:
            for other in others:
                os.kill(other, signal.SIGCONT)


def start_gateway(env: dict[str, str], port: int, workers: int) -> subprocess.Popen:
    gateway = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port), "--workers", str(workers)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/healthz"
    if workers == 1:
        wait_until_up(url)
    else:
        wait_for_each_worker(gateway.pid, url, workers)
    return gateway


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


async def measure(
    upstream_url: str, gateway_url: str, workers: int, args: argparse.Namespace
) -> None:
    connector = aiohttp.TCPConnector(limit=256)
    timeout = aiohttp.ClientTimeout(total=60)
    path = "/v1/chat/completions"
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:
        await timed_posts(client, f"{gateway_url}{path}", SMALL, 200, 16)
        for concurrency in args.concurrency:
            count = args.requests
            direct, direct_elapsed = await timed_posts(
                client, f"{upstream_url}{path}", SMALL, count, concurrency
            )
            via, elapsed = await timed_posts(
                client, f"{gateway_url}{path}", SMALL, count, concurrency
            )
            print(
                f"workers={workers} c={concurrency:<3} "
                f"direct {count / direct_elapsed:6.0f} req/s p50 {pct(direct, 50):6.2f} ms | "
                f"gateway {count / elapsed:6.0f} req/s p50 {pct(via, 50):6.2f} ms "
                f"p99 {pct(via, 99):6.2f} ms | added p50 {pct(via, 50) - pct(direct, 50):6.2f} ms "
                f"p99 {pct(via, 99) - pct(direct, 99):6.2f} ms",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    upstream_port = free_port()
    upstream = subprocess.Popen([sys.executable, "-c", UPSTREAM, str(upstream_port)])
    upstream_url = f"http://127.0.0.1:{upstream_port}"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            env = {
                **os.environ,
                "DATABASE_URL": f"sqlite:///{Path(tmp) / 'bench.sqlite3'}",
                "OPENAI_TARGET_API_URL": upstream_url,
                "HEADROOM_LOG_LEVEL": "WARNING",
            }
            subprocess.run(
                [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True
            )
            wait_until_up(f"{upstream_url}/up")
            for workers in args.workers:
                port = free_port()
                gateway = start_gateway(env, port, workers)
                try:
                    asyncio.run(measure(upstream_url, f"http://127.0.0.1:{port}", workers, args))
                finally:
                    stop(gateway)
    finally:
        upstream.terminate()
        upstream.wait(10)


if __name__ == "__main__":
    main()
