"""How much one caller's hostile bodies slow every other caller down.

Starts the gateway as bench/latency.py does (one worker, temporary SQLite, a minimal upstream)
with two routes to that upstream, `adv-` and `*`. Small chat requests on `*` are timed alone,
then again while adversarial bodies on `adv-` are sent in a loop: a 70 KB log-like tool result
(one long line, a carriage return mid-line), 400,000 tiny tool messages, deeply nested JSON, a
30 MB body and 10 MB of one line, from a process of their own. Prints p50/p99/max of the small
requests for both runs.

    .venv/bin/python bench/isolation.py [--requests 300] [--senders 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from pathlib import Path

import aiohttp
from latency import HEADERS, SMALL, free_port, pct, start

ROOT = Path(__file__).resolve().parent.parent


def chat(model: str, messages: list[dict]) -> bytes:
    return json.dumps({"model": model, "messages": messages}).encode()


def tool(content: str) -> dict:
    return {"role": "tool", "tool_call_id": "call_1", "content": content}


def adversarial_bodies() -> dict[str, bytes]:
    log_line = "2026-01-01 12:00:00 INFO worker step=" + "a" * 30_000 + "\r" + "b" * 30_000
    log = "\n".join([log_line, *(f"ERROR failed at step {n}" for n in range(400))])
    nested = {"k": "v"}
    for _ in range(60):
        nested = {"k": [nested, "x" * 10]}
    return {
        "70KB log with a long line and a mid-line CR": chat("adv-log", [tool(log[:70_000])]),
        "400,000 tiny tool messages": chat("adv-many", [tool("x")] * 400_000),
        "nested JSON, 60 levels": chat("adv-nested", [tool(json.dumps(nested))]),
        "30 MB body": chat("adv-big", [tool("word " * 6_000_000)]),
        "10 MB of one line": chat("adv-line", [tool("y" * 10_000_000)]),
    }


def add_routes(tmp: Path, upstream_port: int) -> None:
    routes = [
        {"model_prefix": "adv-", "upstream": f"http://127.0.0.1:{upstream_port}"},
        {"model_prefix": "*", "upstream": f"http://127.0.0.1:{upstream_port}"},
    ]
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}"}
    subprocess.run(
        [sys.executable, "manage.py", "import_routes", "-"],
        cwd=ROOT,
        env=env,
        input=json.dumps(routes),
        text=True,
        check=True,
        capture_output=True,
    )


async def small_latencies(client: aiohttp.ClientSession, url: str, count: int) -> list[float]:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        async with client.post(url, data=SMALL, headers=HEADERS) as response:
            await response.read()
        times.append((time.perf_counter() - started) * 1000)
    return times


async def hammer(
    client: aiohttp.ClientSession, url: str, bodies: list[bytes], stop: asyncio.Event
) -> int:
    sent = 0
    while not stop.is_set():
        body = bodies[sent % len(bodies)]
        try:
            async with client.post(url, data=body, headers=HEADERS) as response:
                await response.read()
        except aiohttp.ClientError:
            pass
        sent += 1
    return sent


def line(name: str, times: list[float]) -> str:
    return (
        f"{name:<28} p50 {pct(times, 50):8.2f} ms  p99 {pct(times, 99):8.2f} ms  "
        f"max {max(times):8.2f} ms"
    )


async def hammer_until(url: str, senders: int, stop: Event, sent: Queue) -> None:
    bodies = list(adversarial_bodies().values())
    done = asyncio.Event()
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(timeout=timeout) as client:
        tasks = [asyncio.create_task(hammer(client, url, bodies, done)) for _ in range(senders)]
        while not stop.is_set():
            await asyncio.sleep(0.05)
        done.set()
        sent.put(sum(await asyncio.gather(*tasks)))


def adversary(url: str, senders: int, stop: Event, sent: Queue) -> None:
    """The adversarial senders, in a process of their own: writing a 30 MB body blocks the
    sender's event loop too, and that must not count against the gateway."""
    asyncio.run(hammer_until(url, senders, stop, sent))


async def run(args: argparse.Namespace, url: str) -> None:
    bodies = adversarial_bodies()
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(timeout=timeout) as client:
        await small_latencies(client, url, 20)
        quiet = await small_latencies(client, url, args.requests)
        spawn = multiprocessing.get_context("spawn")
        stop, sent_queue = spawn.Event(), spawn.Queue()
        sender = spawn.Process(target=adversary, args=(url, args.senders, stop, sent_queue))
        sender.start()
        await asyncio.sleep(3.0)
        loud = await small_latencies(client, url, args.requests)
        stop.set()
        sent = sent_queue.get(timeout=300)
        sender.join(30)
    print("adversarial bodies: " + "; ".join(bodies))
    print(line("small, alone", quiet))
    print(line(f"small, {sent} adversarial sent", loud))
    print(
        f"added by adversarial traffic: p50 {pct(loud, 50) - pct(quiet, 50):.2f} ms, "
        f"p99 {pct(loud, 99) - pct(quiet, 99):.2f} ms, max {max(loud) - max(quiet):.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--senders", type=int, default=2)
    args = parser.parse_args()
    upstream_port, gateway_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as tmp:
        processes = start(Path(tmp), upstream_port, gateway_port)
        try:
            add_routes(Path(tmp), upstream_port)
            time.sleep(2.5)  # the route table is polled
            asyncio.run(run(args, f"http://127.0.0.1:{gateway_port}/v1/chat/completions"))
        finally:
            for process in processes:
                process.terminate()
                process.wait(10)


if __name__ == "__main__":
    main()
