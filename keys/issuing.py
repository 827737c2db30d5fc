"""Issuing `hr-…` secrets: made once, shown once, stored only as a keyed hash."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.utils.crypto import salted_hmac

from keys.models import GatewayKey

# Every gateway key starts with this, which tells it from a provider key in any header.
PREFIX = "hr-"
# Shown in lists (`hr-abcde…`); the rest of the secret exists only with its holder.
DISPLAY_CHARS = 8
_HASH_SALT = "headroom.gateway-keys"


def is_gateway_key(value: str) -> bool:
    return value.startswith(PREFIX)


def new_secret() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """HMAC-SHA256 under the server's key secret: fast to check, useless without the server."""
    server_secret = settings.HEADROOM_KEY_SECRET or settings.SECRET_KEY
    return salted_hmac(_HASH_SALT, secret, secret=server_secret, algorithm="sha256").hexdigest()


def assign_secret(key: GatewayKey) -> str:
    """Give an unsaved key a fresh secret; the caller shows the returned secret once."""
    secret = new_secret()
    key.prefix = secret[:DISPLAY_CHARS]
    key.secret_hash = hash_secret(secret)
    return secret


def issue(**fields: object) -> tuple[GatewayKey, str]:
    """Create a key and return it with its secret, which is not stored anywhere."""
    key = GatewayKey(**fields)
    secret = assign_secret(key)
    key.save()
    return key, secret
