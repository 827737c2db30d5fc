"""Base paths and request paths with a disguised `.` or `..` segment are refused: `..;` (read as
`..` by Java servers), percent-encoded once or twice, or behind a backslash."""

from __future__ import annotations

import pytest
from django.test import Client

from routing.baseurl import InvalidBaseURL, has_dot_segment, parse_base_url
from tests.conftest import UpstreamSeam

DISGUISED = [
    "/api/..;/internal",
    "/api/..;jsessionid=1/internal",
    "/api/%2e%2e/internal",
    "/api/%252e%252e/internal",
    "/api/%25252E%25252E/internal",
    "/api/.%2e%2finternal",
    "/api/..%2finternal",
    "/api/.;/x",
]


@pytest.mark.parametrize("path", DISGUISED)
def test_a_base_path_with_a_disguised_dot_segment_is_refused(path: str) -> None:
    with pytest.raises(InvalidBaseURL):
        parse_base_url(f"https://api.example.com{path}")


@pytest.mark.parametrize("path", ["/v1", "/api/v1.5", "/a/...", "/models/gemini-1.5-pro"])
def test_ordinary_paths_with_dots_are_not_dot_segments(path: str) -> None:
    assert not has_dot_segment(path)


@pytest.mark.parametrize("path", DISGUISED)
@pytest.mark.django_db
def test_a_request_path_with_a_disguised_dot_segment_gets_400_and_nothing_is_sent(
    client: Client, upstream_seam: UpstreamSeam, path: str
) -> None:
    response = client.post(
        "/v1" + path,
        b'{"model": "m"}',
        content_type="application/json",
        headers={"authorization": "Bearer k"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_path"
    assert upstream_seam.requests == []
