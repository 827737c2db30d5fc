"""Settings for the Headroom Gateway, every one read from the environment through django-environ.

Defaults run a fresh checkout on SQLite with nothing else installed.
"""

from __future__ import annotations

from pathlib import Path

import django_stubs_ext
import environ

# Lets the admin classes name their model at run time (ModelAdmin[GatewayKey]), as the type
# checker wants; Django's own classes are not subscriptable.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# Core Django
DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="insecure-headroom-dev-key-change-me")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# Behind a reverse proxy that terminates TLS (deploy/nginx/headroom.conf): the addresses or
# networks of the proxies whose X-Forwarded-For, -Proto and -Host headers are believed
# (proxy/forwarded.py removes them from anyone else, so Django may trust them from here on).
HEADROOM_TRUSTED_PROXIES = env.list("HEADROOM_TRUSTED_PROXIES", default=[])
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HEADROOM_TRUSTED_PROXIES else None
USE_X_FORWARDED_HOST = bool(HEADROOM_TRUSTED_PROXIES)
# The proxy redirects http:// to https://, so the gateway does not by default (its loopback
# health checks stay plain HTTP); Django's reminder about it is then beside the point.
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=False)
SILENCED_SYSTEM_CHECKS = ["security.W008"] if HEADROOM_TRUSTED_PROXIES else []
# HSTS, sent on HTTPS responses only (the admin and the dashboard): 0 = off, the default for a
# fresh checkout on http://127.0.0.1; deploy/headroom.env sets a year.
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", default=False)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "routing",
    "keys",
    "requestlog",
    "proxy",
    "dashboard",
]

# Gateway traffic never reaches these: headroom_site.asgi sends /v1 and /v1beta to the gateway's
# own handler, which runs no middleware.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "headroom_site.urls"
ASGI_APPLICATION = "headroom_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database: SQLite is the embedded default; DATABASE_URL=postgres://… for several workers.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the log writer and the admin write while proxied requests read; with
    # `serve --workers N` several processes write, and a writer waits up to `timeout` seconds
    # for another's lock (SQLite's busy timeout) instead of failing with "database is locked".
    # Temporary tables (the log writer's INSERT … RETURNING collects its ids in one) stay in
    # memory instead of a file on disk held open for the connection's life.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA temp_store=MEMORY;",
            "timeout": env.float("HEADROOM_SQLITE_BUSY_TIMEOUT", default=20.0),
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache: local memory by default; CACHE_URL=redis://… to share it between workers.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://headroom")}
# Local memory is bounded in entries (rate counters and cached responses together) and, for
# responses, in bytes by HEADROOM_RESPONSE_CACHE_MAX_BYTES; Redis by its own maxmemory policy.
if CACHES["default"]["BACKEND"].endswith(".LocMemCache"):
    CACHES["default"].setdefault("OPTIONS", {}).setdefault(
        "MAX_ENTRIES", env.int("HEADROOM_CACHE_MAX_ENTRIES", default=2000)
    )

# Channel layer for the live dashboard: in memory by default, Redis for several workers.
# channels-redis waits for messages with 5 s blocking reads; redis-py's own 5 s socket timeout
# would cut them first and close every idle dashboard socket, so reads may take 15 s (a
# `?socket_timeout=` in the URL still wins).
_channels_redis = env.str("CHANNEL_REDIS_URL", default="")
CHANNEL_LAYERS = {
    "default": (
        {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": _channels_redis, "socket_timeout": 15}]},
        }
        if _channels_redis
        else {"BACKEND": "channels.layers.InMemoryChannelLayer"}
    )
}

# Static files are served by the gateway itself (WhiteNoise, straight from the apps' folders) so
# the admin works with nothing in front of it and no collectstatic step.
STATIC_URL = "static/"
WHITENOISE_USE_FINDERS = True

# Django's own body limits are replaced by HEADROOM_MAX_BODY_BYTES, which answers in the
# caller's wire format instead of a plain-text 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = None
FILE_UPLOAD_MAX_MEMORY_SIZE = 4 * 1024 * 1024

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

LOGIN_URL = "/admin/login/"

# Legacy default targets, used when no enabled route matches (SPEC §2)
OPENAI_TARGET_API_URL = env.str("OPENAI_TARGET_API_URL", default="https://api.openai.com")
ANTHROPIC_TARGET_API_URL = env.str("ANTHROPIC_TARGET_API_URL", default="https://api.anthropic.com")
GEMINI_TARGET_API_URL = env.str(
    "GEMINI_TARGET_API_URL", default="https://generativelanguage.googleapis.com"
)

