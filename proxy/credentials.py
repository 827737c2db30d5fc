"""Credentials on the way upstream (SPEC §4): passthrough, or a key injected from the environment.

Fails closed: an unset variable stops the request before any upstream contact, and the
variable's name goes to the server log only. A gateway key (`hr-…`) found in any credential
position identifies the caller and is never forwarded, nor taken for a provider key.
"""

from __future__ import annotations

import logging
import os

from keys.issuing import is_gateway_key
from proxy import wire
from proxy.errors import GatewayError
from proxy.upstream import outbound_headers
from proxy.wire import CREDENTIAL_HEADERS, gemini
from routing.models import PASSTHROUGH

logger = logging.getLogger(__name__)

GATEWAY_KEY_HEADER = "x-headroom-key"
# Headers that choose the organization, project or billing account a key is used for.
ACCOUNT_HEADERS = frozenset({"openai-organization", "openai-project", "x-goog-user-project"})


def bare_value(name: str, value: str) -> str:
    """A credential header's key: `Authorization: Bearer k` → `k`, other headers as sent."""
    value = value.strip()
    if name == "authorization" and value[:7].lower() == "bearer ":
        return value[7:].strip()
    return value


def gateway_key(headers: dict[str, str], query: str) -> str | None:
    """The gateway key the caller presented: `x-headroom-key` first, then any `hr-…` credential.

    Tools that only know "an API key" (Claude Code, SDKs) put it in their usual header, so every
    credential position is read; the `hr-` prefix tells it from a provider key.
    """
    explicit = headers.get(GATEWAY_KEY_HEADER, "").strip()
    if explicit:
        return explicit
    for name in CREDENTIAL_HEADERS:
        value = bare_value(name, headers.get(name, ""))
        if is_gateway_key(value):
            return value
    key = gemini.query_key(query)
    return key if key and is_gateway_key(key) else None


def has_client_credential(headers: dict[str, str], query: str) -> bool:
    """A provider credential is present; a gateway key alone is not one."""
    for name in CREDENTIAL_HEADERS:
        value = bare_value(name, headers.get(name, ""))
        if value and not is_gateway_key(value):
            return True
    key = gemini.query_key(query)
    return bool(key and not is_gateway_key(key))


def without_gateway_keys(
    outbound: list[tuple[str, str]], query: str
) -> tuple[list[tuple[str, str]], str]:
    """Passthrough headers and query with every credential that holds a gateway key removed."""
    headers = [
        (name, value)
        for name, value in outbound
        if not (name in CREDENTIAL_HEADERS and is_gateway_key(bare_value(name, value)))
    ]
    return headers, gemini.drop_query_key(query, only=is_gateway_key)


def prepare(
    raw_headers: list[tuple[bytes, bytes]],
    headers: dict[str, str],
    query: str,
    *,
    auth: str,
    protocol: str,
    account_headers: bool = False,
) -> tuple[list[tuple[str, str]], str]:
    """The outbound headers and query string for this request's credential mode; with an
    injected key the caller's account headers go only if `account_headers` allows them."""
    if auth == PASSTHROUGH:
        require(headers, query, auth, protocol)
        return without_gateway_keys(outbound_headers(raw_headers, strip_credentials=False), query)
    variable = auth.removeprefix("env:")
    key = os.environ.get(variable, "").strip()
    if not key:
        logger.error("credential variable %s is unset or empty; request refused", variable)
        raise GatewayError(
            502, "the gateway has no credential configured for this upstream", "credential_missing"
        )
    outbound = outbound_headers(raw_headers, strip_credentials=True)
    if not account_headers:
        # They pick whose organization or project the injected key bills: the caller's choice
        # only where the route says so.
        outbound = [(name, value) for name, value in outbound if name not in ACCOUNT_HEADERS]
    outbound.append(wire.get(protocol).credential_header(key))
    return outbound, gemini.drop_query_key(query)


# Where each family's SDKs and tools send the provider key, for the message below.
PROVIDER_KEY_POSITIONS = {
    "openai": "Authorization: Bearer …",
    "anthropic": "x-api-key",
    "gemini": "x-goog-api-key",
}


def require(headers: dict[str, str], query: str, auth: str, protocol: str) -> None:
    """Refuse (401) a passthrough request that carries no provider key, saying what to send
    when the caller put its gateway key where this route expects the provider's."""
    if auth != PASSTHROUGH or has_client_credential(headers, query):
        return
    if gateway_key(headers, query) is None:
        raise GatewayError(401, "no API key was sent with the request", "missing_api_key")
    raise GatewayError(
        401,
        "this route forwards your own provider key: send the gateway key as x-headroom-key "
        f"and your provider key as {PROVIDER_KEY_POSITIONS[protocol]}",
        "missing_api_key",
    )
