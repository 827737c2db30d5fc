"""The dashboard's pages: staff login, what the page shows, CSV exports, live JSON and socket."""

from __future__ import annotations

import asyncio
import csv
import io
import random
from datetime import timedelta
from decimal import Decimal

import pytest
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser, User
from django.db import connection
from django.test import Client, TestCase
from django.utils import timezone

from dashboard import consumers, stats
from dashboard.consumers import DashboardConsumer
from requestlog.models import CostSource, RequestLog
from tests.dashboard.test_stats import seed_row

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(db: None) -> User:
    return User.objects.create_user("ops", password="pw", is_staff=True)


@pytest.fixture
def client(staff: User) -> Client:
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(staff)
    return client


@pytest.fixture
def rows(db: None) -> list[RequestLog]:
    rng = random.Random(7)
    now = timezone.now()
    made = [seed_row(rng, now - timedelta(seconds=rng.uniform(0, 10 * 86400))) for _ in range(120)]
    return RequestLog.objects.add_rows(made)


def sql_value(query: str, params: list[object] | None = None) -> object:
    with connection.cursor() as cursor:
        cursor.execute(query, params or [])
        return cursor.fetchone()[0]


def since(hours: int) -> str:
    start = stats.parse_filters({"range": f"{hours // 24}d" if hours > 24 else "24h"}).range.start
    return start.replace(tzinfo=None).isoformat(" ")


def test_anonymous_visitors_are_sent_to_the_login_page(db: None) -> None:
    response = Client(HTTP_HOST="127.0.0.1").get("/dashboard/")
    assert response.status_code == 302
    assert response["location"].startswith("/admin/login/?next=/dashboard/")


def test_a_non_staff_user_is_sent_to_the_login_page(db: None) -> None:
    user = User.objects.create_user("someone", password="pw")
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    for path in ("/dashboard/", "/dashboard/live.json", "/dashboard/export/model.csv"):
        assert client.get(path).status_code == 302


def test_the_page_shows_the_request_count_of_the_range(client: Client, rows: list) -> None:
    expected = sql_value(
        "SELECT COUNT(*) FROM requestlog_requestlog WHERE created >= %s", [since(7 * 24)]
    )
    response = client.get("/dashboard/?range=7d")
    assert response.status_code == 200
    tile = next(t for t in response.context["tiles"] if t.id == "requests")
    assert tile.value == f"{expected:,}"
    assert 'data-tile="requests"' in response.content.decode()


def test_the_page_says_how_every_figure_is_computed(client: Client, rows: list) -> None:
    body = client.get("/dashboard/").content.decode()
    for note in stats.NOTES.values():
        # The template escapes quotes and angle brackets.
        escaped = note.replace("'", "&#x27;").replace(">", "&gt;").replace("<", "&lt;")
        assert escaped in body


def test_the_page_loads_nothing_from_another_host(client: Client, rows: list) -> None:
    body = client.get("/dashboard/").content.decode()
    assert "<svg" in body
    assert "http://" not in body.replace("http://www.w3.org", "")
    assert "https://" not in body
    assert "<link" not in body
    assert "<script src" not in body


def test_unpriced_spend_reads_unpriced_not_zero(client: Client, db: None) -> None:
    rng = random.Random(1)
    RequestLog.objects.add_rows(
        [
            RequestLog(
                **{
                    f.attname: getattr(
                        seed_row(
                            rng, timezone.now(), cost_source=CostSource.UNPRICED, cost_usd=None
                        ),
                        f.attname,
                    )
                    for f in RequestLog._meta.concrete_fields
                    if f.attname != "id"
                }
            )
        ]
    )
    tiles = {t.id: t for t in client.get("/dashboard/").context["tiles"]}
    assert tiles["spend"].value == "unpriced"
    assert "1 req. unpriced" in tiles["spend"].detail


