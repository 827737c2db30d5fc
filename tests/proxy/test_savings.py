"""The savings step: policy per route, bypass, the budget and failure fallbacks, calibration, and
the figures a request's headers and log row carry, at the MockTransport seam."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.test import TestCase, override_settings

from proxy import savings
from proxy.compression.transform import results
from proxy.exchange import Exchange
from proxy.inbound import Inbound
from requestlog import writer
from requestlog.models import RequestLog
from requestlog.usage import Usage
from routing import routes_file
from routing.admin import UpstreamRouteForm
from routing.models import UpstreamRoute
from tests.conftest import UpstreamSeam
from tests.corpus import read

# Pretty-printed JSON: lossless compression alone (minifying) removes a large share of it.
PODS = read("json/k8s_pods.json")
AUTH = {"authorization": "Bearer sk-client"}


def chat_body(output: str = PODS, **extra: object) -> bytes:
    call = {"id": "call_1", "type": "function", "function": {"name": "kubectl", "arguments": "{}"}}
    messages = [
        {"role": "user", "content": "Which pods are failing?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": output},
    ]
    return json.dumps({"model": "gpt-4o", "messages": messages, **extra}).encode()


def inbound(body: bytes, path: str = "/v1/chat/completions", **headers: str) -> Inbound:
    return Inbound(
        family="openai",
        method="POST",
        path=path,
        query="",
        body=body,
        headers=headers,
        raw_headers=[],
        model="gpt-4o",
    )


def exchange() -> Exchange:
    return Exchange(family="openai", endpoint="/v1/chat/completions", method="POST")


def route(**fields: object) -> UpstreamRoute:
    return UpstreamRoute(model_prefix="*", **fields)


# Policy


def test_a_route_mode_wins_over_the_gateway_default() -> None:
    assert savings.policy_for(route(compression="aggressive")).mode == "aggressive"


@override_settings(HEADROOM_COMPRESSION_DEFAULT="off")
def test_a_blank_route_mode_takes_the_gateway_default() -> None:
    assert savings.policy_for(route(compression="")).mode == "off"


@override_settings(HEADROOM_COMPRESSION_DEFAULT="aggressive")
def test_a_request_without_a_route_takes_the_gateway_default() -> None:
    assert savings.policy_for(None).mode == "aggressive"


@override_settings(HEADROOM_COMPRESSION_MIN_BYTES=4096)
def test_a_route_minimum_block_size_wins_over_the_setting() -> None:
    assert savings.policy_for(route(compression_min_bytes=100)).min_bytes == 100


@override_settings(HEADROOM_COMPRESSION_MIN_BYTES=4096)
def test_a_blank_route_minimum_takes_the_setting() -> None:
    assert savings.policy_for(route()).min_bytes == 4096


@override_settings(HEADROOM_COMPRESSION_BUDGET_MS=7.5)
def test_the_budget_comes_from_the_setting() -> None:
    assert savings.policy_for(route()).budget_ms == 7.5


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("TRUE", True), ("1", True)])
def test_the_bypass_header_is_read_case_insensitively(value: str, expected: bool) -> None:
    assert savings.bypassed(inbound(b"{}", **{"x-headroom-bypass": value})) is expected


@pytest.mark.parametrize("value", ["false", "", "no-thanks"])
def test_other_bypass_values_do_not_bypass(value: str) -> None:
    assert savings.bypassed(inbound(b"{}", **{"x-headroom-bypass": value})) is False


def test_the_routes_file_reads_and_writes_the_minimum_block_size() -> None:
    [read] = routes_file.loads('[{"model_prefix": "glm-", "compression_min_bytes": 2048}]')
    assert read.compression_min_bytes == 2048
    assert json.loads(routes_file.dumps([read]))[0]["compression_min_bytes"] == 2048


def test_the_routes_file_refuses_a_minimum_that_is_not_a_whole_number() -> None:
    with pytest.raises(routes_file.RoutesFileError) as refused:
        routes_file.loads('[{"model_prefix": "glm-", "compression_min_bytes": "big"}]')
    assert refused.value.problems == [
        "entry 1: compression_min_bytes: must be a whole number, or null"
    ]


def test_the_route_admin_form_edits_the_minimum_block_size() -> None:
    data = {"position": 0, "model_prefix": "glm-", "protocol": "openai", "auth": "passthrough"}
    form = UpstreamRouteForm({**data, "cache_ttl": 0, "retries": 2, "compression_min_bytes": 1024})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["compression_min_bytes"] == 1024


# The step on one request


def test_a_large_tool_result_is_compressed_and_counted() -> None:
    request, done = inbound(chat_body()), exchange()
    savings.apply(request, route(), done)
    assert len(request.body) < len(chat_body()) * 0.8
    assert json.loads(json.loads(request.body)["messages"][2]["content"]) == json.loads(PODS)
    assert done.savings_note == "compressed"
    assert done.tokens_before > done.tokens_after == done.estimated_input > 0


def test_a_bypassed_request_keeps_its_body_and_is_not_counted() -> None:
    request, done = inbound(chat_body(), **{"x-headroom-bypass": "true"}), exchange()
    savings.apply(request, route(), done)
    assert request.body == chat_body()
    assert (done.savings_note, done.tokens_before, done.estimated_input) == ("bypass", None, None)


def test_a_bypassed_stream_is_estimated_in_case_it_breaks_off() -> None:
    request, done = inbound(chat_body(stream=True), **{"x-headroom-bypass": "true"}), exchange()
    request.stream = True
    savings.apply(request, route(), done)
    assert request.body == chat_body(stream=True)
    assert (done.savings_note, done.tokens_before) == ("bypass", None)
    assert done.estimated_input > 0


def test_a_route_with_compression_off_keeps_the_body() -> None:
    request, done = inbound(chat_body()), exchange()
    savings.apply(request, route(compression="off"), done)
    assert request.body == chat_body()
    assert (done.savings_note, done.tokens_before, done.estimated_input) == ("off", None, None)


def test_blocks_under_the_route_minimum_are_left_alone() -> None:
    request, done = inbound(chat_body()), exchange()
    savings.apply(request, route(compression_min_bytes=len(PODS.encode()) * 2), done)
    assert request.body == chat_body()
    assert done.savings_note == "no_gain"
    assert done.tokens_before == done.tokens_after


@override_settings(HEADROOM_COMPRESSION_BUDGET_MS=0.000001)
def test_past_the_budget_the_original_body_goes_and_the_row_says_why() -> None:
    # A body seen for the first time: one an earlier test compressed keeps that result.
    results.clear()
    request, done = inbound(chat_body()), exchange()
    savings.apply(request, route(), done)
    assert request.body == chat_body()
    assert done.savings_note == "budget_exceeded"
    assert savings.row_fields(done, 200)["savings_note"] == "budget_exceeded"


def test_an_engine_failure_forwards_the_original_body(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret request text")

    monkeypatch.setattr(savings, "compress_request", explode)
    request, done = inbound(chat_body()), exchange()
    savings.apply(request, route(), done)
    assert request.body == chat_body()
    assert (done.savings_note, done.tokens_before, done.estimated_input) == (
        "error:RuntimeError",
        None,
        None,
    )


def test_a_request_without_a_model_is_not_counted() -> None:
    request, done = inbound(chat_body()), exchange()
    request.model = ""
    savings.apply(request, route(), done)
    assert (request.body, done.savings_note, done.estimated_input) == (chat_body(), "", None)


def test_an_endpoint_without_tool_output_is_estimated_without_engine_figures() -> None:
    body = b'{"model":"text-embedding-3-small","input":"hello world"}'
    request, done = inbound(body, path="/v1/embeddings"), exchange()
    savings.apply(request, route(), done)
    assert (done.savings_note, done.tokens_before, savings.headers(done)) == (
        "unsupported_endpoint",
        None,
        {},
    )
    assert done.estimated_input > 0


# Calibration and figures


def test_calibration_scales_both_estimates_by_billed_input_over_estimated_sent() -> None:
    usage = Usage(input_tokens=100, cache_read_tokens=500, cache_write_tokens=200)
    assert savings.calibrated(1000, 400, usage) == (2000, 800)


def test_without_billed_input_the_estimates_stand() -> None:
    assert savings.calibrated(1000, 400, None) == (1000, 400)
    assert savings.calibrated(1000, 400, Usage(output_tokens=50)) == (1000, 400)


def test_headers_carry_the_calibrated_figures_once_usage_is_known() -> None:
    done = exchange()
    done.tokens_before, done.tokens_after = 1000, 400
    assert savings.headers(done)["x-headroom-tokens-saved"] == "600"
    done.usage = Usage(input_tokens=200)
    assert savings.headers(done) == {
        "x-headroom-tokens-before": "500",
        "x-headroom-tokens-after": "200",
        "x-headroom-tokens-saved": "300",
    }


def test_the_row_keeps_the_raw_estimates_beside_the_calibrated_figures() -> None:
    done = exchange()
    done.tokens_before, done.tokens_after, done.estimated_input = 1000, 400, 400
    done.savings_note, done.usage = "compressed", Usage(input_tokens=200)
    assert savings.row_fields(done, 200) == {
        "tokens_before": 500,
        "tokens_after": 200,
        "estimated_tokens_before": 1000,
        "estimated_tokens_after": 400,
        "savings_note": "compressed",
    }


@pytest.mark.parametrize("status", [400, 429, 502, 504, 499])
def test_a_request_that_failed_saved_nothing_but_keeps_its_estimates(status: int) -> None:
    done = exchange()
    done.tokens_before, done.tokens_after, done.estimated_input = 1000, 400, 400
    fields = savings.row_fields(done, status)
    assert (fields["tokens_before"], fields["tokens_after"]) == (None, None)
    assert (fields["estimated_tokens_before"], fields["estimated_tokens_after"]) == (1000, 400)


def test_a_row_without_the_engine_has_one_estimate_for_both_raw_figures() -> None:
    done = exchange()
    done.estimated_input, done.savings_note = 321, "bypass"
    fields = savings.row_fields(done, 200)
    assert (fields["tokens_before"], fields["tokens_after"]) == (None, None)
    assert (fields["estimated_tokens_before"], fields["estimated_tokens_after"]) == (321, 321)


# Through the gateway


def chat_reply(prompt_tokens: int) -> httpx.Response:
    usage = {"prompt_tokens": prompt_tokens, "completion_tokens": 5, "total_tokens": 0}
    return httpx.Response(200, json={"id": "c", "choices": [], "usage": usage})


async def sse_pieces(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), 40):
        yield data[start : start + 40]


STREAM = (
    b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"ok"}}]}\n\n'
    b'data: {"id":"c","choices":[],"usage":{"prompt_tokens":900,"completion_tokens":2}}\n\n'
    b"data: [DONE]\n\n"
)


async def logged_row() -> RequestLog:
    await sync_to_async(writer.flush)()
    return await RequestLog.objects.aget()


class SavingsThroughTheGatewayTests(TestCase):
    @pytest.fixture(autouse=True)
    def _seam(self, upstream_seam: UpstreamSeam) -> None:
        self.seam = upstream_seam

    @classmethod
    def setUpTestData(cls) -> None:
        UpstreamRoute.objects.create(model_prefix="*", upstream="http://127.0.0.1:9")

    async def post(self, body: bytes, **headers: str) -> object:
        return await self.async_client.post(
            "/v1/chat/completions", body, content_type="application/json", headers=AUTH | headers
        )

    async def test_the_upstream_receives_the_smaller_body_and_the_client_the_figures(self) -> None:
        self.seam.handler = lambda request: chat_reply(prompt_tokens=3000)
        response = await self.post(chat_body())
        sent = self.seam.requests[0].content
        assert response.status_code == 200
        assert len(sent) < len(chat_body()) * 0.8
        assert response["x-headroom-tokens-after"] == "3000"
        before = int(response["x-headroom-tokens-before"])
        assert int(response["x-headroom-tokens-saved"]) == before - 3000 > 0

    async def test_the_row_agrees_with_the_headers(self) -> None:
        self.seam.handler = lambda request: chat_reply(prompt_tokens=3000)
        response = await self.post(chat_body())
        row = await logged_row()
        assert (row.tokens_before, row.tokens_after) == (
            int(response["x-headroom-tokens-before"]),
            int(response["x-headroom-tokens-after"]),
        )
        assert row.savings_note == "compressed"
        assert row.estimated_tokens_before > row.estimated_tokens_after

    async def test_a_bypassed_request_goes_byte_for_byte_without_figures(self) -> None:
        self.seam.handler = lambda request: chat_reply(prompt_tokens=3000)
        response = await self.post(chat_body(), **{"x-headroom-bypass": "true"})
        assert self.seam.requests[0].content == chat_body()
        assert "x-headroom-tokens-before" not in response.headers
        assert "x-headroom-bypass" not in self.seam.requests[0].headers
        row = await logged_row()
        assert (row.savings_note, row.tokens_before) == ("bypass", None)

    async def test_a_stream_carries_the_estimate_and_its_row_the_calibrated_figures(self) -> None:
        self.seam.handler = lambda request: httpx.Response(
            200, headers={"content-type": "text/event-stream"}, content=sse_pieces(STREAM)
        )
        response = await self.post(chat_body(stream=True, stream_options={"include_usage": True}))
        body = b"".join([chunk async for chunk in response.streaming_content])
        assert body == STREAM
        row = await logged_row()
        assert (row.estimated_tokens_before, row.estimated_tokens_after) == (
            int(response["x-headroom-tokens-before"]),
            int(response["x-headroom-tokens-after"]),
        )
        assert row.tokens_after == 900
        assert row.tokens_before == round(
            row.estimated_tokens_before * 900 / row.estimated_tokens_after
        )
