"""Sequential small requests through one gateway worker: RSS after the first tenth and at the
end, and open file descriptors against their baseline.

    .venv/bin/python bench/endurance.py [--requests 100000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import HEADERS, Stack  # noqa: E402

BODY = json.dumps({"model": "gpt-5", "messages": [{"role": "user", "content": "hi"}]}).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=100_000)
    args = parser.parse_args()
    checkpoint = args.requests // 10
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(Path(tmp))
        try:
            with httpx.Client(base_url=stack.url, timeout=30) as client:
                client.post("/v1/chat/completions", content=BODY, headers=HEADERS)
                fds_before, started, errors = stack.fds(), time.monotonic(), 0
                for index in range(1, args.requests + 1):
                    response = client.post("/v1/chat/completions", content=BODY, headers=HEADERS)
                    errors += response.status_code != 200
                    if index == checkpoint:
                        rss_early = stack.rss_mib()
                elapsed = time.monotonic() - started
            time.sleep(2)  # the log writer's last batch
            rss_end, fds_after = stack.rss_mib(), stack.fds()
            growth = (rss_end - rss_early) / rss_early * 100
            print(
                f"{args.requests} requests in {elapsed:.0f} s ({args.requests / elapsed:.0f}/s), "
                f"errors {errors} | RSS after {checkpoint}: {rss_early:.1f} MiB, after "
                f"{args.requests}: {rss_end:.1f} MiB ({growth:+.1f}%) | fds {fds_before} -> "
                f"{fds_after} | rows {stack.rows()}"
            )
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
