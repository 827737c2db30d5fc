"""The gateway as a platform team hosts it: Debian's nginx, configured from the shipped site file,
in front of `serve --workers 4` on a private PostgreSQL database and Redis server.

One cluster serves the whole module, in order: 10,000 requests over every worker, after which the
request log and the dashboard agree with what was sent; edits made through the admin (a route, a
key revocation, a price) reach every worker within 2 s; a rate limit is shared by the workers; a
worker killed with SIGKILL is replaced while only its own requests fail; and stopping Redis, then
PostgreSQL, stops neither the proxying nor the request log.

Every response names its worker (`x-headroom-worker`), and every mock upstream its own name
(`x-mock`), so each test can say which worker did what. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import httpx
import psycopg
import pytest

from tests import deploy
from tests.conftest import Gateway, free_port, start_gateway, stop_gateway
from tests.mock_upstream import MockUpstream, Recorded, Reply

pytestmark = pytest.mark.skipif(
    bool(deploy.missing_servers()) or deploy.NGINX is None,
    reason="needs PostgreSQL, Redis and nginx (tests/install-system-deps.sh installs them)",
)

WORKERS = 4
REQUESTS = 10_000
# Requests in flight at once from this test's client.
CONCURRENCY = 48
# Probes that must reach every worker go to the workers' shared port, each on a new connection,
# which the kernel hands to whichever worker accepts first. Through nginx they would reuse its
# kept-alive connections to the gateway, each held by the worker that accepted it, and could
# leave one worker unasked for many seconds.
PROBES = 16
# What the product promises for an admin edit to reach every worker.
PICKUP_SECONDS = 2.0
RATE_LIMIT = 60
# Longest waits: every worker answering, rows reaching the database, a killed worker replaced.
START_SECONDS = 60
ROWS_SECONDS = 60
REPLACE_SECONDS = 60
# How long PostgreSQL stays down under traffic.
DATABASE_DOWN_SECONDS = 10
STAFF = ("ops", "cluster-admin-pw-1")
OPENAI_AUTH = {"authorization": "Bearer sk-client"}
ANTHROPIC_AUTH = {"x-api-key": "sk-ant-client", "anthropic-version": "2023-06-01"}
TEAMS = ("alpha", "beta", "gamma", "delta")
# USD per million input / output tokens of the priced model families.
PRICES = {"cluster-gpt": (1, 2), "cluster-claude": (3, 15), "cluster-price": (1, 1)}

SETUP_SCRIPT = f"""
import json
from django.contrib.auth.models import User
from keys import issuing
from requestlog.models import ModelPrice
User.objects.create_superuser({STAFF[0]!r}, "ops@example.com", {STAFF[1]!r})
secrets = {{}}
for team in {TEAMS!r}:
    secrets[team] = issuing.issue(team=team, name="cluster")[1]
secrets["limited"] = issuing.issue(team="limited", requests_per_minute={RATE_LIMIT})[1]
secrets["revoked"] = issuing.issue(team="revoked", name="soon revoked")[1]
secrets["roomy"] = issuing.issue(team="roomy", requests_per_minute=1_000_000)[1]
for pattern, (given, taken) in {PRICES!r}.items():
    ModelPrice.objects.filter(pattern=pattern).delete()
    ModelPrice.objects.create(pattern=pattern, input_per_mtok=given, output_per_mtok=taken)
