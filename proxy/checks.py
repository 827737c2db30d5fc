"""System checks for a hosted gateway (`manage.py check --deploy`, and `serve` on a public address).

Ids are stable: headroom.W001 DEBUG on, W002 the default SECRET_KEY, W003 empty ALLOWED_HOSTS,
W004 gateway keys not required on a non-loopback address, W005 cookies not marked secure (all
deployment checks), W006 an unknown HEADROOM_COMPRESSION_DEFAULT (checked by every command).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Tags, register
from django.core.checks import Warning as CheckWarning
from django.core.management.base import BaseCommand

from proxy.compression import policy

TAG = "headroom"
DEFAULT_SECRET_KEY = "insecure-headroom-dev-key-change-me"

# The address `serve` binds, recorded before it runs these checks; None outside `serve`.
bind_host: str | None = None


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@register(TAG, Tags.security, deploy=True)
def check_debug(app_configs: Sequence[AppConfig] | None, **kwargs: object) -> list[CheckMessage]:
    if not settings.DEBUG:
        return []
    return [
        CheckWarning(
            "DEBUG is on: error pages show settings and request data to anyone.",
            hint="Unset DJANGO_DEBUG for a hosted gateway.",
            id="headroom.W001",
        )
    ]


@register(TAG, Tags.security, deploy=True)
def check_secret_key(
    app_configs: Sequence[AppConfig] | None, **kwargs: object
) -> list[CheckMessage]:
    if settings.SECRET_KEY != DEFAULT_SECRET_KEY:
        return []
    return [
        CheckWarning(
            "SECRET_KEY is the published default: sessions can be forged, and gateway keys are "
            "hashed with a known secret unless HEADROOM_KEY_SECRET is set.",
            hint="Set DJANGO_SECRET_KEY to a long random value.",
            id="headroom.W002",
        )
    ]


@register(TAG, Tags.security, deploy=True)
def check_allowed_hosts(
    app_configs: Sequence[AppConfig] | None, **kwargs: object
) -> list[CheckMessage]:
    if settings.ALLOWED_HOSTS:
        return []
    return [
        CheckWarning(
            "ALLOWED_HOSTS is empty: with DEBUG off every request is refused.",
            hint="Set DJANGO_ALLOWED_HOSTS to the names clients use, e.g. gateway.example.com.",
            id="headroom.W003",
        )
    ]


@register(TAG, Tags.security, deploy=True)
def check_keys_required(
    app_configs: Sequence[AppConfig] | None, **kwargs: object
) -> list[CheckMessage]:
    if bind_host is None or is_loopback(bind_host) or settings.HEADROOM_REQUIRE_KEY:
        return []
    return [
        CheckWarning(
            f"The gateway listens on {bind_host} but does not require gateway keys: anyone who "
            "can reach it can spend the keys it injects.",
            hint="Set HEADROOM_REQUIRE_KEY=true and hand out keys (manage.py create_gateway_key).",
            id="headroom.W004",
        )
    ]


@register(TAG, Tags.security, deploy=True)
def check_secure_cookies(
    app_configs: Sequence[AppConfig] | None, **kwargs: object
) -> list[CheckMessage]:
    if settings.DEBUG or (settings.SESSION_COOKIE_SECURE and settings.CSRF_COOKIE_SECURE):
        return []
    return [
        CheckWarning(
            "Session and CSRF cookies are not marked secure: an admin login can travel over "
            "plain HTTP.",
            hint="Serve the admin over HTTPS and set DJANGO_SECURE_COOKIES=true.",
            id="headroom.W005",
        )
    ]


@register(TAG)
def check_compression_default(
    app_configs: Sequence[AppConfig] | None, **kwargs: object
) -> list[CheckMessage]:
    value = str(getattr(settings, "HEADROOM_COMPRESSION_DEFAULT", ""))
    if value.strip().lower() in (*policy.MODES, ""):
        return []
    return [
        CheckWarning(
            f"HEADROOM_COMPRESSION_DEFAULT={value!r} is not a compression mode: routes without "
            f"their own mode compress as {policy.DEFAULT_MODE!r}.",
            hint=f"Set it to one of {', '.join(policy.MODES)}.",
            id="headroom.W006",
        )
    ]


def check_serving(command: BaseCommand, host: str) -> None:
    """`serve`: on a non-loopback address the gateway is hosted, so run the hosted checks.

    Warnings are printed and serving goes on; a loopback address is a developer's machine (or a
    reverse proxy's backend, which `manage.py check --deploy` covers).
    """
    global bind_host
    bind_host = host
    if not is_loopback(host):
        command.check(tags=[TAG], include_deployment_checks=True)
