"""A private PostgreSQL cluster and Redis server on 127.0.0.1 for tests of several workers, the
shipped nginx site file served from a private prefix in front of a gateway, a helper that runs
`manage.py` against them in a subprocess, and the dashboard's figures read that way. Every wait is
bounded.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import redis

from tests.conftest import ROOT, free_port

# Longest wait for a server to start or stop, and for one `manage.py` command.
START_SECONDS = 30
COMMAND_SECONDS = 120
PG_USER = "headroom"


def postgres_bin(name: str) -> str | None:
    """A PostgreSQL server binary: on PATH, else Debian's newest /usr/lib/postgresql/N/bin."""
    found = shutil.which(name)
    if found:
        return found
    versions = glob.glob(f"/usr/lib/postgresql/*/bin/{name}")
    versions.sort(key=lambda path: int(Path(path).parent.parent.name))
    return versions[-1] if versions else None


def missing_servers() -> list[str]:
    """The server binaries this machine lacks (.ci/run installs them)."""
    needed = {"initdb": postgres_bin("initdb"), "redis-server": shutil.which("redis-server")}
    return [name for name, path in needed.items() if path is None]


@contextmanager
def private_servers() -> Iterator[tuple[PostgresCluster, RedisServer]]:
    """A PostgreSQL cluster and a Redis server, both stopped and removed on the way out."""
    cluster = start_postgres()
    try:
        cache = start_redis()
    except BaseException:
        cluster.stop()
        raise
    try:
        yield cluster, cache
    finally:
        try:
            cache.stop()
        finally:
            cluster.stop()


def _as_cluster_owner(command: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; root hands the cluster to the `postgres` system user.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


@dataclass
class PostgresCluster:
    directory: Path
    port: int

    def url(self, database: str) -> str:
        return f"postgres://{PG_USER}@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(self.url(database).replace("postgres://", "postgresql://"))

    def create_database(self, name: str) -> str:
        """A new empty database; returns its DATABASE_URL."""
        with self.connect() as conn:
            conn.autocommit = True
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def halt(self) -> None:
        """Stop the server as a restart does, cutting every session; `resume` starts it again.
        (Fast, not immediate: this cluster runs without synchronous commit, so an immediate stop
        could lose transactions it had already acknowledged.)"""
        _run(
            _as_cluster_owner([str(postgres_bin("pg_ctl")), "-D", str(self.directory)])
            + ["-m", "fast", "-w", "-t", str(START_SECONDS), "stop"]
        )

    def resume(self) -> None:
        _pg_start(self.directory, self.port)

    def stop(self) -> None:
        pg_ctl = postgres_bin("pg_ctl")
        try:
            subprocess.run(
                _as_cluster_owner([str(pg_ctl), "-D", str(self.directory), "-m", "immediate"])
                + ["-w", "-t", str(START_SECONDS), "stop"],
                capture_output=True,
                timeout=START_SECONDS + 5,
            )
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)


