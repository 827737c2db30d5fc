"""Added latency and throughput of the gateway over a direct call, measured in the same run.

Starts a minimal upstream (its own process) and the gateway under Daphne (`manage.py serve`,
one worker, temporary SQLite), then drives both from this process and prints p50/p99 per case,
the gateway's CPU time per request (its log writer's share included) and, at the end, the
gateway's peak RSS. The load comes from aiohttp, whose per-request cost is a fraction of the
gateway's, so req/s is the gateway's and not the client's. The three processes share this
machine's cores unless `--pin` puts the gateway on one core and the rest on another.

    .venv/bin/python bench/latency.py [--requests 2000] [--concurrency 1 16] [--pin]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import httpx

ROOT = Path(__file__).resolve().parent.parent

SMALL = json.dumps({"model": "gpt-5", "messages": [{"role": "user", "content": "hi"}]}).encode()
LARGE = json.dumps(
    {"model": "gpt-5", "messages": [{"role": "tool", "content": "x" * 200_000}]}
).encode()
HEADERS = {"authorization": "Bearer sk-bench", "content-type": "application/json"}

UPSTREAM = r"""
import asyncio, sys
REPLY = b'{"id":"c","object":"chat.completion","choices":[],"usage":{"prompt_tokens":1}}'
EVENTS = [b'data: {"choices":[{"delta":{"content":"x"}}]}\n\n'] * 5 + [b"data: [DONE]\n\n"]

class Upstream(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.buffer = transport, b""
    def data_received(self, data):
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].decode("latin-1").lower()
            length = 0
            for line in head.split("\r\n"):
                if line.startswith("content-length:"):
                    length = int(line.split(":")[1])
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4:end + 4 + length]
            self.buffer = self.buffer[end + 4 + length:]
            if b'"stream": true' in body or head.startswith("post /stream"):
                body = b"".join(b"%x\r\n%s\r\n" % (len(e), e) for e in EVENTS) + b"0\r\n\r\n"
                self.transport.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                                     b"transfer-encoding: chunked\r\n\r\n" + body)
            else:
                self.transport.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                                     b"content-length: %d\r\n\r\n%s" % (len(REPLY), REPLY))

async def main(port):
    server = await asyncio.get_running_loop().create_server(Upstream, "127.0.0.1", port)
    async with server:
        await asyncio.sleep(3600)

asyncio.run(main(int(sys.argv[1])))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


def start(tmp: Path, upstream_port: int, gateway_port: int) -> list[subprocess.Popen]:
    upstream = subprocess.Popen([sys.executable, "-c", UPSTREAM, str(upstream_port)])
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}",
        "OPENAI_TARGET_API_URL": f"http://127.0.0.1:{upstream_port}",
        "HEADROOM_LOG_LEVEL": "WARNING",
    }
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    gateway = subprocess.Popen(
        [*manage, "serve", "--port", str(gateway_port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    wait_until_up(f"http://127.0.0.1:{gateway_port}/healthz")
    return [upstream, gateway]


async def timed_posts(
    client: aiohttp.ClientSession, url: str, body: bytes, count: int, concurrency: int
) -> tuple[list[float], float]:
    latencies: list[float] = []
    remaining = iter(range(count))

    async def worker() -> None:
        for _ in remaining:
            started = time.perf_counter()
            async with client.post(url, data=body, headers=HEADERS) as response:
                await response.read()
                response.raise_for_status()
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - started


async def ttfb(client: aiohttp.ClientSession, url: str, count: int) -> list[float]:
    body = json.dumps({"model": "gpt-5", "stream": True, "messages": []}).encode()
    times = []
    for _ in range(count):
        started = time.perf_counter()
        async with client.post(url, data=body, headers=HEADERS) as response:
            first = None
            async for _chunk in response.content.iter_any():
                first = first or time.perf_counter()
            times.append((first - started) * 1000)
    return times


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


async def run(
    args: argparse.Namespace, upstream_url: str, gateway_url: str, gateway_pid: int
) -> None:
    connector = aiohttp.TCPConnector(limit=64)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:
        for name, body in (("small", SMALL), ("200KB", LARGE)):
            for concurrency in args.concurrency:
                count = args.requests if name == "small" else max(args.requests // 4, 50)
                await timed_posts(client, f"{gateway_url}/v1/chat/completions", body, 20, 4)
                direct, _ = await timed_posts(
                    client, f"{upstream_url}/v1/chat/completions", body, count, concurrency
                )
                cpu_before = cpu_seconds(gateway_pid)
                via, elapsed = await timed_posts(
                    client, f"{gateway_url}/v1/chat/completions", body, count, concurrency
                )
                # The log writer saves the case's rows within its flush interval (1 s).
                await asyncio.sleep(1.2)
                cpu_ms = (cpu_seconds(gateway_pid) - cpu_before) * 1000 / count
                added50, added99 = pct(via, 50) - pct(direct, 50), pct(via, 99) - pct(direct, 99)
                print(
                    f"{name:>6} c={concurrency:<3} direct p50 {pct(direct, 50):6.2f} ms "
                    f"p99 {pct(direct, 99):6.2f} | gateway p50 {pct(via, 50):6.2f} ms "
                    f"p99 {pct(via, 99):6.2f} | added p50 {added50:5.2f} ms p99 {added99:5.2f} ms"
                    f" | {count / elapsed:6.0f} req/s | cpu {cpu_ms:4.2f} ms/req"
                )
        direct = await ttfb(client, f"{upstream_url}/stream", 100)
        via = await ttfb(client, f"{gateway_url}/v1/chat/completions", 100)
        print(
            f"stream TTFB direct p50 {pct(direct, 50):.2f} ms | gateway p50 {pct(via, 50):.2f} ms "
            f"p99 {pct(via, 99):.2f} ms | added p50 {pct(via, 50) - pct(direct, 50):.2f} ms"
        )
    print(f"gateway peak RSS {peak_rss_mib(gateway_pid):.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    parser.add_argument(
        "--pin",
        action="store_true",
        help="gateway on the first core, upstream and load on the rest",
    )
    args = parser.parse_args()
    upstream_port, gateway_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as tmp:
        processes = start(Path(tmp), upstream_port, gateway_port)
        upstream, gateway = processes
        if args.pin:
            pin(gateway.pid, upstream.pid)
        try:
            asyncio.run(
                run(
                    args,
                    f"http://127.0.0.1:{upstream_port}",
                    f"http://127.0.0.1:{gateway_port}",
                    gateway.pid,
                )
            )
        finally:
            for process in processes:
                process.terminate()
                process.wait(10)


def pin(gateway_pid: int, upstream_pid: int) -> None:
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        raise SystemExit("--pin needs at least two cores")
    os.sched_setaffinity(gateway_pid, {cores[0]})
    for pid in (upstream_pid, 0):
        os.sched_setaffinity(pid, set(cores[1:]))


if __name__ == "__main__":
    main()