print(json.dumps(secrets))
"""


# The mock upstreams: usage that follows from each request, so the test knows every figure.


def tokens_of(number: int) -> tuple[int, int]:
    """The input and output tokens an upstream bills for request number `number`."""
    return 10 + number % 97, 1 + number % 13


def number_of(request: Recorded) -> int:
    body = request.json()
    return int(body["messages"][0]["content"].rsplit(" ", 1)[1])  # type: ignore[index]


def openai_reply(name: str, request: Recorded) -> Reply:
    body = request.json()
    number = number_of(request)
    given, taken = tokens_of(number)
    usage = {"prompt_tokens": given, "completion_tokens": taken, "total_tokens": given + taken}
    if not body.get("stream"):  # type: ignore[union-attr]
        answer = {"id": f"c{number}", "object": "chat.completion", "choices": [], "usage": usage}
        return Reply.json(answer, headers=[("x-mock", name)])
    chunk = {"id": f"c{number}", "object": "chat.completion.chunk"}
    delta = {**chunk, "choices": [{"index": 0, "delta": {"content": "hi"}}]}
    events = [delta, {**chunk, "choices": [], "usage": usage}]
    reply = Reply.sse([f"data: {json.dumps(e)}\n\n".encode() for e in events] + [DONE])
    if "slow" in str(body["model"]):  # type: ignore[index]
        # In flight for a while: the first event now, the rest over SLOW_SECONDS.
        reply.chunks = (
            [(0.0, reply.chunks[0][1])]
            + [  # type: ignore[index]
                (SLOW_SECONDS / 2, chunk)
                for _, chunk in reply.chunks[1:]  # type: ignore[index]
            ]
        )
    reply.headers.append(("x-mock", name))
    return reply


DONE = b"data: [DONE]\n\n"
SLOW_SECONDS = 3.0


def anthropic_reply(name: str, request: Recorded) -> Reply:
    body = request.json()
    given, taken = tokens_of(number_of(request))
    if not body.get("stream"):  # type: ignore[union-attr]
        usage = {"input_tokens": given, "output_tokens": taken}
        answer = {"type": "message", "role": "assistant", "content": [], "usage": usage}
        return Reply.json(answer, headers=[("x-mock", name)])
    events = [
        ("message_start", {"type": "message_start", "message": {"usage": {"input_tokens": given}}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0}),
        ("message_delta", {"type": "message_delta", "usage": {"output_tokens": taken}}),
        ("message_stop", {"type": "message_stop"}),
    ]
    reply = Reply.sse([f"event: {e}\ndata: {json.dumps(d)}\n\n".encode() for e, d in events])
    reply.headers.append(("x-mock", name))
    return reply


def mock_replier(name: str) -> Callable[[Recorded], Reply]:
    def reply(request: Recorded) -> Reply:
        if "fail" in request.body.decode():
            return Reply.json({"error": {"message": "overloaded"}}, 503, [("x-mock", name)])
        if request.path == "/v1/messages":
            return anthropic_reply(name, request)
        return openai_reply(name, request)

    return reply


# The cluster.


@dataclass
class Cluster:
    url: str
    gateway: Gateway
    env: dict[str, str]
    secrets: dict[str, str]
    database_url: str
    servers: tuple[deploy.PostgresCluster, deploy.RedisServer]
    mocks: dict[str, MockUpstream]
    prefix: Path

    def query(self, sql: str, params: list[object]) -> list[tuple]:
        """Rows from the workers' database, on a connection of its own (the server restarts)."""
        with psycopg.connect(self.database_url, autocommit=True) as database:
            return database.execute(sql, params).fetchall()

    def worker_pids(self) -> dict[str, int]:
        """The supervisor's workers, by the number each was given."""
        supervisor = self.gateway.process.pid
        pids = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
        found = {}
        for pid in pids:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if b"--worker" in argv:
                found[argv[argv.index(b"--worker") + 1].decode()] = int(pid)
        return found


def routes(mocks: dict[str, MockUpstream]) -> str:
    common = {"protocol": "openai", "retries": 0}
    return json.dumps(
        [
            {**common, "model_prefix": "cluster-gpt", "upstream": mocks["a"].url},
            {
                **common,
                "model_prefix": "cluster-claude",
                "upstream": mocks["b"].url,
                "protocol": "anthropic",
            },
            {**common, "model_prefix": "cluster-edit", "upstream": mocks["a"].url},
            {**common, "model_prefix": "*", "upstream": mocks["c"].url},
        ]
    )


