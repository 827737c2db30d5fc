"""What the load and endurance scripts share: a scripted upstream in its own process, one
gateway worker under `manage.py serve` on a temporary SQLite database, and process figures.

The upstream answers JSON, or streams (`"stream": true`) one event a `--interval` for
`--seconds` before `[DONE]`; a model starting with `fail` gets a 500. GET /open reports how many
streams it is sending now and the most it sent at once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
from latency import free_port, wait_until_up

ROOT = Path(__file__).resolve().parent.parent
HEADERS = {"authorization": "Bearer sk-bench", "content-type": "application/json"}

UPSTREAM = r"""
import asyncio, json, sys
SECONDS, INTERVAL = float(sys.argv[2]), float(sys.argv[3])
USAGE = b'"usage":{"prompt_tokens":1,"completion_tokens":1}'
REPLY = b'{"id":"c","object":"chat.completion","choices":[],' + USAGE + b'}'
EVENT = b'data: {"choices":[{"delta":{"content":"x"}}]}\n\n'
DONE = b'data: {"choices":[],' + USAGE + b'}\n\ndata: [DONE]\n\n'
state = {"open": 0, "peak": 0}

def chunk(data):
    return b"%x\r\n%s\r\n" % (len(data), data)

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
            if head.startswith("get /open"):
                self.send(200, "application/json", json.dumps(state).encode())
            elif b'"model": "fail' in body or b'"model":"fail' in body:
                self.send(500, "application/json", b'{"error":{"message":"boom"}}')
            elif b'"stream": true' in body or b'"stream":true' in body:
                asyncio.ensure_future(self.stream())
            else:
                self.send(200, "application/json", REPLY)
    def send(self, status, kind, body):
        self.transport.write(b"HTTP/1.1 %d X\r\ncontent-type: %s\r\ncontent-length: %d\r\n\r\n%s"
                             % (status, kind.encode(), len(body), body))
    async def stream(self):
        state["open"] += 1
        state["peak"] = max(state["peak"], state["open"])
        try:
            self.transport.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                                 b"transfer-encoding: chunked\r\n\r\n" + chunk(EVENT))
            waited = 0.0
            while waited < SECONDS and not self.transport.is_closing():
                await asyncio.sleep(INTERVAL)
                waited += INTERVAL
                self.transport.write(chunk(EVENT))
            self.transport.write(chunk(DONE) + b"0\r\n\r\n")
        finally:
            state["open"] -= 1

async def main(port):
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Upstream, "127.0.0.1", port, backlog=4096)
    async with server:
        await asyncio.sleep(86400)

asyncio.run(main(int(sys.argv[1])))
"""


class Stack:
    """The upstream and one gateway worker; `routes` are imported before the gateway starts."""

    def __init__(
        self, tmp: Path, *, seconds: float = 10, interval: float = 1, routes: list | None = None
    ) -> None:
        self.upstream_port, self.gateway_port = free_port(), free_port()
        self.upstream_url = f"http://127.0.0.1:{self.upstream_port}"
        self.url = f"http://127.0.0.1:{self.gateway_port}"
        code = [sys.executable, "-c", UPSTREAM, str(self.upstream_port), str(seconds)]
        self.upstream = subprocess.Popen([*code, str(interval)])
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}",
            "OPENAI_TARGET_API_URL": self.upstream_url,
            "HEADROOM_LOG_LEVEL": "WARNING",
        }
        self.database = tmp / "bench.sqlite3"
        manage = [sys.executable, "manage.py"]
        subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        if routes:
            for route in routes:
                route.setdefault("upstream", self.upstream_url)
            subprocess.run(
                [*manage, "import_routes", "-"],
                cwd=ROOT,
                env=env,
                input=json.dumps(routes).encode(),
                check=True,
                stdout=subprocess.DEVNULL,
            )
        self.gateway = subprocess.Popen(
            [*manage, "serve", "--port", str(self.gateway_port)], cwd=ROOT, env=env
        )
        wait_until_up(f"{self.url}/healthz")
        wait_until_up(f"{self.upstream_url}/open")

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.gateway.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def fds(self) -> int:
        return len(os.listdir(f"/proc/{self.gateway.pid}/fd"))

    def loop_tasks(self) -> int:
        text = httpx.get(f"{self.url}/metrics").text
        for line in text.splitlines():
            if line.startswith("headroom_event_loop_tasks "):
                return int(float(line.split()[1]))
        return -1

    def upstream_open(self) -> dict:
        return httpx.get(f"{self.upstream_url}/open").json()

    def rows(self) -> int:
        import sqlite3

        with sqlite3.connect(self.database) as conn:
            return conn.execute("SELECT COUNT(*) FROM requestlog_requestlog").fetchone()[0]

    def stop(self) -> None:
        for process in (self.gateway, self.upstream):
            process.terminate()
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q / 100))] if ordered else float("nan")