def test_estimated_only_spend_reads_zero_priced_plus_the_estimate(client: Client, db: None) -> None:
    row = seed_row(
        random.Random(2),
        timezone.now(),
        cost_source=CostSource.ESTIMATED,
        cost_usd=Decimal("0.25"),
        saved_usd=Decimal("0.05"),
    )
    RequestLog.objects.add_rows([row])
    context = client.get("/dashboard/").context
    tiles = {t.id: t for t in context["tiles"]}
    assert (tiles["spend"].value, tiles["saved_usd"].value) == ("$0.00", "$0.00")
    assert "+ $0.25 estimated (1 req.)" in tiles["spend"].detail
    assert tiles["saved_usd"].detail == "+ $0.05 estimated"
    model_table = next(t for t in context["tables"] if t["dimension"] == "model")
    [(_, cells)] = model_table["lines"]
    assert "$0.00 (+$0.25 est.)" in cells and "$0.00 (+$0.05 est.)" in cells


def test_filters_narrow_the_recent_rows(client: Client, rows: list) -> None:
    response = client.get("/dashboard/?range=30d&family=anthropic")
    shown = [row for row, _ in response.context["recent"]]
    assert shown
    assert {row.family for row in shown} == {"anthropic"}


def test_a_breakdown_sorts_by_the_requested_column(client: Client, rows: list) -> None:
    response = client.get("/dashboard/?range=30d&sort_model=output_tokens")
    table = next(t for t in response.context["board"].breakdowns if t.dimension == "model")
    outputs = [line.figures.output_tokens for line in table.lines]
    assert (table.sort, table.descending) == ("output_tokens", False)
    assert outputs == sorted(outputs)


def test_the_model_breakdown_exports_as_csv_matching_sql(client: Client, rows: list) -> None:
    response = client.get("/dashboard/export/model.csv?range=30d")
    assert response.status_code == 200
    assert response["content-type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(response.content.decode())))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT model, COUNT(*), SUM(output_tokens) FROM requestlog_requestlog "
            "WHERE created >= %s GROUP BY model",
            [since(30 * 24)],
        )
        expected = {model: (str(n), str(out)) for model, n, out in cursor.fetchall()}
    assert {line["model"]: (line["requests"], line["output_tokens"]) for line in lines} == expected


def test_every_breakdown_has_a_csv_export(client: Client, rows: list) -> None:
    for dimension in stats.DIMENSIONS:
        response = client.get(f"/dashboard/export/{dimension}.csv?range=30d")
        header = response.content.decode().splitlines()[0]
        assert response.status_code == 200
        assert header.startswith(f"{dimension},requests,errors")


def test_an_unknown_breakdown_export_is_not_found(client: Client, db: None) -> None:
    assert client.get("/dashboard/export/password.csv").status_code == 404


def test_the_filtered_rows_export_as_csv(client: Client, rows: list) -> None:
    response = client.get("/dashboard/export/requests.csv?range=30d&status=error")
    lines = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    expected = sql_value(
        "SELECT COUNT(*) FROM requestlog_requestlog WHERE created >= %s AND status >= 400",
        [since(30 * 24)],
    )
    assert response.status_code == 200
    assert len(lines) == expected
    assert all(int(line["status"]) >= 400 for line in lines)


def test_csv_cells_cannot_start_a_spreadsheet_formula(client: Client, db: None) -> None:
    rng = random.Random(3)
    RequestLog.objects.add_rows([seed_row(rng, timezone.now(), model="=HYPERLINK(1)")])
    breakdown = client.get("/dashboard/export/model.csv").content.decode()
    rows_csv = b"".join(client.get("/dashboard/export/requests.csv").streaming_content).decode()
    assert "'=HYPERLINK(1)" in breakdown
    assert "'=HYPERLINK(1)" in rows_csv
    assert "\n=HYPERLINK" not in breakdown


@pytest.mark.parametrize("model", [" =1+1", "\t=1+1", "  @SUM(A1)", "\n-2+3", "\uff1dHYPERLINK(1)"])
def test_csv_cells_cannot_start_a_formula_after_leading_whitespace(
    client: Client, db: None, model: str
) -> None:
    rng = random.Random(5)
    RequestLog.objects.add_rows([seed_row(rng, timezone.now(), model=model)])
    rows_csv = b"".join(client.get("/dashboard/export/requests.csv").streaming_content).decode()
    [line] = list(csv.DictReader(io.StringIO(rows_csv)))
    assert line["model"] == "'" + model


def test_an_unpriced_line_exports_as_unpriced(client: Client, db: None) -> None:
    rng = random.Random(4)
    RequestLog.objects.add_rows(
        [seed_row(rng, timezone.now(), model="x", cost_source=CostSource.UNPRICED, cost_usd=None)]
    )
    line = next(
        csv.DictReader(io.StringIO(client.get("/dashboard/export/model.csv").content.decode()))
    )
    assert (line["model"], line["spend_usd"], line["unpriced_requests"]) == ("x", "unpriced", "1")