def start_postgres() -> PostgresCluster:
    """initdb and start a cluster in a fresh temporary directory, trusting local connections."""
    # Not under pytest's tmp_path: its parent is private to root, and the cluster runs as postgres.
    directory = Path(tempfile.mkdtemp(prefix="headroom-pg-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(directory, owner.pw_uid, owner.pw_gid)
    port = free_port()
    try:
        _run(
            _as_cluster_owner([str(postgres_bin("initdb")), "-D", str(directory)])
            + ["-A", "trust", "-U", PG_USER, "--no-sync"]
        )
        _pg_start(directory, port)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return PostgresCluster(directory, port)


def _pg_start(directory: Path, port: int) -> None:
    # Durability is of no use to a throwaway test cluster; skipping fsync spares the disk.
    options = (
        f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    )
    _run(
        _as_cluster_owner([str(postgres_bin("pg_ctl")), "-D", str(directory)])
        + ["-l", str(directory / "server.log"), "-o", options, "-w"]
        + ["-t", str(START_SECONDS), "start"]
    )


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=START_SECONDS + 5)
    if done.returncode != 0:
        raise RuntimeError(f"{command[0]} failed ({done.returncode}):\n{done.stdout}{done.stderr}")


@dataclass
class RedisServer:
    process: subprocess.Popen
    port: int
    directory: Path

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        shutil.rmtree(self.directory, ignore_errors=True)


def start_redis() -> RedisServer:
    """A redis-server that keeps nothing on disk, answering PING before this returns."""
    directory = Path(tempfile.mkdtemp(prefix="headroom-redis-"))
    port = free_port()
    with (directory / "redis.log").open("wb") as log:
        process = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
            + ["--appendonly", "no", "--dir", str(directory)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = RedisServer(process, port, directory)
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if redis.Redis(port=port, socket_timeout=1).ping():
                return server
        except redis.ConnectionError:
            time.sleep(0.05)
    log_text = (directory / "redis.log").read_text(errors="replace")
    server.stop()
    raise RuntimeError(f"redis-server did not start:\n{log_text}")


def command_env(settings: dict[str, str]) -> dict[str, str]:
    """The environment of a `manage.py` subprocess: these settings, and no credentials."""
    env = {key: value for key, value in os.environ.items() if not key.endswith("_KEY")}
    env.update(DJANGO_SETTINGS_MODULE="headroom_site.settings", **settings)
    return env


def manage(
    settings: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `manage.py ARGS` with these settings; raises with its output if it fails."""
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=command_env(settings),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=COMMAND_SECONDS,
    )
    if done.returncode != 0:
        raise AssertionError(f"manage.py {args[0]} failed:\n{done.stdout}{done.stderr}")
    return done


# The dashboard's figures for the last 24 hours, as the page computes them from the rollup.
STATS_SCRIPT = """
import json
from dashboard import stats
filters = stats.parse_filters({"range": "24h"})
week = stats.parse_filters({"range": "7d"})
page = stats.build(filters)
head = page.headline
models = next(b for b in page.breakdowns if b.dimension == "model")
teams = next(b for b in page.breakdowns if b.dimension == "team")
print(json.dumps({
    "start": filters.range.start.isoformat(),
    "end": filters.range.end.isoformat(),
    "headline": [head.requests, head.errors, head.input_tokens, head.output_tokens,
                 str(head.spend), head.unpriced_requests],
    "series_requests": sum(point.measures.requests for point in page.series),
    "week": [week.range.start.isoformat(), week.range.end.isoformat(),
             sum(m.requests for m in stats.bucketed(week).values())],
    "models": {line.key: [line.figures.requests, str(line.figures.spend)] for line in models.lines},
    "teams": {line.key: line.figures.requests for line in teams.lines},
}))
"""


def dashboard_figures(settings: dict[str, str]) -> dict:
    """STATS_SCRIPT's figures, computed by a `manage.py shell` with these settings."""
    return json.loads(manage(settings, "shell", "--no-imports", "-c", STATS_SCRIPT).stdout)


# deploy/nginx/headroom.conf, served by Debian's nginx from a private prefix.

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
SITE_FILE = ROOT / "deploy" / "nginx" / "headroom.conf"

NGINX_CONF = """\
{user}
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections {connections}; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {prefix}/headroom.conf;
}}
"""


def self_signed(prefix: Path) -> tuple[Path, Path]:
    """A day's certificate for 127.0.0.1 and its key, made by the openssl command."""
    cert, key = prefix / "cert.pem", prefix / "key.pem"
    _run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
        + ["-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1"]
        + ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
    )
    return cert, key


def render_site(prefix: Path, http_port: int, https_port: int, gateway_port: int) -> str:
    """The shipped site file with loopback ports and the test certificate; every replaced line
    must be there, so a change to the file that this test would miss fails it instead."""
    cert, key = self_signed(prefix)
    text = SITE_FILE.read_text()
    replacements = {
        "    listen [::]:80;\n": "",
        "    listen [::]:443 ssl http2;\n": "",
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
        "/etc/letsencrypt/live/gateway.example.com/fullchain.pem": str(cert),
        "/etc/letsencrypt/live/gateway.example.com/privkey.pem": str(key),
        "server 127.0.0.1:8787;": f"server 127.0.0.1:{gateway_port};",
    }
    for old, new in replacements.items():
        assert old in text, f"{SITE_FILE.name} no longer has {old!r}"
        text = text.replace(old, new)
    return text


def start_nginx(
    prefix: Path, site: str, https_port: int, connections: int = 256
) -> subprocess.Popen:
    """nginx serving `site` from `prefix`, answering on https_port before this returns."""
    (prefix / "headroom.conf").write_text(site)
    # As root, nginx's workers would switch to `nobody`, who cannot read this private prefix.
    user = "user root root;" if os.geteuid() == 0 else ""
    conf = NGINX_CONF.format(prefix=prefix, user=user, connections=connections)
    (prefix / "nginx.conf").write_text(conf)
    command = [str(NGINX), "-e", str(prefix / "error.log"), "-p", str(prefix)]
    command += ["-c", str(prefix / "nginx.conf"), "-g", "daemon off;"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        try:
            httpx.get(f"https://127.0.0.1:{https_port}/healthz", verify=False, timeout=1)
            return process
        except httpx.TransportError:
            time.sleep(0.05)
    stop_nginx(process)
    raise RuntimeError(f"nginx did not start:\n{(prefix / 'error.log').read_text()}")


def stop_nginx(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)
