"""Render time of the savings dashboard over 1,000,000 request-log rows on SQLite.

Seeds a temporary SQLite database (rows spread evenly over the last 30 days, so the 24 h range
holds ~33k rows, 7 d ~233k and 30 d all of them), then renders /dashboard/ through Django's
test client several times per range and prints p50/p95 (one cold render first, shown apart).
`--models N` gives a fifth of the rows one of N further model names (each name used at least
once), as when callers send made-up or fine-tuned names: past each route's busiest 50 they are
summed as "(other)", and the page must stay as fast.

    .venv/bin/python bench/dashboard.py [--rows 1000000] [--renders 15] [--models 30000]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = {
    "gpt-5": ("openai", "gpt-", "api.openai.com"),
    "gpt-5-mini": ("openai", "gpt-", "api.openai.com"),
    "gpt-4.1": ("openai", "gpt-", "api.openai.com"),
    "claude-sonnet-4-5": ("anthropic", "claude-", "api.anthropic.com"),
    "claude-haiku-4-5": ("anthropic", "claude-", "api.anthropic.com"),
    "gemini-2.5-pro": ("gemini", "default", "generativelanguage.googleapis.com"),
    "gemini-2.5-flash": ("gemini", "default", "generativelanguage.googleapis.com"),
    "glm-4.6": ("openai", "glm-", "ollama.com"),
}
TEAMS = ("", "search", "support", "growth", "infra", "research")
STATUSES = (200,) * 40 + (201, 400, 401, 429, 499, 500, 502, 504)
SOURCES = ("priced",) * 8 + ("estimated", "unpriced")
BATCH = 20_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--renders", type=int, default=15)
    parser.add_argument("--models", type=int, default=0, help="further distinct model names")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="headroom-bench-") as folder:
        setup_django(Path(folder) / "bench.sqlite3")
        seed(args.rows, args.models)
        client = staff_client()
        # The first render also compiles templates and warms SQLite's page cache.
        print(f"first render (cold, 30d): {render(client, '30d'):,.1f} ms")
        for name in ("24h", "7d", "30d"):
            report(name, [render(client, name) for _ in range(args.renders)])


def setup_django(database: Path) -> None:
    os.environ["DATABASE_URL"] = f"sqlite:///{database}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "headroom_site.settings"
    os.environ["HEADROOM_ROUTES_POLL_SECONDS"] = "0"
    sys.path.insert(0, str(ROOT))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def seed(count: int, extra_models: int = 0) -> None:
    from django.db import transaction
    from django.utils import timezone

    from requestlog.models import RequestLog

    rng = random.Random(2026)
    now = timezone.now()
    started = time.perf_counter()
    for offset in range(0, count, BATCH):
        size = min(BATCH, count - offset)
        rows = [
            fake_row(
                rng,
                now - timedelta(seconds=rng.uniform(0, 30 * 86400)),
                extra_model(rng, offset + index, extra_models),
            )
            for index in range(size)
        ]
        with transaction.atomic():
            RequestLog.objects.add_rows(rows)
    seconds = time.perf_counter() - started
    print(
        f"seeded {count:,} rows in {seconds:.1f} s ({count / seconds:,.0f} rows/s, rollup included)"
    )


def extra_model(rng: random.Random, index: int, extra_models: int) -> str | None:
    """One of the further model names for a fifth of the rows (the first rows take each name
    once, in turn), None for the others."""
    if not extra_models:
        return None
    if index < extra_models:
        return f"custom-{index}"
    return f"custom-{rng.randrange(extra_models)}" if rng.random() < 0.2 else None


def fake_row(rng: random.Random, created: object, extra: str | None = None) -> object:
    from requestlog.models import RequestLog

    model = rng.choice(list(MODELS))
    family, route, host = MODELS[model]
    if extra is not None:
        # Named after a route's prefix, so the names spread over the routes as a prefix would.
        model = model.split("-")[0] + "-" + extra
    source = rng.choice(SOURCES)
    before = rng.randint(200, 20_000) if rng.random() < 0.4 else None
    return RequestLog(
        created=created,
        request_id=f"{rng.getrandbits(64):016x}",
        family=family,
        endpoint="/v1/chat/completions",
        method="POST",
        model=model,
        model_forwarded=model,
        route_label=route,
        upstream_host=host,
        team=rng.choice(TEAMS),
        status=rng.choice(STATUSES),
        stream=rng.random() < 0.5,
        latency_ms=rng.uniform(50, 4000),
        ttfb_ms=rng.uniform(20, 800),
        overhead_ms=rng.lognormvariate(1.0, 0.6),
        input_tokens=rng.randint(10, 8000),
        output_tokens=rng.randint(1, 1500),
        cache_read_tokens=rng.choice((0, 0, rng.randint(0, 6000))),
        cache_write_tokens=rng.choice((0, 0, 0, rng.randint(0, 2000))),
        usage_reported=source != "estimated",
        tokens_before=before,
        tokens_after=None if before is None else int(before * rng.uniform(0.5, 1.0)),
        cache_hit=rng.random() < 0.05,
        cost_source=source,
        cost_usd=None if source == "unpriced" else Decimal(rng.randint(1, 50_000)) / 10**6,
        saved_usd=None if source == "unpriced" else Decimal(rng.randint(0, 5_000)) / 10**6,
    )


def staff_client() -> object:
    from django.contrib.auth.models import User
    from django.test import Client

    user = User.objects.create_user("bench", password="bench", is_staff=True)
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    return client


def render(client: object, name: str) -> float:
    started = time.perf_counter()
    response = client.get(f"/dashboard/?range={name}")  # type: ignore[attr-defined]
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, response.status_code
    return elapsed


def report(name: str, timings: list[float]) -> None:
    ordered = sorted(timings)
    p95 = ordered[min(len(ordered) - 1, max(0, -(-95 * len(ordered) // 100) - 1))]
    print(
        f"range {name:>3}: p50 {statistics.median(ordered):7.1f} ms   p95 {p95:7.1f} ms   "
        f"({len(ordered)} renders)"
    )


if __name__ == "__main__":
    main()
