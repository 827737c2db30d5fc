"""`compress_request`: modes, limits, failure handling, byte-exact splicing and token figures."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from django.test import override_settings
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.compression import CompressionResult, engine, policy, tokens
from proxy.compression.blocks import endpoint_for, find_blocks
from proxy.compression.transform import results
from tests.corpus import read

PRETTY = read("json/k8s_pods.json")
LOG = read("logs/pytest_failures.txt")
MESSAGES = "/v1/messages"


def compress_request(family: str, path: str, body: bytes, **options: Any) -> CompressionResult:
    """The engine without a time budget (unless a test sets one): a busy test machine must not
    turn a test of what compression does into a test of how fast it is."""
    options.setdefault("budget_ms", 0)
    return engine.compress_request(family, path, body, **options)


@pytest.fixture(autouse=True)
def _empty_memo() -> None:
    # Each test sees the engine do the work, not a result remembered from another test.
    results.clear()


def anthropic_body(*tool_outputs: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Why is CI red?"}]
    for number, output in enumerate(tool_outputs):
        call = f"toolu_{number}"
        messages.append(
            {"role": "assistant", "content": [{"type": "tool_use", "id": call, "name": "bash"}]}
        )
        messages.append(
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": call, "content": output}],
            }
        )
    return {"model": "claude-sonnet-4-5", "max_tokens": 512, "messages": messages, **(extra or {})}


def encode(body: dict[str, Any], **dumps: Any) -> bytes:
    return json.dumps(body, **dumps).encode()


def gaps(body: bytes, family: str = "anthropic", path: str = MESSAGES) -> list[str]:
    """The body's text between its tool-output values, in order."""
    text = body.decode()
    endpoint = endpoint_for(family, path)
    assert endpoint is not None
    pieces, position = [], 0
    for block in find_blocks(endpoint, text):
        pieces.append(text[position : block.span.start])
        position = block.span.end
    return [*pieces, text[position:]]


def tool_values(body: bytes) -> list[str]:
    endpoint = endpoint_for("anthropic", MESSAGES)
    assert endpoint is not None
    return [block.span.value for block in find_blocks(endpoint, body.decode())]


def test_lossless_mode_minifies_a_pretty_printed_json_tool_result() -> None:
    result = compress_request(
        "anthropic", MESSAGES, encode(anthropic_body(PRETTY)), mode="lossless"
    )
    assert result.reason == "compressed"
    assert result.changed_blocks == 1
    [value] = tool_values(result.body)
    assert json.loads(value) == json.loads(PRETTY)
    assert "\n" not in value


def test_aggressive_mode_thins_a_test_log_and_keeps_its_failures() -> None:
    result = compress_request("anthropic", MESSAGES, encode(anthropic_body(LOG)), mode="aggressive")
    [value] = tool_values(result.body)
    assert "lines omitted" in value
    assert "E       AssertionError: assert Decimal('414.00') == Decimal('416.50')" in value


def test_every_byte_outside_the_tool_output_stays_as_the_client_sent_it() -> None:
    body = encode(
        anthropic_body(PRETTY, LOG, extra={"metadata": {"user_id": "ü-1"}, "z_unknown": [1.50]}),
        indent=3,
        separators=(" ,", " :  "),
        ensure_ascii=True,
    )
    result = compress_request("anthropic", MESSAGES, body, mode="aggressive")
    assert result.changed_blocks == 2
    assert gaps(result.body) == gaps(body)


def test_mode_off_returns_the_body_untouched() -> None:
    body = encode(anthropic_body(PRETTY))
    result = compress_request("anthropic", MESSAGES, body, mode="off")
    assert (result.body, result.reason, result.changed_blocks) == (body, "off", 0)
    assert result.tokens_before == result.tokens_after == tokens.count(body)


def test_an_unknown_mode_returns_the_body_untouched() -> None:
    body = encode(anthropic_body(PRETTY))
    result = compress_request("anthropic", MESSAGES, body, mode="extreme")
    assert (result.body, result.reason) == (body, "unknown_mode")


def test_an_endpoint_without_tool_output_is_untouched() -> None:
    body = encode({"model": "text-embedding-3-small", "input": PRETTY})
    result = compress_request("openai", "/v1/embeddings", body, mode="aggressive")
    assert (result.body, result.reason) == (body, "unsupported_endpoint")


def test_a_request_without_tool_output_is_untouched() -> None:
    body = encode({"model": "m", "system": PRETTY, "messages": [{"role": "user", "content": LOG}]})
    result = compress_request("anthropic", MESSAGES, body, mode="aggressive")
    assert (result.body, result.reason) == (body, "no_tool_output")


@pytest.mark.parametrize("body", [b'{"messages": [', b"\xff\xfe{}", b"[1, 2]", b""])
def test_a_body_that_is_not_a_json_object_is_untouched(body: bytes) -> None:
    result = compress_request("anthropic", MESSAGES, body, mode="aggressive")
    assert (result.body, result.reason) == (body, "invalid_body")


def test_tool_output_below_the_minimum_size_is_untouched() -> None:
    # The size is the block's JSON as sent, quotes and escapes included.
    small = json.dumps({"a": [1, 2, 3]}, indent=2)
    size = len(json.dumps(small))
    body = encode(anthropic_body(small))
    below = compress_request("anthropic", MESSAGES, body, mode="lossless", min_bytes=size + 1)
    at = compress_request("anthropic", MESSAGES, body, mode="lossless", min_bytes=size)
    assert (below.body, below.reason) == (body, "no_gain")
    assert at.reason == "compressed"


