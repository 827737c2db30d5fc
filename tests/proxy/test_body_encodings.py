"""The JSON depth check holds whatever the body's encoding: a BOM, UTF-16 or UTF-32 body nested
past the limit is refused like a plain one, and nothing is sent upstream."""

from __future__ import annotations

import codecs

import pytest
from django.test import Client

from tests.conftest import UpstreamSeam

DEEP = '{"model": "m", "messages": ' + "[" * 5000 + "]" * 5000 + "}"


@pytest.mark.parametrize(
    "encoded",
    [
        codecs.BOM_UTF8 + DEEP.encode("utf-8"),
        DEEP.encode("utf-16"),
        DEEP.encode("utf-16-be"),
        DEEP.encode("utf-32"),
        DEEP.encode("utf-32-le"),
    ],
    ids=["utf-8-bom", "utf-16", "utf-16-be", "utf-32", "utf-32-le"],
)
@pytest.mark.django_db
def test_a_deep_body_in_any_json_encoding_gets_400_and_nothing_is_sent(
    client: Client, upstream_seam: UpstreamSeam, encoded: bytes
) -> None:
    response = client.post(
        "/v1/chat/completions",
        encoded,
        content_type="application/json",
        headers={"authorization": "Bearer k"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "json_too_deep"
    assert upstream_seam.requests == []