# Routing
HEADROOM_ALLOWED_UPSTREAMS = env.list("HEADROOM_ALLOWED_UPSTREAMS", default=[])
HEADROOM_UPSTREAM_ROUTES = env.str("HEADROOM_UPSTREAM_ROUTES", default="")
# How often each worker re-reads the route, key and price tables (seconds); 0 turns polling off.
HEADROOM_ROUTES_POLL_SECONDS = env.float("HEADROOM_ROUTES_POLL_SECONDS", default=1.0)

# Upstream client
HEADROOM_CONNECT_TIMEOUT = env.float("HEADROOM_CONNECT_TIMEOUT", default=10.0)
HEADROOM_UPSTREAM_TIMEOUT = env.float("HEADROOM_UPSTREAM_TIMEOUT", default=600.0)
# Upstream connections one worker may hold; 1,000 concurrent streams must not queue for one.
HEADROOM_MAX_CONNECTIONS = env.int("HEADROOM_MAX_CONNECTIONS", default=4096)
# Retries before the first byte (routes set how many): the first backoff in seconds, doubled per
# retry and jittered, and the longest wait an upstream's retry-after may ask for.
HEADROOM_RETRY_BACKOFF_SECONDS = env.float("HEADROOM_RETRY_BACKOFF_SECONDS", default=0.5)
HEADROOM_RETRY_AFTER_MAX_SECONDS = env.float("HEADROOM_RETRY_AFTER_MAX_SECONDS", default=10.0)
# The pool is partitioned: one upstream host (a stalled one included) gets at most this many.
HEADROOM_MAX_CONNECTIONS_PER_HOST = env.int("HEADROOM_MAX_CONNECTIONS_PER_HOST", default=1024)
# Requests in flight at once on each worker, per gateway key (a key's max_in_flight overrides
# it) and per upstream host; more get 429 with retry-after. 0 = no cap.
HEADROOM_MAX_IN_FLIGHT_PER_KEY = env.int("HEADROOM_MAX_IN_FLIGHT_PER_KEY", default=128)
HEADROOM_MAX_IN_FLIGHT_PER_UPSTREAM = env.int("HEADROOM_MAX_IN_FLIGHT_PER_UPSTREAM", default=1024)
HEADROOM_MAX_BODY_BYTES = env.int("HEADROOM_MAX_BODY_BYTES", default=32 * 1024 * 1024)
# A stopping worker lets requests in flight finish for this long, then ends the streams left.
HEADROOM_SHUTDOWN_GRACE_SECONDS = env.float("HEADROOM_SHUTDOWN_GRACE_SECONDS", default=30.0)
# Upstream answers larger than this are cut off with an error (0 = no limit).
HEADROOM_MAX_RESPONSE_BYTES = env.int("HEADROOM_MAX_RESPONSE_BYTES", default=1024 * 1024 * 1024)

# A token Prometheus sends (Authorization: Bearer …) to read /metrics; with it set, or with
# HEADROOM_REQUIRE_KEY, /metrics needs the token or a valid gateway key.
HEADROOM_METRICS_TOKEN = env.str("HEADROOM_METRICS_TOKEN", default="")
# Slow clients (proxy.intake): seconds from a request's first line to the end of its body, and
# seconds without a byte on a connection (between requests too); 0 turns either off.
HEADROOM_CLIENT_READ_TIMEOUT = env.float("HEADROOM_CLIENT_READ_TIMEOUT", default=120.0)
HEADROOM_CLIENT_IDLE_TIMEOUT = env.float("HEADROOM_CLIENT_IDLE_TIMEOUT", default=60.0)

# Gateway keys (SPEC §4). With HEADROOM_REQUIRE_KEY every request needs a valid key; a key that
# is presented is checked either way. Keys are stored as HMACs under HEADROOM_KEY_SECRET, or under
# a secret derived from SECRET_KEY when it is blank (then rotating SECRET_KEY voids every key).
# Each worker re-reads the key table every HEADROOM_ROUTES_POLL_SECONDS, like the route table.
HEADROOM_REQUIRE_KEY = env.bool("HEADROOM_REQUIRE_KEY", default=False)
HEADROOM_KEY_SECRET = env.str("HEADROOM_KEY_SECRET", default="")
# Seconds a worker reuses a key's month-to-date spend before summing the request log again.
HEADROOM_BUDGET_CACHE_SECONDS = env.float("HEADROOM_BUDGET_CACHE_SECONDS", default=10.0)