def test_past_the_time_budget_the_original_body_is_returned(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = itertools.count(start=100.0, step=1.0)
    monkeypatch.setattr(engine.time, "perf_counter", lambda: next(clock))
    body = encode(anthropic_body(PRETTY))
    result = compress_request("anthropic", MESSAGES, body, mode="lossless", budget_ms=20)
    assert (result.body, result.reason) == (body, "budget_exceeded")
    assert result.tokens_after == result.tokens_before


def test_a_budget_of_zero_means_no_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = itertools.count(start=100.0, step=1.0)
    monkeypatch.setattr(engine.time, "perf_counter", lambda: next(clock))
    result = compress_request(
        "anthropic", MESSAGES, encode(anthropic_body(PRETTY)), mode="lossless", budget_ms=0
    )
    assert result.reason == "compressed"


def test_an_unexpected_error_returns_the_original_body_with_the_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: object) -> str:
        raise RuntimeError("secret request content")

    monkeypatch.setattr(engine, "replacement", broken)
    body = encode(anthropic_body(PRETTY))
    result = compress_request("anthropic", MESSAGES, body, mode="aggressive")
    assert (result.body, result.reason) == (body, "error:RuntimeError")


def test_the_error_log_names_the_exception_but_not_its_message(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object) -> str:
        raise RuntimeError("sk-ant-secret-in-body")

    monkeypatch.setattr(engine, "replacement", broken)
    compress_request("anthropic", MESSAGES, encode(anthropic_body(PRETTY)), mode="lossless")
    assert "RuntimeError" in caplog.text
    assert "sk-ant-secret-in-body" not in caplog.text


def test_token_figures_are_the_estimates_of_the_bodies_before_and_after() -> None:
    body = encode(anthropic_body(PRETTY, LOG))
    result = compress_request("anthropic", MESSAGES, body, mode="aggressive")
    assert result.tokens_before == tokens.count(body)
    assert result.tokens_after == tokens.count(result.body)
    assert result.tokens_saved > result.tokens_before / 2


def test_a_compressed_body_is_valid_json_with_valid_json_tool_output() -> None:
    result = compress_request(
        "anthropic", MESSAGES, encode(anthropic_body(PRETTY)), mode="aggressive"
    )
    [value] = tool_values(result.body)
    assert json.loads(value)["kind"] == "PodList"


def test_structured_gemini_responses_are_compacted_in_place() -> None:
    response = {"pods": json.loads(PRETTY)["items"]}
    body = {
        "contents": [
            {"role": "user", "parts": [{"text": "status?"}]},
            {
                "role": "user",
                "parts": [{"functionResponse": {"name": "pods", "response": response}}],
            },
        ]
    }
    raw = encode(body, indent=2)
    path = "/v1beta/models/gemini-2.5-pro:generateContent"
    lossless = compress_request("gemini", path, raw, mode="lossless")
    aggressive = compress_request("gemini", path, raw, mode="aggressive")
    assert json.loads(lossless.body) == body
    assert gaps(lossless.body, "gemini", path) == gaps(raw, "gemini", path)
    assert len(aggressive.body) < len(lossless.body) < len(raw)


@settings(max_examples=40, deadline=None)
@given(
    before=st.lists(st.text(max_size=40), max_size=4),
    system=st.text(max_size=60),
    indent=st.sampled_from([None, 1, 2]),
)
def test_a_tool_output_becomes_the_same_bytes_whatever_surrounds_it(
    before: list[str], system: str, indent: int | None
) -> None:
    body = anthropic_body(*before, PRETTY, extra={"system": system})
    result = compress_request("anthropic", MESSAGES, encode(body, indent=indent), mode="aggressive")
    lone = compress_request(
        "anthropic", MESSAGES, encode(anthropic_body(PRETTY)), mode="aggressive"
    )
    assert tool_values(result.body)[-1] == tool_values(lone.body)[0]


def test_settings_give_the_route_policy_with_defaults() -> None:
    assert policy.from_settings("") == policy.RequestPolicy("lossless", 512, 20.0)
    assert policy.from_settings("aggressive").mode == "aggressive"


@override_settings(
    HEADROOM_COMPRESSION_DEFAULT="off",
    HEADROOM_COMPRESSION_MIN_BYTES=2048,
    HEADROOM_COMPRESSION_BUDGET_MS=5,
)
def test_settings_override_the_defaults_and_a_route_overrides_the_mode() -> None:
    assert policy.from_settings("") == policy.RequestPolicy("off", 2048, 5.0)
    assert policy.from_settings("lossless").mode == "lossless"


@override_settings(
    HEADROOM_COMPRESSION_DEFAULT="maximum",
    HEADROOM_COMPRESSION_MIN_BYTES="inf",
    HEADROOM_COMPRESSION_BUDGET_MS=-1,
)
def test_malformed_settings_fall_back_to_safe_defaults() -> None:
    assert policy.from_settings("bogus") == policy.RequestPolicy("lossless", 512, 20.0)


def test_long_strings_of_a_gemini_response_get_the_lossless_text_transforms() -> None:
    output = "\x1b[32mok\x1b[0m   \n" * 100
    response = {"output": output, "exit_code": 0}
    body = {"contents": [{"parts": [{"functionResponse": {"name": "sh", "response": response}}]}]}
    path = "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    result = compress_request("gemini", path, encode(body), mode="lossless")
    sent = json.loads(result.body)["contents"][0]["parts"][0]["functionResponse"]["response"]
    # Colours and trailing spaces go, then the hundred identical lines fold into one and a count.
    assert sent == {"output": "ok\n[previous line repeated 99 more times]\n", "exit_code": 0}
