"""The dashboard's pages: staff login, what the page shows, CSV exports, live JSON and socket."""

from __future__ import annotations

import asyncio
import csv
import html
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

from dashboard import consumers, display, stats
from dashboard.consumers import DashboardConsumer
from requestlog import pricing
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
    # The one address on the page is the gateway's own, in the snippets that point clients at it.
    assert "http://" not in body.replace("http://www.w3.org", "").replace("http://127.0.0.1", "")
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
    assert "1 request unpriced" in tiles["spend"].detail


def test_with_no_requests_spend_reads_zero_not_unpriced(client: Client, db: None) -> None:
    tiles = {t.id: t for t in client.get("/dashboard/").context["tiles"]}
    assert (tiles["spend"].value, tiles["saved_usd"].value) == ("$0.00", "$0.00")


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
    assert "+ $0.25 estimated (1 request)" in tiles["spend"].detail
    assert tiles["saved_usd"].detail == "+ $0.05 estimated"
    model_table = next(t for t in context["tables"] if t["dimension"] == "model")
    [(_, labelled)] = model_table["lines"]
    cells = [text for _, text in labelled]
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


def test_a_cost_under_a_cent_reads_as_less_than_a_cent_not_zero(client: Client, db: None) -> None:
    rng = random.Random(5)
    RequestLog.objects.add_rows(
        [seed_row(rng, timezone.now(), cost_source=CostSource.PRICED, cost_usd=Decimal("0.0012"))]
    )
    tiles = {t.id: t for t in client.get("/dashboard/").context["tiles"]}
    assert tiles["spend"].value == "<$0.01"


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (Decimal("12.34"), "$12.34"),
        (Decimal("1234.5"), "$1,234.50"),
        (Decimal("0.0000000001"), "<$0.01"),
        (Decimal("0.004"), "<$0.01"),
        (Decimal("0.01"), "$0.01"),
        (Decimal(0), "$0.00"),
        (0.25, "$0.25"),
        (None, "unpriced"),
    ],
)
def test_money_reads_in_one_format(amount: Decimal | float | None, text: str) -> None:
    assert pricing.usd(amount) == text


@pytest.mark.parametrize(
    ("ms", "text"), [(None, "—"), (87.4, "87 ms"), (999.4, "999 ms"), (12_345, "12.3 s")]
)
def test_durations_read_in_milliseconds_below_a_second_and_seconds_above(
    ms: float | None, text: str
) -> None:
    assert display.duration(ms) == text


def test_labels_are_plain_words(client: Client, rows: list) -> None:
    body = client.get("/dashboard/").content.decode()
    assert "Time to first byte" in body
    for jargon in ("TTFB", "Ttfb", " tok.<", "USD saved", "p95<", "p50<"):
        assert jargon not in body


def test_there_is_one_time_range_control(client: Client, rows: list) -> None:
    body = client.get("/dashboard/?range=7d").content.decode()
    assert body.count('name="range"') == 2  # the custom dates' and the filters' hidden inputs
    assert '<select name="range">' not in body
    assert '<a href="?range=7d" data-range="7d" class="active" aria-current="true">' in body


def test_the_filters_keep_a_custom_range(client: Client, rows: list) -> None:
    body = client.get("/dashboard/?range=custom&from=2026-01-01&to=2026-01-05").content.decode()
    filters = body[body.index('<form class="filters"') :]
    for hidden in ('name="range" value="custom"', 'name="from" value="2026-01-01"'):
        assert hidden in filters[: filters.index("</form>")]


def test_each_tile_keeps_its_sql_behind_a_disclosure(client: Client, rows: list) -> None:
    body = client.get("/dashboard/").content.decode()
    tiles = body[body.index('<section class="tiles"') : body.index("</section>")]
    assert tiles.count('<details class="how"><summary>How is this computed</summary>') == 10
    assert "How: " not in body


def test_unpriced_is_explained_where_it_appears(client: Client, db: None) -> None:
    rng = random.Random(3)
    row = seed_row(rng, timezone.now(), cost_source=CostSource.UNPRICED, cost_usd=None)
    RequestLog.objects.add_rows([row])
    body = client.get("/dashboard/").content.decode()
    assert body.count(display.UNPRICED_NOTE) == 2  # below the tiles and above the tables


def test_with_every_row_priced_unpriced_is_not_explained(client: Client, db: None) -> None:
    row = seed_row(random.Random(3), timezone.now(), cost_source=CostSource.PRICED)
    RequestLog.objects.add_rows([row])
    assert display.UNPRICED_NOTE not in client.get("/dashboard/").content.decode()


def test_a_gateway_without_requests_shows_how_to_send_the_first(client: Client, db: None) -> None:
    response = client.get("/dashboard/")
    body = response.content.decode()
    assert '<details class="connect" id="connect" open>' in body
    assert '<code class="base" id="base-url">http://127.0.0.1</code>' in body
    for snippet in ("openai", "anthropic", "curl", "claude-code"):
        assert f'data-copy="snippet-{snippet}"' in body
    assert 'base_url="http://127.0.0.1/v1"' in html.unescape(body)
    assert "export ANTHROPIC_BASE_URL=http://127.0.0.1\nclaude" in body
    assert "curl http://127.0.0.1/v1/chat/completions" in body


def test_the_snippets_use_the_host_the_page_was_reached_on(staff: User) -> None:
    client = Client(HTTP_HOST="localhost:8787")
    client.force_login(staff)
    body = client.get("/dashboard/").content.decode()
    assert "export ANTHROPIC_BASE_URL=http://localhost:8787\nclaude" in body
    assert 'base_url="http://localhost:8787/v1"' in html.unescape(body)


def test_with_requests_logged_the_client_snippets_stay_folded_below(
    client: Client, rows: list
) -> None:
    body = client.get("/dashboard/").content.decode()
    assert '<details class="connect" id="connect">' in body
    assert body.index('id="connect"') > body.index('id="recent"')


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
