"""CPU work on large bodies off the event loop: which bodies leave it, the size bound, the hard
time limit, and the same decision for the same body."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from django.test import override_settings

from proxy import bodywork, inbound, savings, views, worker
from proxy.compression import engine, memo
from proxy.compression.blocks import endpoint_for, find_blocks
from proxy.compression.policy import Policy
from proxy.compression.transform import key_of, results
from proxy.errors import GatewayError
from proxy.exchange import Exchange
from proxy.inbound import Inbound
from tests.corpus import read

PODS = read("json/k8s_pods.json")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def chat_body(output: str = PODS) -> bytes:
    message = {"role": "tool", "tool_call_id": "call_1", "content": output}
    return json.dumps({"model": "gpt-4o", "messages": [message]}).encode()


def request(body: bytes) -> Inbound:
    return Inbound(
        family="openai",
        method="POST",
        path="/v1/chat/completions",
        query="",
        body=body,
        headers={},
        raw_headers=[],
        model="gpt-4o",
    )


def exchange() -> Exchange:
    return Exchange(family="openai", endpoint="/v1/chat/completions", method="POST")


@pytest.fixture(autouse=True)
def _empty_memos() -> Iterator[None]:
    results.clear()
    bodywork.decisions.clear()
    yield
    results.clear()
    bodywork.decisions.clear()
    bodywork.shutdown()


@override_settings(HEADROOM_BODY_WORKERS=1, HEADROOM_BODY_OFFLOAD_BYTES=100)
def test_only_bodies_over_the_threshold_leave_the_event_loop() -> None:
    assert not bodywork.offloaded(b"x" * 100)
    assert bodywork.offloaded(b"x" * 101)


@override_settings(HEADROOM_BODY_WORKERS=0, HEADROOM_BODY_OFFLOAD_BYTES=100)
def test_without_workers_every_body_stays_on_the_event_loop() -> None:
    assert not bodywork.offloaded(b"x" * 10_000)


def test_a_body_over_the_size_bound_is_forwarded_without_being_read() -> None:
    body = chat_body()
    result = engine.compress_request(
        "openai", "/v1/chat/completions", body, mode="aggressive", max_bytes=len(body) - 1
    )
    assert (result.body, result.reason) == (body, "too_large")
    assert result.tokens_before == result.tokens_after > 0


@override_settings(HEADROOM_COMPRESSION_MAX_BYTES=1000)
def test_the_savings_step_applies_the_size_bound_from_the_settings() -> None:
    received, done = request(chat_body()), exchange()
    savings.apply(received, None, done)
    assert (received.body, done.savings_note) == (chat_body(), "too_large")


def spin(rounds: int) -> int:
    done = 0
    for _ in range(rounds):
        done += 1
    return done


def test_a_job_past_its_time_limit_is_stopped_by_its_alarm() -> None:
    # Bounded either way: without the alarm the loop ends by itself (tens of seconds).
    outcome = worker.limited(0.05, spin, 10**9)
    assert isinstance(outcome, worker.OverTime)


def test_a_job_within_its_time_limit_returns_its_result() -> None:
    assert worker.limited(5, sum, [1, 2, 3]) == 6


def test_the_block_the_time_limit_interrupts_is_remembered_as_sent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def interrupted(*args: object) -> str:
        raise engine.TimeLimit

    monkeypatch.setattr(engine, "replacement", interrupted)
    body = chat_body()
    with pytest.raises(engine.TimeLimit):
        engine.compress_request("openai", "/v1/chat/completions", body, mode="lossless")

    text = body.decode()
    endpoint = endpoint_for("openai", "/v1/chat/completions")
    assert endpoint is not None
    [block] = find_blocks(endpoint, text)
    key = key_of(block, text, Policy("lossless"))
    assert results.get(key) is None


@pytest.mark.anyio
async def test_a_body_stopped_by_the_time_limit_gets_the_same_decision_next_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[bytes] = []

    async def out_of_time(body: bytes, work: object, *args: object) -> None:
        calls.append(body)
        return None

    monkeypatch.setattr(bodywork, "run", out_of_time)
    body = chat_body()
    with override_settings(HEADROOM_BODY_WORKERS=1, HEADROOM_BODY_OFFLOAD_BYTES=10):
        first, second = exchange(), exchange()
        await bodywork.apply_savings(request(body), None, first, large=True)
        received = request(body)
        await bodywork.apply_savings(received, None, second, large=True)

    assert len(calls) == 1
    assert (first.savings_note, second.savings_note) == ("time_limit", "time_limit")
    assert received.body == body
    assert bodywork.decisions.get(("request", memo.digest_bytes(body))) is None


@pytest.mark.anyio
@override_settings(
    HEADROOM_BODY_WORKERS=1,
    HEADROOM_BODY_POOL="process",
    HEADROOM_BODY_OFFLOAD_BYTES=10,
    HEADROOM_BODY_TIME_LIMIT_MS=5000,
)
async def test_a_large_body_is_read_and_compressed_in_a_worker_process() -> None:
    body = chat_body()
    read = await bodywork.run(body, inbound.read_members)
    assert read == inbound.BodyMembers(True, {"model": "gpt-4o"})

    received, done = request(body), exchange()
    await bodywork.apply_savings(received, None, done, large=True)
    assert done.savings_note == "compressed"
    assert json.loads(received.body)["messages"][0]["content"] == json.dumps(
        json.loads(PODS), separators=(",", ":"), ensure_ascii=False
    )


@pytest.mark.anyio
@override_settings(
    HEADROOM_BODY_WORKERS=1,
    HEADROOM_BODY_POOL="process",
    HEADROOM_BODY_OFFLOAD_BYTES=10,
    HEADROOM_BODY_TIME_LIMIT_MS=5000,
    HEADROOM_MAX_JSON_DEPTH=64,
)
async def test_a_large_body_nested_too_deep_is_refused_by_its_worker() -> None:
    body = b'{"model": "gpt-4o", "messages": ' + b"[" * 100 + b"]" * 100 + b"}"
    with pytest.raises(GatewayError) as refused:
        await bodywork.parse_model(request(body), views.OPENAI, large=True)
    assert (refused.value.status, refused.value.code) == (400, "json_too_deep")