# Request limits, answered in the caller's wire format. Daphne itself refuses more than 16 KiB of
# request line and headers with a plain 400, so the header-bytes limit stays below that.
HEADROOM_MAX_HEADERS = env.int("HEADROOM_MAX_HEADERS", default=100)
HEADROOM_MAX_HEADER_BYTES = env.int("HEADROOM_MAX_HEADER_BYTES", default=12 * 1024)
HEADROOM_MAX_MODEL_LENGTH = env.int("HEADROOM_MAX_MODEL_LENGTH", default=256)
HEADROOM_MAX_JSON_DEPTH = env.int("HEADROOM_MAX_JSON_DEPTH", default=64)

# Savings engine (SPEC §2, §5): the compression mode of routes that leave it blank (off, lossless,
# aggressive), tool outputs smaller than HEADROOM_COMPRESSION_MIN_BYTES are left alone, and past
# HEADROOM_COMPRESSION_BUDGET_MS (0 = no limit) the body is forwarded as it came.
HEADROOM_COMPRESSION_DEFAULT = env.str("HEADROOM_COMPRESSION_DEFAULT", default="lossless")
HEADROOM_COMPRESSION_MIN_BYTES = env.int("HEADROOM_COMPRESSION_MIN_BYTES", default=512)
HEADROOM_COMPRESSION_BUDGET_MS = env.float("HEADROOM_COMPRESSION_BUDGET_MS", default=20.0)
# A larger body is forwarded without the engine reading it (savings note `too_large`; 0 = none).
HEADROOM_COMPRESSION_MAX_BYTES = env.int("HEADROOM_COMPRESSION_MAX_BYTES", default=16 * 1024 * 1024)
# CPU work on bodies over HEADROOM_BODY_OFFLOAD_BYTES (parsing, compression, token estimates) runs
# in HEADROOM_BODY_WORKERS worker processes per gateway process (HEADROOM_BODY_POOL `process`;
# `thread` shares the interpreter lock with the event loop), never on the event loop; 0 workers
# keeps it inline. Past HEADROOM_BODY_TIME_LIMIT_MS of CPU time a worker is stopped and the body
# is forwarded as it came (savings note `time_limit`); the same body gets that decision again.
HEADROOM_BODY_WORKERS = env.int("HEADROOM_BODY_WORKERS", default=1)
HEADROOM_BODY_POOL = env.str("HEADROOM_BODY_POOL", default="process")
# Up to 1 MiB the work stays inline: every pattern runs in linear time, so a body that size costs
# the loop a few ms, less than the trip to a worker process and back.
HEADROOM_BODY_OFFLOAD_BYTES = env.int("HEADROOM_BODY_OFFLOAD_BYTES", default=1024 * 1024)
HEADROOM_BODY_TIME_LIMIT_MS = env.float("HEADROOM_BODY_TIME_LIMIT_MS", default=1000.0)
# Response cache (routes with a cache_ttl): answers larger than the entry limit are never stored,
# and with the local-memory cache each worker's stored answers stay under the total.
HEADROOM_RESPONSE_CACHE_MAX_ENTRY_BYTES = env.int(
    "HEADROOM_RESPONSE_CACHE_MAX_ENTRY_BYTES", default=8 * 1024 * 1024
)
HEADROOM_RESPONSE_CACHE_MAX_BYTES = env.int(
    "HEADROOM_RESPONSE_CACHE_MAX_BYTES", default=256 * 1024 * 1024
)

# Request log writer: queued rows (beyond this many, rows are dropped and counted), rows per
# INSERT, and seconds between writes; 0 turns the writer thread off (rows wait for a flush).
HEADROOM_LOG_QUEUE_SIZE = env.int("HEADROOM_LOG_QUEUE_SIZE", default=10000)
HEADROOM_LOG_BATCH_SIZE = env.int("HEADROOM_LOG_BATCH_SIZE", default=500)
HEADROOM_LOG_FLUSH_SECONDS = env.float("HEADROOM_LOG_FLUSH_SECONDS", default=1.0)
# Where a worker that stops while the database is unreachable keeps its queued rows (JSON lines,
# no credentials) for the next start to write; empty turns it off (such rows are dropped).
HEADROOM_LOG_SPILL_DIR = env.str("HEADROOM_LOG_SPILL_DIR", default=str(BASE_DIR / "log-spill"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Messages are escaped (CR, LF, control characters): client text cannot forge a log line.
    "formatters": {
        "plain": {
            "()": "proxy.logformat.EscapingFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        }
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("HEADROOM_LOG_LEVEL", default="INFO")},
    # The gateway's access log already has every 4xx; Django's copy would say it twice.
    # Client libraries log full upstream URLs at INFO, and a Gemini `?key=` is part of the URL.
    "loggers": {
        "django.request": {"level": "ERROR"},
        **{name: {"level": "WARNING"} for name in ("httpx", "httpcore", "aiohttp")},
    },
}
