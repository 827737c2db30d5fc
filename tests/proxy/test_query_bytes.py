"""End to end: the query string reaches the upstream byte for byte as the client sent it."""

from __future__ import annotations

import httpx

from tests.conftest import Gateway
from tests.mock_upstream import MockUpstream

QUERY = "a=x%2Fy&b=%41&c=a+b&d=%7e&e&f=%3D%26&g=caf%C3%A9"


def test_the_query_string_is_forwarded_byte_for_byte(
    gateway: Gateway, mock_upstream: MockUpstream
) -> None:
    gateway.routes({"model_prefix": "*", "upstream": mock_upstream.url, "protocol": "openai"})
    url = httpx.URL(f"{gateway.url}/v1/chat/completions").copy_with(query=QUERY.encode())
    response = httpx.post(
        url, json={"model": "m", "messages": []}, headers={"authorization": "Bearer k"}, timeout=10
    )
    assert response.status_code == 200
    [sent] = mock_upstream.requests
    assert sent.query == QUERY
