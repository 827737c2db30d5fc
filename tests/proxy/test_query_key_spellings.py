"""End to end: a gateway key in the query is recognized and stripped however it is spelled
(`?key=`, a percent-encoded name or value) and never reaches an upstream."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest

from keys import issuing
from tests.conftest import Gateway
from tests.mock_upstream import MockUpstream

GENERATE = "/v1beta/models/gemini-2.0-flash:generateContent"


@pytest.mark.parametrize(
    "spelling",
    [
        "key={secret}",
        "%6Bey={secret}",
        "k%65y={secret}",
        "key={encoded}",
    ],
)
def test_a_gateway_key_in_any_query_spelling_never_reaches_the_upstream(
    gateway: Gateway, mock_upstream: MockUpstream, spelling: str
) -> None:
    _, secret = issuing.issue(team="query", name="query laptop")
    # Waits for the running gateway to pick up the new route and the new key.
    gateway.routes({"model_prefix": "*", "upstream": mock_upstream.url, "protocol": "gemini"})
    encoded = quote(secret, safe="").replace("-", "%2D")
    query = spelling.format(secret=secret, encoded=encoded)
    response = httpx.post(
        f"{gateway.url}{GENERATE}?alt=sse&{query}",
        json={"contents": []},
        headers={"x-goog-api-key": "AIza-client-own"},
        timeout=10,
    )
    assert response.status_code == 200
    [sent] = mock_upstream.requests
    assert sent.query == "alt=sse"
    assert secret not in sent.query and "hr" not in sent.query