@pytest.fixture(scope="module")
def cluster(
    upstream_pool: list[MockUpstream], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    mocks = dict(zip("abcd", upstream_pool, strict=True))
    for name, mock in mocks.items():
        mock.reset()
        mock.reply_with(mock_replier(name))
    prefix = tmp_path_factory.mktemp("cluster")
    http_port, https_port = free_port(), free_port()
    with deploy.private_servers() as servers:
        pg, cache = servers
        env = {
            "DATABASE_URL": pg.create_database("headroom"),
            "CACHE_URL": cache.url(0),
            "CHANNEL_REDIS_URL": cache.url(1),
            # As deploy/headroom.env has them, for the proxy on this machine.
            "HEADROOM_TRUSTED_PROXIES": "127.0.0.1",
            "DJANGO_CSRF_TRUSTED_ORIGINS": f"https://127.0.0.1:{https_port}",
            "DJANGO_SECURE_COOKIES": "true",
            # The product's own poll interval, not the faster one of the other e2e tests.
            "HEADROOM_ROUTES_POLL_SECONDS": "1",
        }
        deploy.manage(env, "migrate", "--no-input")
        deploy.manage(env, "import_routes", "-", stdin=routes(mocks))
        secrets = json.loads(deploy.manage(env, "shell", "--no-imports", "-c", SETUP_SCRIPT).stdout)
        gateway = start_gateway(prefix / "gateway.log", env, mocks["d"].url, WORKERS, START_SECONDS)
        try:
            port = int(gateway.url.rsplit(":", 1)[1])
            site = deploy.render_site(prefix, http_port, https_port, port)
            nginx = deploy.start_nginx(prefix, site, https_port, connections=1024)
            try:
                yield Cluster(
                    f"https://127.0.0.1:{https_port}",
                    gateway,
                    env,
                    secrets,
                    env["DATABASE_URL"].replace("postgres://", "postgresql://"),
                    servers,
                    mocks,
                    prefix,
                )
            finally:
                deploy.stop_nginx(nginx)
        finally:
            stop_gateway(gateway)
            for mock in mocks.values():
                mock.reset()


# Sending: one request spec per request, results kept with the worker that answered.


@dataclass(frozen=True)
class Spec:
    number: int
    model: str
    family: str = "openai"
    stream: bool = False
    team: str | None = None
    fail: bool = False

    def request(self) -> tuple[str, dict, dict]:
        text = f"{'fail' if self.fail else 'hello'} {self.number}"
        body: dict = {"model": self.model, "messages": [{"role": "user", "content": text}]}
        if self.stream:
            body["stream"] = True
        if self.family == "anthropic":
            path, headers = "/v1/messages", dict(ANTHROPIC_AUTH)
            body["max_tokens"] = 16
        else:
            path, headers = "/v1/chat/completions", dict(OPENAI_AUTH)
        return path, body, headers


@dataclass
class Result:
    spec: Spec
    status: int  # 0: the connection failed or the body was cut off
    worker: str
    upstream: str
    request_id: str
    started: float
    body: bytes = b""
    error: str = ""


@dataclass
class Outcome:
    results: list[Result] = field(default_factory=list)

    def by_status(self) -> Counter[int]:
        return Counter(result.status for result in self.results)

    def workers(self, status: int = 200) -> Counter[str]:
        return Counter(r.worker for r in self.results if r.status == status)


def client(cluster: Cluster, connections: int = CONCURRENCY) -> httpx.AsyncClient:
    """Through nginx, over HTTPS with kept-alive connections, as the team's clients come."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(base_url=cluster.url, verify=False, timeout=30, limits=limits)


def prober(cluster: Cluster) -> httpx.AsyncClient:
    """Straight to the workers' port, a new connection per request (see PROBES)."""
    limits = httpx.Limits(max_connections=PROBES, max_keepalive_connections=0)
    return httpx.AsyncClient(base_url=cluster.gateway.url, timeout=30, limits=limits)


async def send(http: httpx.AsyncClient, cluster: Cluster, spec: Spec) -> Result:
    path, body, headers = spec.request()
    if spec.team:
        headers["x-headroom-key"] = cluster.secrets[spec.team]
    started = time.monotonic()
    result = Result(spec, 0, "", "", "", started)
    try:
        async with http.stream("POST", path, json=body, headers=headers) as response:
            result.worker = response.headers.get("x-headroom-worker", "")
            result.upstream = response.headers.get("x-mock", "")
            result.request_id = response.headers.get("x-headroom-request-id", "")
            result.body = await response.aread()
            result.status = response.status_code
    except httpx.HTTPError as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    return result


async def send_all(
    cluster: Cluster, specs: list[Spec], concurrency: int = CONCURRENCY, mixed: bool = False
) -> Outcome:
    """Every spec, at most `concurrency` at a time, through nginx; with `mixed`, every other one
    straight to the workers' port instead (see PROBES)."""
    outcome = Outcome()
    pending = iter(specs)

    async def lane(http: httpx.AsyncClient, direct: httpx.AsyncClient) -> None:
        for spec in pending:
            via = direct if mixed and spec.number % 2 else http
            outcome.results.append(await send(via, cluster, spec))

    async with client(cluster, concurrency) as http, prober(cluster) as direct:
        await asyncio.gather(*(lane(http, direct) for _ in range(concurrency)))
    return outcome


def run(
    cluster: Cluster, specs: list[Spec], concurrency: int = CONCURRENCY, mixed: bool = False
) -> Outcome:
    return asyncio.run(send_all(cluster, specs, concurrency, mixed))


def tag() -> str:
    return os.urandom(4).hex()


def rows_of(cluster: Cluster, request_ids: list[str], count: int) -> list[tuple]:
    """(request_id, status, cost_usd, team) of these requests' rows, once `count` are written."""
    deadline = time.monotonic() + ROWS_SECONDS
    while True:
        rows = cluster.query(
            "SELECT request_id, status, cost_usd, team FROM requestlog_requestlog"
            " WHERE request_id = ANY(%s)",
            [request_ids],
        )
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


async def until_every_worker(
    cluster: Cluster,
    probe: Callable[[int], Spec],
    honoured: Callable[[Result], bool],
    seconds: float = PICKUP_SECONDS + 10,
) -> tuple[dict[str, float], list[Result]]:
    """Probe from now until every worker has answered as `honoured` says (bounded); returns when
    each worker was first seen doing so, and every probe's result with `started` counted from
    now. How soon a worker is asked depends on the kernel's choice of worker for each connection,
    so a worker can be seen late without having been stale: the bound is checked on the probes
    that found a worker stale."""
    changed = time.monotonic()
    took: dict[str, float] = {}
    results: list[Result] = []
    async with prober(cluster) as http:
        number = 0
        while len(took) < WORKERS and time.monotonic() - changed < seconds:
            batch = [probe(number + index) for index in range(PROBES)]
            number += len(batch)
            for result in await asyncio.gather(*(send(http, cluster, s) for s in batch)):
                result.started -= changed
                results.append(result)
                if honoured(result) and result.worker not in took:
                    took[result.worker] = result.started
            await asyncio.sleep(0.05)
    return took, results


def last_stale(results: list[Result], honoured: Callable[[Result], bool]) -> dict[str, float]:
    """When, after the change, each worker was last seen not honouring it (probes' start)."""
    return {r.worker: r.started for r in results if r.worker and not honoured(r)}


# The admin, through nginx, as a browser uses it.


class FormFields(HTMLParser):
    """The fields a browser would submit from the page's admin change form."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self.in_form = False
        self.select: str | None = None
        self.textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {name: value or "" for name, value in attrs}
        if tag == "form" and a.get("id", "").endswith("_form"):
            self.in_form = True
        if not self.in_form:
            return
        name = a.get("name", "")
        if tag == "input" and name and a.get("type") not in ("submit", "button", "file"):
            if a.get("type") in ("checkbox", "radio"):
                if "checked" in a:
                    self.fields[name] = a.get("value") or "on"
            else:
                self.fields[name] = a.get("value", "")
        elif tag == "select":
            self.select = name
        elif (
            tag == "option" and self.select and ("selected" in a or self.select not in self.fields)
        ):
            self.fields[self.select] = a.get("value", "")
        elif tag == "textarea":
            self.textarea = name
            self.fields[name] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.in_form = False
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None

    def handle_data(self, data: str) -> None:
        if self.textarea:
            # Browsers drop the newline that follows <textarea>.
            self.fields[self.textarea] += data.removeprefix("\n")


def admin_session(cluster: Cluster) -> httpx.Client:
    """A staff user's browser session, logged in through nginx."""
    browser = httpx.Client(base_url=cluster.url, verify=False, timeout=10)
    browser.get("/admin/login/")
    data = {"csrfmiddlewaretoken": browser.cookies["csrftoken"], "next": "/admin/"}
    login = browser.post(
        "/admin/login/",
        data={**data, "username": STAFF[0], "password": STAFF[1]},
        headers={"origin": cluster.url, "referer": f"{cluster.url}/admin/login/"},
    )
    assert login.status_code == 302, login.text
    return browser


def admin_edit(cluster: Cluster, path: str, changes: dict[str, str | None]) -> float:
    """Change these fields in the admin's change form at `path` and save it, as a browser does
    (None unticks a checkbox); returns when the save was answered."""
    browser = admin_session(cluster)
    try:
        page = browser.get(path)
        assert page.status_code == 200, page.text
        form = FormFields()
        form.feed(page.text)
        data = {**form.fields, "_save": "Save"}
        for name, value in changes.items():
            if value is None:
                data.pop(name, None)
            else:
                data[name] = value
        saved = browser.post(
            path, data=data, headers={"origin": cluster.url, "referer": f"{cluster.url}{path}"}
        )
        saved_at = time.monotonic()
    finally:
        browser.close()
    errors = re.findall(r'class="errorlist[^"]*"[^>]*>(.*?)</ul>', saved.text, re.S)
    assert saved.status_code == 302, errors or saved.text[:2000]
    return saved_at


def row_id(cluster: Cluster, table: str, column: str, value: str) -> int:
    found = cluster.query(f"SELECT id FROM {table} WHERE {column} = %s", [value])
    assert found, f"no {table} row with {column} = {value}"
    return int(found[0][0])


# 1. Every worker answers, and 10,000 requests leave 10,000 rows and the dashboard's figures.


def test_every_worker_answers_through_nginx(cluster: Cluster) -> None:
    through_nginx = run(cluster, [Spec(n, "cluster-local-warmup") for n in range(64)], 64)
    seen, _ = asyncio.run(
        until_every_worker(
            cluster,
            lambda n: Spec(n, "cluster-local-warmup"),
            lambda r: r.status == 200,
            START_SECONDS,
        )
    )
    assert through_nginx.by_status() == {200: 64}, through_nginx.results[0]
    assert sorted(seen) == [str(n) for n in range(1, WORKERS + 1)]
    assert sorted(cluster.worker_pids()) == sorted(seen)


def mixed_load(run_tag: str) -> list[Spec]:
    """Streamed and not, openai and anthropic, four routes, four teams, one in 97 failing."""
    specs = []
    for number in range(REQUESTS):
        kind = number % 5
        family = "anthropic" if kind == 2 else "openai"
        model = ("cluster-gpt-4o", "cluster-gpt-4o", "cluster-claude-x", "local", "cluster-edit")[
            kind
        ]
        specs.append(
            Spec(
                number,
                f"{model}-{run_tag}",
                family,
                stream=(number // 5) % 2 == 1,
                team=TEAMS[(number // 10) % len(TEAMS)],
                fail=number % 97 == 0,
            )
        )
    return specs


def expected_figures(specs: list[Spec]) -> dict[str, object]:
    """What the dashboard must add up for these requests, from what was sent."""
    ok = [spec for spec in specs if not spec.fail]
    given = sum(tokens_of(spec.number)[0] for spec in ok)
    taken = sum(tokens_of(spec.number)[1] for spec in ok)
    spend = Decimal(0)
    for spec in ok:
        for pattern, (in_price, out_price) in PRICES.items():
            if spec.model.startswith(pattern):
                tokens_in, tokens_out = tokens_of(spec.number)
                spend += (tokens_in * in_price + tokens_out * out_price) / Decimal(1_000_000)
    return {
        "requests": len(specs),
        "errors": len(specs) - len(ok),
        "input_tokens": given,
        "output_tokens": taken,
        "spend": spend,
        "teams": Counter(spec.team for spec in specs),
    }


def test_ten_thousand_requests_leave_as_many_rows_and_the_dashboard_adds_them_up(
    cluster: Cluster,
) -> None:
    before = deploy.dashboard_figures(cluster.env)
    run_tag = tag()
    specs = mixed_load(run_tag)
    started = time.monotonic()
    outcome = run(cluster, specs)
    took = time.monotonic() - started
    statuses = outcome.by_status()
    ids = [result.request_id for result in outcome.results]
    rows = rows_of(cluster, ids, REQUESTS)
    ((count,),) = cluster.query(
        "SELECT COUNT(*) FROM requestlog_requestlog WHERE model LIKE %s", [f"%-{run_tag}"]
    )
    after = deploy.dashboard_figures(cluster.env)
    expected = expected_figures(specs)
    print(
        f"\n{REQUESTS} requests in {took:.1f} s ({REQUESTS / took:.0f}/s);"
        f" answered by workers {dict(outcome.workers())}"
    )

    failing = sum(spec.fail for spec in specs)
    assert statuses == {200: REQUESTS - failing, 503: failing}, outcome.results[0]
    assert all(result.worker for result in outcome.results)
    assert len(set(ids)) == REQUESTS
    # Spread over every worker. Not evenly: nginx keeps its connections to the gateway alive, and
    # a worker that wakes first for new connections accepts all that are waiting.
    assert len(outcome.workers()) == WORKERS
    assert count == REQUESTS and len(rows) == REQUESTS
    grown = [
        now - then for now, then in zip(after["headline"][:4], before["headline"][:4], strict=True)
    ]
    requests, errors, input_tokens, output_tokens = grown
    # "None": no priced row yet.
    spend = Decimal(after["headline"][4]) - Decimal(before["headline"][4].replace("None", "0"))
    assert requests == expected["requests"]
    assert errors == expected["errors"]
    assert (input_tokens, output_tokens) == (expected["input_tokens"], expected["output_tokens"])
    assert spend == expected["spend"]
    for team, sent in expected["teams"].items():  # type: ignore[attr-defined]
        assert after["teams"].get(team, 0) - before["teams"].get(team, 0) == sent, team


# 2. An admin edit reaches every worker.


def test_a_route_edited_in_the_admin_is_honoured_by_every_worker_within_two_seconds(
    cluster: Cluster,
) -> None:
    run_tag = tag()
    routed, before = asyncio.run(
        until_every_worker(
            cluster,
            lambda n: Spec(n, f"cluster-edit-before-{run_tag}"),
            lambda r: r.upstream == "a",
        )
    )
    route = row_id(cluster, "routing_upstreamroute", "model_prefix", "cluster-edit")
    path = f"/admin/routing/upstreamroute/{route}/change/"

    admin_edit(cluster, path, {"upstream": cluster.mocks["d"].url})
    honoured = lambda result: result.upstream == "d"  # noqa: E731
    took, results = asyncio.run(
        until_every_worker(cluster, lambda n: Spec(n, f"cluster-edit-after-{run_tag}"), honoured)
    )
    stale = last_stale(results, honoured)
    print(f"\nroute edit: first seen honoured {took}; last seen stale {stale}")

    assert sorted(routed) == [str(n) for n in range(1, WORKERS + 1)]
    assert {result.upstream for result in before} == {"a"}
    assert sorted(took) == [str(n) for n in range(1, WORKERS + 1)]
    assert {r.status for r in results} == {200}
    assert all(seconds < PICKUP_SECONDS for seconds in stale.values()), stale


# 3. Keys and prices across workers.


def wait_for_fresh_minute(margin: float = 10.0) -> None:
    """Rate windows are calendar minutes: start a burst with `margin` seconds of this one left."""
    left = 60 - time.time() % 60
    if left < margin:
        time.sleep(left + 0.2)


def test_a_key_limited_to_60_a_minute_gets_60_in_all_across_the_workers(
    cluster: Cluster,
) -> None:
    wait_for_fresh_minute()
    run_tag = tag()
    specs = [Spec(n, f"cluster-local-rate-{run_tag}", team="limited") for n in range(150)]
    outcome = run(cluster, specs, 2 * PROBES, mixed=True)
    accepted, refused = outcome.workers(200), outcome.workers(429)
    print(f"\nrate limit: accepted by workers {dict(accepted)}, refused by {dict(refused)}")

    assert outcome.by_status() == {200: RATE_LIMIT, 429: 150 - RATE_LIMIT}
    # Shared, not per worker: a worker that accepted fewer than 60 itself refused some.
    assert any(accepted[worker] < RATE_LIMIT for worker in refused)


def test_a_key_revoked_in_the_admin_is_refused_by_every_worker_within_two_seconds(
    cluster: Cluster,
) -> None:
    run_tag = tag()
    probe = lambda n: Spec(n, f"cluster-local-revoked-{run_tag}", team="revoked")  # noqa: E731
    accepted, before = asyncio.run(
        until_every_worker(cluster, probe, lambda result: result.status == 200)
    )
    key = row_id(cluster, "keys_gatewaykey", "team", "revoked")

    admin_edit(cluster, f"/admin/keys/gatewaykey/{key}/change/", {"active": None})
    refused = lambda result: result.status == 401  # noqa: E731
    took, results = asyncio.run(until_every_worker(cluster, probe, refused))
    stale = last_stale(results, refused)
    print(f"\nrevocation: first seen refused {took}; last seen accepted {stale}")

    assert sorted(accepted) == [str(n) for n in range(1, WORKERS + 1)]
    assert {result.status for result in before} == {200}
    assert sorted(took) == [str(n) for n in range(1, WORKERS + 1)]
    assert {r.status for r in results} <= {200, 401}
    assert all(seconds < PICKUP_SECONDS for seconds in stale.values()), stale


def test_a_price_changed_in_the_admin_prices_every_workers_rows_within_two_seconds(
    cluster: Cluster,
) -> None:
    run_tag = tag()
    price = row_id(cluster, "requestlog_modelprice", "pattern", "cluster-price")
    changed = admin_edit(
        cluster, f"/admin/requestlog/modelprice/{price}/change/", {"input_per_mtok": "1000"}
    )

    async def probe_for_a_while() -> list[Result]:
        results: list[Result] = []
        async with prober(cluster) as http:
            number = 0
            # A second past the bound, and on until every worker has answered past it.
            asked_late: set[str] = set()
            while time.monotonic() - changed < PICKUP_SECONDS + 10 and (
                time.monotonic() - changed < PICKUP_SECONDS + 1 or len(asked_late) < WORKERS
            ):
                batch = [Spec(number + i, f"cluster-price-{run_tag}") for i in range(PROBES)]
                number += len(batch)
                results += await asyncio.gather(*(send(http, cluster, s) for s in batch))
                asked_late = {r.worker for r in results if r.started - changed >= PICKUP_SECONDS}
                await asyncio.sleep(0.05)
        return results

    results = asyncio.run(probe_for_a_while())
    rows = {
        row[0]: row[2] for row in rows_of(cluster, [r.request_id for r in results], len(results))
    }
    new_price = {
        r.request_id: Decimal(tokens_of(r.spec.number)[0] * 1000 + tokens_of(r.spec.number)[1])
        / 1_000_000
        for r in results
    }
    late = [r for r in results if r.started - changed >= PICKUP_SECONDS]
    priced_late = {r.worker for r in late if rows.get(r.request_id) == new_price[r.request_id]}
    first_new = {}
    for r in results:
        if rows.get(r.request_id) == new_price[r.request_id] and r.worker not in first_new:
            first_new[r.worker] = round(r.started - changed, 2)
    print(f"\nnew price first seen on requests sent after {first_new}")

    assert {r.status for r in results} == {200}
    assert len(rows) == len(results)
    assert [r for r in late if rows[r.request_id] != new_price[r.request_id]] == []
    assert sorted(priced_late) == [str(n) for n in range(1, WORKERS + 1)]


# 4. A worker killed with SIGKILL.


async def kill_a_worker_under_load(cluster: Cluster, run_tag: str) -> dict[str, object]:
    """Streams in flight on every worker; SIGKILL the worker with the most; keep sending until
    its replacement answers."""
    slow = [Spec(n, f"cluster-local-slow-{run_tag}", stream=True) for n in range(16)]
    heads: dict[int, str] = {}
    async with client(cluster, 64) as http, prober(cluster) as direct:

        async def stream(spec: Spec) -> Result:
            path, body, headers = spec.request()
            result = Result(spec, 0, "", "", "", time.monotonic())
            try:
                async with http.stream("POST", path, json=body, headers=headers) as response:
                    heads[spec.number] = result.worker = response.headers["x-headroom-worker"]
                    result.body = await response.aread()
                    result.status = response.status_code
            except httpx.HTTPError as exc:
                result.error = f"{type(exc).__name__}: {exc}"
            return result

        streams = [asyncio.create_task(stream(spec)) for spec in slow]
        async with asyncio.timeout(SLOW_SECONDS):
            while len(heads) < len(slow):
                await asyncio.sleep(0.01)
        victim = Counter(heads.values()).most_common(1)[0][0]
        old_pid = cluster.worker_pids()[victim]
        os.kill(old_pid, signal.SIGKILL)
        killed = time.monotonic()

        # Traffic from the moment of the kill until the replacement has answered.
        after: list[Result] = []
        replaced_at = None
        number = 0
        while replaced_at is None and time.monotonic() - killed < REPLACE_SECONDS:
            batch = [Spec(number + i, f"cluster-local-after-{run_tag}") for i in range(48)]
            number += len(batch)
            sent = time.monotonic()
            # Through nginx, and straight to the port to find the replacement sooner.
            after += await asyncio.gather(
                *(send(http if s.number % 3 else direct, cluster, s) for s in batch)
            )
            new_pid = cluster.worker_pids().get(victim)
            if new_pid not in (None, old_pid) and any(
                r.worker == victim and r.started >= sent for r in after
            ):
                replaced_at = time.monotonic()
        finished = await asyncio.gather(*streams)
    return {
        "victim": victim,
        "old_pid": old_pid,
        "new_pid": cluster.worker_pids().get(victim),
        "streams": finished,
        "after": after,
        "replaced_in": None if replaced_at is None else replaced_at - killed,
    }


def test_a_worker_killed_with_sigkill_is_replaced_and_only_its_own_requests_fail(
    cluster: Cluster,
) -> None:
    found = asyncio.run(kill_a_worker_under_load(cluster, tag()))
    victim = found["victim"]
    streams: list[Result] = found["streams"]  # type: ignore[assignment]
    after: list[Result] = found["after"]  # type: ignore[assignment]
    own = [r for r in streams if r.worker == victim]
    others = [r for r in streams if r.worker != victim]
    failed_after = [r for r in after if r.status != 200]
    print(
        f"\nkilled worker {victim} (pid {found['old_pid']}) with {len(own)} streams in flight;"
        f" replaced by pid {found['new_pid']} in {found['replaced_in']} s;"
        f" {len(after)} requests meanwhile, {len(failed_after)} failed"
    )

    assert found["replaced_in"] is not None
    assert found["new_pid"] not in (None, found["old_pid"])
    assert own and all(r.status == 0 or not r.body.endswith(DONE) for r in own)
    assert [(r.status, r.body.endswith(DONE)) for r in others] == [(200, True)] * len(others)
    assert failed_after == [], [r.error or r.status for r in failed_after]
    assert sorted(cluster.worker_pids()) == [str(n) for n in range(1, WORKERS + 1)]


# 5. Redis and PostgreSQL stopped under traffic.


def test_with_redis_stopped_every_worker_keeps_proxying_and_logging(cluster: Cluster) -> None:
    _, cache = cluster.servers
    cache.stop()
    run_tag = tag()
    # The limited key's 60 a minute stay out of reach even if one worker took all its requests.
    teams = ("roomy", "alpha", None, "limited")
    specs = [
        Spec(n, f"cluster-gpt-redis-{run_tag}", stream=n % 2 == 1, team=teams[n % 4])
        for n in range(200)
    ]
    outcome = run(cluster, specs, CONCURRENCY)
    answered, probes = asyncio.run(
        until_every_worker(
            cluster,
            lambda n: Spec(n, f"cluster-gpt-redis-probe-{run_tag}", team="limited"),
            lambda r: r.status == 200,
        )
    )
    results = outcome.results + probes
    rows = rows_of(cluster, [r.request_id for r in results], len(results))
    print(f"\nRedis stopped: {outcome.by_status()}; every worker answered: {sorted(answered)}")

    assert outcome.by_status() == {200: len(specs)}, [r.error for r in outcome.results][:3]
    assert {r.status for r in probes} == {200}
    assert sorted(answered) == [str(n) for n in range(1, WORKERS + 1)]
    assert len(rows) == len(results)


def test_with_postgresql_stopped_for_ten_seconds_no_row_is_lost(cluster: Cluster) -> None:
    pg, _ = cluster.servers
    run_tag = tag()
    pg.halt()
    stopped = time.monotonic()
    try:

        async def traffic_while_down() -> Outcome:
            outcome = Outcome()
            number = 0
            async with client(cluster, PROBES) as http, prober(cluster) as direct:
                while time.monotonic() - stopped < DATABASE_DOWN_SECONDS:
                    batch = [
                        Spec(number + i, f"cluster-gpt-pg-{run_tag}", team=TEAMS[i % 4])
                        for i in range(PROBES)
                    ]
                    number += len(batch)
                    outcome.results += await asyncio.gather(
                        *(send(http if s.number % 2 else direct, cluster, s) for s in batch)
                    )
                    await asyncio.sleep(0.1)
            return outcome

        outcome = asyncio.run(traffic_while_down())
    finally:
        pg.resume()
    back = time.monotonic()
    rows = rows_of(cluster, [r.request_id for r in outcome.results], len(outcome.results))
    print(
        f"\nPostgreSQL down {back - stopped:.1f} s: {outcome.by_status()} over"
        f" {dict(outcome.workers())}; rows written {time.monotonic() - back:.1f} s after"
    )

    assert outcome.by_status() == {200: len(outcome.results)}
    assert len(outcome.workers()) == WORKERS
    assert len(rows) == len(outcome.results)
    assert {row[1] for row in rows} == {200}