def test_live_json_returns_only_rows_after_the_given_id(client: Client, rows: list) -> None:
    newest = max(row.pk for row in rows if row.created >= timezone.now() - timedelta(hours=20))
    data = client.get(f"/dashboard/live.json?range=24h&after={newest - 1}").json()
    assert [row["id"] for row in data["rows"]] == [newest]
    assert data["last_id"] == max(row.pk for row in rows)
    assert data["tiles"]["requests"]["value"] == str(
        sql_value("SELECT COUNT(*) FROM requestlog_requestlog WHERE created >= %s", [since(24)])
    )


def test_live_json_applies_the_filters(client: Client, rows: list) -> None:
    data = client.get("/dashboard/live.json?range=30d&model=glm-4.6").json()
    assert data["rows"]
    assert {row["cells"][3] for row in data["rows"]} == {"glm-4.6"}


def test_a_cost_under_a_cent_does_not_read_as_zero(client: Client, db: None) -> None:
    rng = random.Random(5)
    RequestLog.objects.add_rows(
        [seed_row(rng, timezone.now(), cost_source=CostSource.PRICED, cost_usd=Decimal("0.0012"))]
    )
    tiles = {t.id: t for t in client.get("/dashboard/").context["tiles"]}
    assert tiles["spend"].value == "$0.0012"


# The live socket


def communicator(user: object) -> WebsocketCommunicator:
    socket = WebsocketCommunicator(DashboardConsumer.as_asgi(), "/dashboard/live/")
    socket.scope["user"] = user
    return socket


class Staff:
    is_active = True
    is_staff = True


class SilentLayer:
    """A shared channel layer whose server went away: a send never completes."""

    def __init__(self) -> None:
        self.sends = 0

    async def group_send(self, group: str, message: dict) -> None:
        self.sends += 1
        await asyncio.sleep(5)


@pytest.fixture
def silent_layer(monkeypatch: pytest.MonkeyPatch) -> SilentLayer:
    layer = SilentLayer()
    monkeypatch.setattr(consumers, "get_channel_layer", lambda: layer)
    monkeypatch.setattr(consumers, "PUBLISH_TIMEOUT", 0.05)
    monkeypatch.setattr(consumers, "_paused_until", 0.0)
    return layer


def test_a_shared_layer_that_does_not_answer_is_given_up_and_left_alone(
    silent_layer: SilentLayer, caplog: pytest.LogCaptureFixture
) -> None:
    consumers.publish_rows([RequestLog(id=1)])
    consumers.publish_rows([RequestLog(id=2)])
    assert silent_layer.sends == 1
    assert "could not publish 1 new rows" in caplog.text


def test_a_shared_layer_is_tried_again_after_the_pause(
    silent_layer: SilentLayer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(consumers, "PUBLISH_PAUSE", 0.0)
    consumers.publish_rows([RequestLog(id=1)])
    consumers.publish_rows([RequestLog(id=2)])
    assert silent_layer.sends == 2


class LiveSocketTests(TestCase):
    def setUp(self) -> None:
        # A fresh in-memory layer per test: its queues belong to the loop of the test using them.
        channel_layers.backends.clear()

    async def test_the_socket_refuses_anonymous_users(self) -> None:
        socket = communicator(AnonymousUser())
        connected, code = await socket.connect()
        self.assertEqual((connected, code), (False, 4403))

    async def test_a_staff_socket_hears_of_rows_written_by_another_thread(self) -> None:
        socket = communicator(Staff())
        connected, _ = await socket.connect()
        self.assertTrue(connected)
        await asyncio.to_thread(consumers.publish_rows, [RequestLog(id=41)])
        self.assertEqual(await socket.receive_json_from(timeout=2), {"type": "rows", "last_id": 41})
        await socket.disconnect()

    async def test_rows_without_ids_are_not_published(self) -> None:
        socket = communicator(Staff())
        await socket.connect()
        await asyncio.to_thread(consumers.publish_rows, [RequestLog()])
        self.assertTrue(await socket.receive_nothing(timeout=0.2))
        await socket.disconnect()
