"""A database made before keys and the request log had apps of their own migrates forward with
every route, key, price and row intact, and the dashboard's rollup filled from those rows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [
    ("proxy", "0005_prices_for_longer_names"),
    ("routing", "0002_upstreamroute_compression_min_bytes"),
    ("keys", None),
    ("requestlog", None),
]


def migrate(targets: list[tuple[str, str | None]]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return MigrationExecutor(connection)


def seed_old_database(apps) -> dict[str, int]:
    route = apps.get_model("routing", "UpstreamRoute").objects.create(
        position=1, model_prefix="glm-", upstream="https://ollama.com", protocol="openai"
    )
    apps.get_model("proxy", "GatewayKey").objects.create(
        team="payments", name="ci", prefix="hr-abcde", secret_hash="f" * 64
    )
    log = apps.get_model("proxy", "RequestLog")
    now = timezone.now()
    log.objects.bulk_create(
        log(
            created=now - timedelta(hours=index),
            request_id=f"r{index}",
            family="openai",
            endpoint="/v1/chat/completions",
            method="POST",
            model="glm-4.6",
            route=route,
            route_label="glm-",
            status=200 if index % 3 else 502,
            latency_ms=10.0,
            overhead_ms=1.5,
            input_tokens=100,
        )
        for index in range(30)
    )
    ContentType.objects.get_or_create(app_label="proxy", model="gatewaykey")
    # The seeded list prices are gone when an earlier transactional test flushed the tables
    # (migrating back does not seed them again): one admin-made price stands in for them.
    prices = apps.get_model("proxy", "ModelPrice")
    prices.objects.get_or_create(
        pattern="glm-4.6", defaults={"input_per_mtok": "0.6", "output_per_mtok": "2.2"}
    )
    return {"route": route.pk, "prices": prices.objects.count()}


@pytest.mark.django_db(transaction=True)
def test_rows_routes_keys_and_prices_survive_the_move_to_their_own_apps() -> None:
    old = migrate(BEFORE).loader.project_state(
        [(app, name) for app, name in BEFORE if name is not None]
    )
    seeded = seed_old_database(old.apps)
    # The old SQLite dashboard kept a trigger on the log table; the move removes it first.
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TRIGGER proxy_dashboard_v1_insert AFTER INSERT ON proxy_requestlog "
                "BEGIN SELECT 1; END"
            )

    executor = MigrationExecutor(connection)
    migrate(executor.loader.graph.leaf_nodes())

    from keys.models import GatewayKey
    from requestlog.models import ModelPrice, RequestLog, Rollup

    assert GatewayKey.objects.get().team == "payments"
    assert ModelPrice.objects.count() == seeded["prices"] > 0
    assert RequestLog.objects.count() == 30
    assert set(RequestLog.objects.values_list("route_id", flat=True)) == {seeded["route"]}
    hours = Rollup.objects.filter(grain="hour")
    assert sum(hours.values_list("requests", flat=True)) == 30
    assert sum(hours.values_list("errors", flat=True)) == 10
    assert ContentType.objects.filter(app_label="keys", model="gatewaykey").exists()
    assert not ContentType.objects.filter(app_label="proxy", model="gatewaykey").exists()
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger'")
            assert cursor.fetchone() == (0,)
