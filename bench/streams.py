"""1,000 concurrent streaming requests through one gateway worker against an upstream that
streams each for 10 s: errors, time to first byte p50/p99, how many streams the upstream held
open at once, and the worker's peak RSS.

    .venv/bin/python bench/streams.py [--streams 1000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import HEADERS, Stack, pct  # noqa: E402

BODY = json.dumps({"model": "gpt-5", "stream": True, "messages": []}).encode()


async def one(
    client: aiohttp.ClientSession, url: str, ttfb: list[float], errors: list[str]
) -> None:
    started = time.perf_counter()
    try:
        async with client.post(url, data=BODY, headers=HEADERS) as response:
            first = None
            async for _chunk in response.content.iter_any():
                first = first or time.perf_counter()
            if response.status != 200 or first is None:
                errors.append(f"status {response.status}")
            else:
                ttfb.append((first - started) * 1000)
    except (aiohttp.ClientError, TimeoutError) as exc:
        errors.append(type(exc).__name__)


async def drive(stack: Stack, streams: int, seconds: float) -> None:
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=seconds + 120)
    ttfb: list[float] = []
    errors: list[str] = []
    peak_rss = stack.rss_mib()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:
        url = f"{stack.url}/v1/chat/completions"
        tasks = [asyncio.create_task(one(client, url, ttfb, errors)) for _ in range(streams)]
        while not all(task.done() for task in tasks):
            await asyncio.sleep(0.2)
            peak_rss = max(peak_rss, stack.rss_mib())
    upstream = stack.upstream_open()
    print(
        f"streams {streams} x {seconds:.0f} s | errors {len(errors)} {sorted(set(errors))} | "
        f"upstream open at once {upstream['peak']} | TTFB p50 {pct(ttfb, 50):.0f} ms "
        f"p99 {pct(ttfb, 99):.0f} ms max {max(ttfb, default=0):.0f} ms | "
        f"peak RSS {peak_rss:.0f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(Path(tmp), seconds=args.seconds, interval=1)
        try:
            asyncio.run(drive(stack, args.streams, args.seconds))
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
