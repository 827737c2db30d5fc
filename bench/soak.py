"""A bounded mixed soak through one gateway worker: streams, upstream errors, clients that leave
mid-stream, and response-cache hits, for --seconds. Prints requests sent against rows written,
and the worker's event-loop tasks, file descriptors and RSS at the start and the end.

    .venv/bin/python bench/soak.py [--seconds 600] [--concurrency 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import HEADERS, Stack  # noqa: E402

ROUTES = [
    {"model_prefix": "cached-", "cache_ttl": 600},
    {"model_prefix": "fail", "retries": 0},
    {"model_prefix": "*"},
]


def body(model: str, stream: bool) -> bytes:
    return json.dumps({"model": model, "stream": stream, "messages": []}).encode()


async def one(client: aiohttp.ClientSession, url: str, kind: str) -> None:
    data = {
        "stream": body("gpt-5", True),
        "error": body("fail-1", False),
        "leave": body("gpt-5", True),
        "cached": body("cached-1", False),
        "plain": body("gpt-5", False),
    }[kind]
    try:
        async with client.post(url, data=data, headers=HEADERS) as response:
            if kind == "leave":
                await response.content.readany()
                response.close()  # the client goes away mid-stream
                return
            await response.read()
    except (aiohttp.ClientError, TimeoutError):
        pass


async def soak(stack: Stack, seconds: float, concurrency: int) -> int:
    sent = 0
    deadline = time.monotonic() + seconds
    kinds = ["stream", "error", "leave", "cached", "plain"]

    async def worker(client: aiohttp.ClientSession) -> None:
        nonlocal sent
        while time.monotonic() < deadline:
            sent += 1
            await one(client, f"{stack.url}/v1/chat/completions", random.choice(kinds))

    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(Path(tmp), seconds=0.5, interval=0.1, routes=[dict(r) for r in ROUTES])
        try:
            start = (stack.loop_tasks(), stack.fds(), stack.rss_mib())
            sent = asyncio.run(soak(stack, args.seconds, args.concurrency))
            time.sleep(3)  # streams the upstream still finishes, and the writer's last batch
            end = (stack.loop_tasks(), stack.fds(), stack.rss_mib())
            print(
                f"{args.seconds:.0f} s soak: {sent} requests, {stack.rows()} rows | tasks "
                f"{start[0]} -> {end[0]} | fds {start[1]} -> {end[1]} | "
                f"RSS {start[2]:.0f} -> {end[2]:.0f} MiB"
            )
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
