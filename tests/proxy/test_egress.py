"""SSRF-proof overrides (issue 6, SPEC §3): resolve once, check every address, pin, never follow.

Requests go through the Django async client with a MockTransport as the upstream and a test
resolver in place of DNS, so every test shows both the client's answer and what was (not) sent.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import socket
import ssl
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.core.cache import cache
from django.test import AsyncClient

from proxy import egress, upstream
from proxy.errors import GatewayError
from routing import table
from routing.baseurl import AllowEntry, parse_base_url
from routing.models import AllowedUpstream, UpstreamRoute
from routing.resolver import Resolution, resolve

pytestmark = pytest.mark.anyio

PUBLIC_V4 = "93.184.215.14"
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"
ALLOWED = [
    "http://allowed.example",
    "https://allowed.example",
    "https://allowed.example:8443",
    "http://*.allowed.example",
    "http://metadata.google.internal",
    "private:http://ollama.lan:11434",
    "http://127.0.0.1:11434",
    "http://localhost:11435",
]
CREDENTIAL = {"authorization": "Bearer sk-client-own-key"}
REFUSED_MESSAGE = "upstream override refused: the upstream host resolves to a non-public address"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class FakeDNS:
    """Answers by name; a list of answer sets is served one set per lookup (rebinding)."""

    answers: dict[str, list[list[str]]] = field(default_factory=dict)
    lookups: list[tuple[str, int]] = field(default_factory=list)
    delay: float = 0.0

    def set(self, name: str, *addresses: str) -> None:
        self.answers[name] = [list(addresses)]

    async def __call__(self, host: str, port: int, **kwargs: Any) -> list[tuple[Any, ...]]:
        self.lookups.append((host, port))
        if self.delay:
            await asyncio.sleep(self.delay)
        sets = self.answers.get(host)
        if not sets:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        current = sets.pop(0) if len(sets) > 1 else sets[0]
        return [_addrinfo(address, port) for address in current]


def _addrinfo(address: str, port: int) -> tuple[Any, ...]:
    if ":" in address:
        return (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))
    return (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))


@dataclass
class Gateway:
    dns: FakeDNS
    sent: list[httpx.Request]
    reply: httpx.Response

    async def post(self, base_url: str, **headers: str) -> Any:
        return await AsyncClient().post(
            "/v1/chat/completions",
            {"model": "m"},
            content_type="application/json",
            headers={**CREDENTIAL, "x-headroom-base-url": base_url, **headers},
        )


@pytest.fixture
async def gateway(transactional_db: None, settings: Any) -> AsyncIterator[Gateway]:
    settings.HEADROOM_ROUTES_POLL_SECONDS = 0
    settings.HEADROOM_ALLOWED_UPSTREAMS = ALLOWED
    box = Gateway(FakeDNS(), [], httpx.Response(200, json={"ok": True}))

    def handler(request: httpx.Request) -> httpx.Response:
        box.sent.append(request)
        return box.reply

    table.invalidate()
    await upstream.reset_client()
    transport = httpx.MockTransport(handler)
    with (
        mock.patch("proxy.upstream.make_transport", return_value=transport),
        mock.patch("proxy.egress.system_getaddrinfo", box.dns),
    ):
        yield box
    await upstream.reset_client()
    table.invalidate()


def _assert_refused(response: Any, gateway: Gateway, message: str | None = None) -> None:
    assert response.status_code == 403
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("permission_error", "override_refused")
    assert error["message"].startswith("upstream override refused:")
    if message is not None:
        assert error["message"] == message
    assert gateway.sent == []


# --- the attack list: targets refused by the allowlist before any lookup -----------------------


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1",
        "http://localhost",
        "http://0.0.0.0",
        "http://[::1]",
        "http://[::ffff:127.0.0.1]",
        "http://2130706433",
        "http://0x7f000001",
        "http://127.1",
        "http://169.254.169.254",
        "http://169.254.169.254/latest/meta-data",
        "https://metadata.google.internal",
        "http://10.0.0.1",
        "http://172.16.0.1",
        "http://172.31.255.254",
        "http://192.168.1.1",
        "http://[fc00::1]",
        "http://[fd00:ec2::254]",
        "http://[fe80::1]",
        "http://allowed.example@evil.example",
        "http://evil.example#@allowed.example",
        "http://allowed.example\\@evil.example",
        "http://LocalHost",
        "http://localhost.",
        "http://127.0.0.1.",
        "http://allowed.example.evil.example",
        "http://evilallowed.example",
        "ftp://allowed.example",
        "http://allowed.example:8080",
        "file:///etc/passwd",
    ],
)
async def test_an_internal_or_malformed_target_is_refused_and_nothing_is_sent(
    gateway: Gateway, target: str
) -> None:
    response = await gateway.post(target)
    _assert_refused(response, gateway)
    assert gateway.dns.lookups == []


# --- the attack list: allowed names whose answers are not public -------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.9.9.9",
        "0.0.0.0",
        "::1",
        "::",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "::7f00:1",
        "169.254.169.254",
        "169.254.10.10",
        "fd00:ec2::254",
        "10.1.2.3",
        "172.16.5.4",
        "172.31.0.1",
        "192.168.0.10",
        "100.64.0.1",
        "100.100.100.200",
        "192.0.0.192",
        "224.0.0.1",
        "255.255.255.255",
        "240.0.0.1",
        "198.18.0.1",
        "fc00::1",
        "fd12:3456::1",
        "fe80::1",
        "fec0::1",
        "ff02::1",
        "64:ff9b::a00:1",
        "64:ff9b:1::1",
        "2002:a9fe:a9fe::1",
        "2002:c0a8:1::1",
        "2001:db8::1",
        "2001::1",
    ],
)
async def test_an_allowed_name_resolving_to_a_non_public_address_is_refused(
    gateway: Gateway, address: str
) -> None:
    gateway.dns.set("allowed.example", address)
    response = await gateway.post("https://allowed.example")
    _assert_refused(response, gateway, REFUSED_MESSAGE)
    assert address not in response.content.decode()


async def test_a_name_with_one_private_answer_among_public_ones_is_refused(
    gateway: Gateway,
) -> None:
    gateway.dns.set("allowed.example", PUBLIC_V4, PUBLIC_V6, "10.0.0.7")
    response = await gateway.post("https://allowed.example")
    _assert_refused(response, gateway, REFUSED_MESSAGE)


async def test_a_wildcard_subdomain_resolving_to_a_private_address_is_refused(
    gateway: Gateway,
) -> None:
    gateway.dns.set("internal.allowed.example", "192.168.7.7")
    response = await gateway.post("http://internal.allowed.example")
    _assert_refused(response, gateway, REFUSED_MESSAGE)


async def test_a_mixed_case_trailing_dot_name_is_looked_up_normalized_and_checked(
    gateway: Gateway,
) -> None:
    gateway.dns.set("allowed.example", "127.0.0.1")
    response = await gateway.post("https://ALLOWED.Example.")
    _assert_refused(response, gateway, REFUSED_MESSAGE)
    assert gateway.dns.lookups == [("allowed.example", 443)]


async def test_an_allowed_metadata_name_is_refused_for_its_metadata_address(
    gateway: Gateway,
) -> None:
    gateway.dns.set("metadata.google.internal", "169.254.169.254")
    response = await gateway.post("http://metadata.google.internal")
    _assert_refused(response, gateway, REFUSED_MESSAGE)


async def test_a_metadata_address_is_refused_even_where_private_answers_are_allowed(
    gateway: Gateway,
) -> None:
    gateway.dns.set("ollama.lan", "169.254.169.254")
    response = await gateway.post("http://ollama.lan:11434")
    _assert_refused(response, gateway, REFUSED_MESSAGE)


async def test_a_redirect_to_a_private_address_is_relayed_and_not_followed(
    gateway: Gateway,
) -> None:
    gateway.dns.set("allowed.example", PUBLIC_V4)
    gateway.reply = httpx.Response(302, headers={"location": "http://10.0.0.1/steal"})
    response = await gateway.post("https://allowed.example")
    assert response.status_code == 302
    assert response["location"] == "http://10.0.0.1/steal"
    assert [str(request.url) for request in gateway.sent] == [
        f"https://{PUBLIC_V4}/v1/chat/completions"
    ]


# --- pinning ------------------------------------------------------------------------------------


async def test_an_allowed_public_name_is_sent_to_the_checked_address(gateway: Gateway) -> None:
    gateway.dns.set("allowed.example", PUBLIC_V4)
    response = await gateway.post("https://allowed.example")
    assert response.status_code == 200
    assert response.json() == {"ok": True}
    [sent] = gateway.sent
    assert str(sent.url) == f"https://{PUBLIC_V4}/v1/chat/completions"
    assert json.loads(sent.content) == {"model": "m"}


async def test_the_pinned_request_keeps_host_and_sni_on_the_name(gateway: Gateway) -> None:
    gateway.dns.set("allowed.example", PUBLIC_V4)
    await gateway.post("https://allowed.example")
    [sent] = gateway.sent
    assert sent.headers["host"] == "allowed.example"
    assert sent.extensions["sni_hostname"] == "allowed.example"


async def test_the_host_header_keeps_a_non_default_port(gateway: Gateway) -> None:
    gateway.dns.set("allowed.example", PUBLIC_V6)
    await gateway.post("https://allowed.example:8443")
    [sent] = gateway.sent
    assert str(sent.url) == f"https://[{PUBLIC_V6}]:8443/v1/chat/completions"
    assert sent.headers["host"] == "allowed.example:8443"
    assert sent.extensions["sni_hostname"] == "allowed.example"


async def test_a_plain_http_target_is_pinned_without_sni(gateway: Gateway) -> None:
    gateway.dns.set("api.allowed.example", PUBLIC_V4)
    await gateway.post("http://api.allowed.example")
    [sent] = gateway.sent
    assert str(sent.url) == f"http://{PUBLIC_V4}/v1/chat/completions"
    assert sent.headers["host"] == "api.allowed.example"
    assert "sni_hostname" not in sent.extensions


async def test_dns_rebinding_cannot_work_because_the_name_is_resolved_once(
    gateway: Gateway,
) -> None:
    gateway.dns.answers["allowed.example"] = [[PUBLIC_V4], ["127.0.0.1"]]
    response = await gateway.post("https://allowed.example")
    assert response.status_code == 200
    assert gateway.dns.lookups == [("allowed.example", 443)]
    assert [request.url.host for request in gateway.sent] == [PUBLIC_V4]


async def test_each_request_resolves_afresh_so_a_rebound_name_is_then_refused(
    gateway: Gateway,
) -> None:
    gateway.dns.answers["allowed.example"] = [[PUBLIC_V4], ["127.0.0.1"]]
    first = await gateway.post("https://allowed.example")
    second = await gateway.post("https://allowed.example")
    assert (first.status_code, second.status_code) == (200, 403)
    assert [request.url.host for request in gateway.sent] == [PUBLIC_V4]


# --- explicit admin choices -------------------------------------------------------------------


async def test_a_private_prefixed_environment_entry_allows_a_private_answer(
    gateway: Gateway,
) -> None:
    gateway.dns.set("ollama.lan", "192.168.1.20")
    response = await gateway.post("http://ollama.lan:11434")
    assert response.status_code == 200
    [sent] = gateway.sent
    assert str(sent.url) == "http://192.168.1.20:11434/v1/chat/completions"
    assert sent.headers["host"] == "ollama.lan:11434"


async def test_an_allowed_upstream_row_with_allow_private_allows_a_private_answer(
    gateway: Gateway,
) -> None:
    await AllowedUpstream.objects.acreate(url="http://gpu.corp:8000", allow_private=True)
    gateway.dns.set("gpu.corp", "10.20.30.40")
    response = await gateway.post("http://gpu.corp:8000")
    assert response.status_code == 200
    assert [str(request.url) for request in gateway.sent] == [
        "http://10.20.30.40:8000/v1/chat/completions"
    ]


async def test_an_allowed_upstream_row_without_allow_private_refuses_a_private_answer(
    gateway: Gateway,
) -> None:
    await AllowedUpstream.objects.acreate(url="http://gpu.corp:8000")
    gateway.dns.set("gpu.corp", "10.20.30.40")
    response = await gateway.post("http://gpu.corp:8000")
    _assert_refused(response, gateway, REFUSED_MESSAGE)


async def test_an_ip_literal_entry_is_used_without_address_checks(gateway: Gateway) -> None:
    response = await gateway.post("http://127.0.0.1:11434")
    assert response.status_code == 200
    assert [str(request.url) for request in gateway.sent] == [
        "http://127.0.0.1:11434/v1/chat/completions"
    ]
    assert gateway.dns.lookups == []


async def test_a_localhost_entry_is_used_without_address_checks(gateway: Gateway) -> None:
    response = await gateway.post("http://localhost:11435")
    assert response.status_code == 200
    assert [str(request.url) for request in gateway.sent] == [
        "http://localhost:11435/v1/chat/completions"
    ]
    assert gateway.dns.lookups == []


async def test_a_routes_own_private_upstream_is_an_allowed_override_target(
    gateway: Gateway,
) -> None:
    await UpstreamRoute.objects.acreate(model_prefix="local-", upstream="http://inference.lan:9000")
    response = await gateway.post("http://inference.lan:9000")
    assert response.status_code == 200
    assert [str(request.url) for request in gateway.sent] == [
        "http://inference.lan:9000/v1/chat/completions"
    ]
    assert gateway.dns.lookups == []


# --- lookup failures ------------------------------------------------------------------------------


async def test_a_name_that_does_not_resolve_is_a_502_and_nothing_is_sent(gateway: Gateway) -> None:
    response = await gateway.post("https://allowed.example")
    assert response.status_code == 502
    assert response.json()["error"]["message"] == "could not resolve the upstream host"
    assert gateway.sent == []


async def test_a_lookup_slower_than_the_connect_timeout_is_a_504(
    gateway: Gateway, settings: Any
) -> None:
    settings.HEADROOM_CONNECT_TIMEOUT = 0.05
    gateway.dns.set("allowed.example", PUBLIC_V4)
    gateway.dns.delay = 2.0
    response = await gateway.post("https://allowed.example")
    assert response.status_code == 504
    assert response.json()["error"]["message"] == "timed out resolving the upstream host"
    assert gateway.sent == []


# --- the address rules and the pinned copy, directly ----------------------------------------------


@pytest.mark.parametrize(
    "address",
    [PUBLIC_V4, PUBLIC_V6, "8.8.8.8", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"],
)
def test_public_addresses_and_forms_embedding_a_public_ipv4_pass(address: str) -> None:
    assert egress.classify(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("address", "category"),
    [
        ("169.254.169.254", "metadata"),
        ("::ffff:169.254.169.254", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("0.0.0.0", "unspecified"),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("100.64.0.1", "shared (CGNAT)"),
        ("fe80::1%eth0", "scoped link-local"),
        ("fc00::1", "unique-local"),
        ("fec0::1", "site-local"),
        ("239.1.2.3", "multicast"),
        ("::7f00:1", "loopback"),
        ("64:ff9b::a00:1", "private"),
    ],
)
def test_each_non_public_address_is_named_by_its_category(address: str, category: str) -> None:
    assert egress.classify(ipaddress.ip_address(address)) == category


def _override(target: str, entries: Iterable[str]) -> Resolution:
    return resolve(
        model="m",
        family="openai",
        routes=[],
        defaults={"openai": "https://api.openai.com"},
        override=parse_base_url(target),
        allowed=[AllowEntry.parse(entry) for entry in entries],
    )


async def test_pinning_copies_the_body_method_and_headers() -> None:
    dns = FakeDNS()
    dns.set("allowed.example", PUBLIC_V4)
    request = httpx.Request(
        "PUT",
        "https://allowed.example/v1/files?purpose=x",
        headers={"x-api-key": "k"},
        content=b"1",
    )
    pinned = await egress.pin(request, _override("https://allowed.example", ALLOWED), resolver=dns)
    assert (pinned.method, str(pinned.url)) == ("PUT", f"https://{PUBLIC_V4}/v1/files?purpose=x")
    assert (pinned.headers["x-api-key"], pinned.headers["content-length"]) == ("k", "1")
    assert pinned.content == b"1"


async def test_an_ipv4_mapped_answer_is_pinned_as_plain_ipv4() -> None:
    dns = FakeDNS()
    dns.set("allowed.example", "::ffff:8.8.8.8")
    request = httpx.Request("GET", "https://allowed.example/v1/models")
    pinned = await egress.pin(request, _override("https://allowed.example", ALLOWED), resolver=dns)
    assert pinned.url.host == "8.8.8.8"


async def test_a_refusal_raises_the_documented_gateway_error() -> None:
    dns = FakeDNS()
    dns.set("allowed.example", "10.0.0.1")
    request = httpx.Request("GET", "https://allowed.example/v1/models")
    with pytest.raises(GatewayError) as caught:
        await egress.pin(request, _override("https://allowed.example", ALLOWED), resolver=dns)
    assert (caught.value.status, caught.value.code) == (403, "override_refused")


# --- a real TLS handshake on loopback: SNI and the certificate check use the name ---------------


def _self_signed(name: str, directory: Path) -> tuple[Path, Path, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(pem)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path, pem


@dataclass
class TLSServer:
    port: int
    server_names: list[str | None]
    host_headers: list[str]


@asynccontextmanager
async def _tls_server(cert_path: Path, key_path: Path) -> AsyncIterator[TLSServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    seen = TLSServer(0, [], [])
    context.sni_callback = lambda _sock, name, _ctx: seen.server_names.append(name)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            for line in head.decode("latin-1").split("\r\n"):
                if line.lower().startswith("host:"):
                    seen.host_headers.append(line.split(":", 1)[1].strip())
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, TimeoutError):
            pass  # a client that rejected the certificate hangs up mid-handshake
        finally:
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=context)
    seen.port = server.sockets[0].getsockname()[1]
    try:
        yield seen
    finally:
        server.close()
        await server.wait_closed()


async def _send_pinned(name: str, port: int, trusted_pem: bytes) -> httpx.Response:
    dns = FakeDNS()
    dns.set(name, "127.0.0.1")
    base = f"https://{name}:{port}"
    request = httpx.Request("GET", f"{base}/v1/models")
    pinned = await egress.pin(request, _override(base, [f"private:{base}"]), resolver=dns)
    verify = ssl.create_default_context(cadata=trusted_pem.decode())
    transport = httpx.AsyncHTTPTransport(verify=verify, retries=0)
    async with httpx.AsyncClient(transport=transport, trust_env=False, timeout=5) as client:
        return await client.send(pinned)


async def test_a_pinned_https_request_uses_the_name_for_sni_and_the_certificate(
    tmp_path: Path,
) -> None:
    cert_path, key_path, pem = _self_signed("llm.internal.test", tmp_path)
    async with _tls_server(cert_path, key_path) as server:
        response = await _send_pinned("llm.internal.test", server.port, pem)
    assert (response.status_code, response.content) == (200, b"ok")
    assert server.server_names == ["llm.internal.test"]
    assert server.host_headers == [f"llm.internal.test:{server.port}"]


async def test_a_pinned_https_request_rejects_a_certificate_for_another_name(
    tmp_path: Path,
) -> None:
    cert_path, key_path, pem = _self_signed("other.internal.test", tmp_path)
    async with _tls_server(cert_path, key_path) as server:
        with pytest.raises(httpx.ConnectError, match="certificate verify failed"):
            await _send_pinned("llm.internal.test", server.port, pem)
    assert server.host_headers == []


async def test_an_internationalized_name_is_looked_up_and_sent_in_its_ascii_form() -> None:
    dns = FakeDNS()
    dns.set("xn--allwed-vxa.allowed.example", PUBLIC_V4)
    request = httpx.Request("GET", "https://xn--allwed-vxa.allowed.example/v1/models")
    resolution = _override("https://xn--allwed-vxa.allowed.example", ["https://*.allowed.example"])
    pinned = await egress.pin(request, resolution, resolver=dns)
    assert dns.lookups == [("xn--allwed-vxa.allowed.example", 443)]
    assert pinned.extensions["sni_hostname"] == "xn--allwed-vxa.allowed.example"
    assert pinned.headers["host"] == "xn--allwed-vxa.allowed.example"


async def test_a_cached_answer_is_never_replayed_for_a_target_the_pin_now_refuses(
    gateway: Gateway,
) -> None:
    # The route caches; its answer for the target was stored while the name resolved publicly.
    cache.clear()
    await UpstreamRoute.objects.acreate(
        model_prefix="*", upstream="http://127.0.0.1:9", cache_ttl=60
    )
    gateway.dns.answers["allowed.example"] = [[PUBLIC_V4], ["10.0.0.8"]]
    first = await gateway.post("http://allowed.example")
    assert (first.status_code, len(gateway.sent)) == (200, 1)
    # The name now resolves to a private address: the cache may not answer in the pin's place.
    second = await gateway.post("http://allowed.example")
    cache.clear()
    assert second.status_code == 403
    assert second.json()["error"]["code"] == "override_refused"
    assert len(gateway.sent) == 1
