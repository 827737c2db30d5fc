"""Credentials on the way upstream (SPEC §4): passthrough, or a key injected from the environment.

Fails closed: an unset variable stops the request before any upstream contact, and the
variable's name goes to the server log only.
"""

from __future__ import annotations

import logging
import os

from proxy import protocols
from proxy.errors import GatewayError
from proxy.protocols import CREDENTIAL_HEADERS, gemini
from proxy.upstream import outbound_headers
from routing.models import PASSTHROUGH

logger = logging.getLogger(__name__)


def has_client_credential(headers: dict[str, str], query: str) -> bool:
    return any(headers.get(name, "").strip() for name in CREDENTIAL_HEADERS) or bool(
        gemini.query_key(query)
    )


def prepare(
    raw_headers: list[tuple[bytes, bytes]],
    headers: dict[str, str],
    query: str,
    *,
    auth: str,
    protocol: str,
) -> tuple[list[tuple[str, str]], str]:
    """The outbound headers and query string for this request's credential mode."""
    if auth == PASSTHROUGH:
        if not has_client_credential(headers, query):
            raise GatewayError(401, "no API key was sent with the request", "missing_api_key")
        return outbound_headers(raw_headers, strip_credentials=False), query
    variable = auth.removeprefix("env:")
    key = os.environ.get(variable, "").strip()
    if not key:
        logger.error("credential variable %s is unset or empty; request refused", variable)
        raise GatewayError(
            502, "the gateway has no credential configured for this upstream", "credential_missing"
        )
    outbound = outbound_headers(raw_headers, strip_credentials=True)
    outbound.append(protocols.get(protocol).credential_header(key))
    return outbound, gemini.drop_query_key(query)
