"""Writes the compression corpus: realistic tool outputs of an imaginary billing service.

The files are committed; this script documents how they were made and rebuilds them the same
way (fixed seed): `python tests/data/compression/make_corpus.py`.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
rng = random.Random(20240617)

FIRST = [
    "ada",
    "alan",
    "grace",
    "linus",
    "margaret",
    "ken",
    "barbara",
    "dennis",
    "frances",
    "edsger",
    "donald",
    "radia",
]
LAST = [
    "lovelace",
    "turing",
    "hopper",
    "torvalds",
    "hamilton",
    "thompson",
    "liskov",
    "ritchie",
    "allen",
    "dijkstra",
]
MODULES = [
    "billing/invoices.py",
    "billing/tax.py",
    "billing/payments.py",
    "accounts/models.py",
    "accounts/views.py",
    "webhooks/dispatch.py",
    "exports/csv.py",
    "api/serializers.py",
    "api/pagination.py",
    "core/settings.py",
]
START = datetime(2024, 6, 17, 9, 0, 0, tzinfo=UTC)


def stamp(seconds: float) -> str:
    return (START + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def sha() -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(40))


def person() -> tuple[str, str]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    return f"{first.title()} {last.title()}", f"{first}.{last}@example.com"


# JSON API responses -------------------------------------------------------------------------


def api_customers() -> str:
    customers = []
    for index in range(240):
        name, email = person()
        customer = {
            "id": f"cus_{100000 + index}",
            "object": "customer",
            "name": name,
            "email": email,
            "created": 1718600000 + index * 3571,
            "currency": "eur",
            "balance": 0,
            "delinquent": False,
            "address": {
                "line1": f"{rng.randint(1, 200)} Market Street",
                "city": rng.choice(["Berlin", "Paris", "Lisbon", "Dublin"]),
                "country": rng.choice(["DE", "FR", "PT", "IE"]),
                "postal_code": f"{rng.randint(10000, 99999)}",
            },
            "metadata": {"plan": rng.choice(["starter", "team", "business"])},
        }
        if index in (37, 151):
            customer["delinquent"] = True
            customer["balance"] = -rng.randint(5000, 90000)
        if index == 88:
            customer["error"] = {"code": "card_declined", "message": "Your card was declined."}
        customers.append(customer)
    page = {"object": "list", "url": "/v1/customers", "has_more": True, "data": customers}
    return json.dumps(page, indent=2)


def github_runs() -> str:
    runs = []
    for index in range(160):
        conclusion = "failure" if index in (12, 13, 97) else "success"
        if index == 140:
            conclusion = "cancelled"
        started = 86400 * 3 - index * 1650
        runs.append(
            {
                "id": 9512000000 + index * 17,
                "name": rng.choice(["CI", "CI", "Deploy staging"]),
                "head_branch": rng.choice(["main", "main", "feature/tax-rules", "fix/webhooks"]),
                "head_sha": sha(),
                "run_number": 4211 - index,
                "event": rng.choice(["push", "pull_request"]),
                "status": "completed",
                "conclusion": conclusion,
                "created_at": stamp(started),
                "updated_at": stamp(started + rng.randint(240, 420)),
                "run_attempt": 1,
                "html_url": f"https://github.example/acme/billing/actions/runs/{9512 + index}",
            }
        )
    return json.dumps({"total_count": 4211, "workflow_runs": runs}, indent=2)


def k8s_pods() -> str:
    pods = []
    for index in range(120):
        phase, restarts, reason = "Running", 0, None
        if index in (23, 24):
            phase, restarts, reason = "Failed", 7, "CrashLoopBackOff"
        if index == 71:
            restarts = 41  # a restart count far from the rest
        pod = {
            "name": f"billing-worker-7d9f8c6b5-{index:05x}",
            "namespace": "billing",
            "node": f"node-pool-a-{rng.randint(1, 12)}",
            "phase": phase,
            "ready": phase == "Running",
            "restarts": restarts,
            "cpu_millicores": rng.randint(80, 140),
            "memory_mib": rng.randint(210, 260),
            "started_at": stamp(index * 60),
        }
        if reason:
            pod["reason"] = reason
        pods.append(pod)
    return json.dumps({"kind": "PodList", "items": pods}, indent=4)


def search_hits() -> str:
    hits = []
    for index in range(150):
        hits.append(
            {
                "_index": "invoices-2024.06",
                "_id": f"inv_{rng.randint(10**7, 10**8)}",
                "_score": round(12.5 - index * 0.05, 3),
                "_source": {
                    "number": f"INV-2024-{index + 1042:05d}",
                    "customer": f"cus_{rng.randint(100000, 100239)}",
                    "amount_cents": rng.randint(900, 49000),
                    "status": "paid" if index not in (19, 64) else "payment_failed",
                    "issued": stamp(index * 3600)[:10],
                },
            }
        )
    body = {"took": 14, "timed_out": False, "hits": {"total": {"value": 1873}, "hits": hits}}
    return json.dumps(body, indent=2)


# Test runner, package installs, builds --------------------------------------------------------


def pytest_output() -> str:
    lines = [
        "=" * 29 + " test session starts " + "=" * 30,
        "platform linux -- Python 3.11.7, pytest-8.3.2, pluggy-1.5.0 -- /srv/app/.venv/bin/python",
        "cachedir: .pytest_cache",
        "django: version: 5.0.6, settings: billing.settings (from ini)",
        "rootdir: /srv/app",
        "configfile: pyproject.toml",
        "plugins: django-4.8.0, hypothesis-6.108.5, xdist-3.6.1",
        "collecting ... collected 412 items",
        "",
    ]
    tests = []
    for module in MODULES:
        stem = "tests/test_" + module.split("/")[1].removesuffix(".py") + ".py"
        for number in range(41):
            tests.append(f"{stem}::test_{module.split('/')[0]}_case_{number:02d}")
    failing = {tests[33], tests[190]}
    for position, test in enumerate(tests):
        outcome = "FAILED" if test in failing else "PASSED"
        percent = f"[{int(100 * (position + 1) / len(tests)):3d}%]"
        lines.append(f"{test} {outcome}".ljust(72) + f" {percent}")
    lines.append("tests/test_exports.py::test_csv_export ERROR".ljust(72) + " [100%]")
    lines += [
        "",
        "=" * 20 + " ERRORS " + "=" * 20,
        "_" * 15 + " ERROR at setup of test_csv_export " + "_" * 15,
        "",
        "    @pytest.fixture",
        "    def export_job(db):",
        ">       return ExportJob.objects.create(kind='csv')",
        "",
        "tests/test_exports.py:14: ",
        "E   django.db.utils.OperationalError: no such table: exports_job",
        "",
        "=" * 20 + " FAILURES " + "=" * 20,
        "_" * 15 + f" {tests[33].split('::')[1]} " + "_" * 15,
        "",
        "    def test_billing_case_33():",
        "        invoice = make_invoice(country='DE', lines=[100, 250])",
        '>       assert invoice.total == Decimal("416.50")',
        "E       AssertionError: assert Decimal('414.00') == Decimal('416.50')",
        "E        +  where Decimal('414.00') = <Invoice #17>.total",
        "",
        "tests/test_tax.py:88: AssertionError",
        "----------------------------- Captured log call ------------------------------",
        "WARNING  billing.tax:tax.py:61 no VAT rate cached for DE, using fallback 19%",
        "_" * 15 + f" {tests[190].split('::')[1]} " + "_" * 15,
        "",
        "Traceback (most recent call last):",
        '  File "/srv/app/webhooks/dispatch.py", line 77, in deliver',
        "    response = client.post(endpoint.url, json=payload, timeout=5)",
        '  File "/srv/app/.venv/lib/python3.11/site-packages/httpx/_client.py", line 1145, in post',
        "    return self.request(",
        '  File "/srv/app/.venv/lib/python3.11/site-packages/httpx/_transports/default.py", '
        "line 232, in handle_request",
        "    with map_httpcore_exceptions():",
        "httpx.ReadTimeout: timed out",
        "",
        "During handling of the above exception, another exception occurred:",
        "",
        "    def test_webhooks_case_26(httpx_mock):",
        ">       dispatch.deliver(event_id=991)",
        "E       webhooks.errors.DeliveryFailed: endpoint https://hooks.example/acme timed out",
        "",
        "tests/test_dispatch.py:52: DeliveryFailed",
        "=" * 20 + " short test summary info " + "=" * 20,
        f"FAILED {tests[33]} - AssertionError: assert Decimal('414.00') == Decimal('416.50')",
        f"FAILED {tests[190]} - webhooks.errors.DeliveryFailed: endpoint timed out",
        "ERROR tests/test_exports.py::test_csv_export - django.db.utils.OperationalError",
        "=" * 12 + " 2 failed, 408 passed, 1 skipped, 1 error in 48.31s " + "=" * 12,
    ]
    return "\n".join(lines) + "\n"


def pip_install() -> str:
    packages = [
        ("Django", "5.0.6"),
        ("asgiref", "3.8.1"),
        ("sqlparse", "0.5.0"),
        ("httpx", "0.27.0"),
        ("httpcore", "1.0.5"),
        ("h11", "0.14.0"),
        ("anyio", "4.4.0"),
        ("sniffio", "1.3.1"),
        ("idna", "3.7"),
        ("certifi", "2024.6.2"),
        ("celery", "5.4.0"),
        ("kombu", "5.3.7"),
        ("billiard", "4.2.0"),
        ("vine", "5.1.0"),
        ("redis", "5.0.6"),
        ("psycopg", "3.1.19"),
        ("psycopg-binary", "3.1.19"),
        ("stripe", "9.12.0"),
        ("requests", "2.32.3"),
        ("urllib3", "2.2.2"),
        ("charset-normalizer", "3.3.2"),
        ("pydantic", "2.7.4"),
        ("pydantic-core", "2.18.4"),
        ("typing-extensions", "4.12.2"),
        ("annotated-types", "0.7.0"),
        ("gunicorn", "22.0.0"),
        ("packaging", "24.1"),
        ("python-dateutil", "2.9.0.post0"),
        ("six", "1.16.0"),
        ("tzdata", "2024.1"),
        ("click", "8.1.7"),
        ("prompt-toolkit", "3.0.47"),
        ("wcwidth", "0.2.13"),
        ("sentry-sdk", "2.5.1"),
        ("structlog", "24.2.0"),
        ("boto3", "1.34.127"),
        ("botocore", "1.34.127"),
        ("jmespath", "1.0.1"),
        ("s3transfer", "0.10.1"),
        ("openpyxl", "3.1.4"),
        ("et-xmlfile", "1.1.0"),
    ]
    lines = ["Looking in indexes: https://pypi.example/simple"]
    for name, version in packages:
        wheel = f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
        size = rng.randint(20, 9000)
        lines.append(f"Collecting {name}=={version} (from -r requirements.txt (line 4))")
        lines.append(f"  Downloading {wheel}.metadata ({rng.randint(2, 9)}.{rng.randint(0, 9)} kB)")
        lines.append(f"  Downloading {wheel} ({size} kB)")
        filled = 40
        lines.append(
            "     "
            + "\u2501" * filled
            + f" {size}.0/{size}.0 kB {rng.randint(2, 40)}.{rng.randint(0, 9)} MB/s eta 0:00:00"
        )
    for name, version in packages[:12]:
        lines.append(
            f"Requirement already satisfied: {name.lower()}>={version.split('.')[0]}.0 in "
            f"/srv/app/.venv/lib/python3.11/site-packages (from celery==5.4.0) ({version})"
        )
    lines += [
        "Building wheels for collected packages: crcmod",
        "  Building wheel for crcmod (setup.py) ... done",
        "  Created wheel for crcmod: filename=crcmod-1.7-cp311-cp311-linux_x86_64.whl size=31457",
        "  Stored in directory: /root/.cache/pip/wheels/4a/6f/4e/9f",
        "Successfully built crcmod",
        "Installing collected packages: " + ", ".join(name for name, _ in reversed(packages)),
        "  Attempting uninstall: urllib3",
        "    Found existing installation: urllib3 1.26.18",
        "    Uninstalling urllib3-1.26.18:",
        "      Successfully uninstalled urllib3-1.26.18",
        "ERROR: pip's dependency resolver does not currently take into account all the packages "
        "that are installed. This behaviour is the source of the following dependency conflicts.",
        'botocore 1.34.127 requires urllib3<1.27,>=1.25.4; python_version < "3.10", but you have '
        "urllib3 2.2.2 which is incompatible.",
        "Successfully installed " + " ".join(f"{n}-{v}" for n, v in packages),
        "WARNING: Running pip as the 'root' user can result in broken permissions and conflicting "
        "behaviour with the system package manager.",
    ]
    return "\n".join(lines) + "\n"


def npm_install() -> str:
    names = [
        "react",
        "react-dom",
        "scheduler",
        "loose-envify",
        "js-tokens",
        "next",
        "@next/env",
        "styled-jsx",
        "postcss",
        "nanoid",
        "picocolors",
        "source-map-js",
        "caniuse-lite",
        "@swc/helpers",
        "tslib",
        "busboy",
        "streamsearch",
        "graceful-fs",
        "typescript",
        "eslint",
        "@eslint/js",
        "ajv",
        "fast-deep-equal",
        "json-schema-traverse",
        "uri-js",
        "punycode",
        "chalk",
        "ansi-styles",
        "supports-color",
        "has-flag",
        "debug",
        "ms",
        "glob",
        "minimatch",
        "brace-expansion",
        "balanced-match",
        "concat-map",
        "inflight",
        "once",
        "wrappy",
        "rimraf",
        "semver",
        "lru-cache",
        "yallist",
        "zod",
        "axios",
        "follow-redirects",
        "form-data",
        "asynckit",
        "combined-stream",
        "delayed-stream",
        "mime-types",
        "mime-db",
        "proxy-from-env",
        "date-fns",
        "clsx",
        "tailwindcss",
    ]
    lines = []
    for index in range(600):
        name = names[index % len(names)]
        version = f"{rng.randint(0, 18)}.{rng.randint(0, 30)}.{rng.randint(0, 20)}"
        cache = rng.choice(["(cache hit)", "(cache revalidated)", "(cache miss)"])
        lines.append(
            f"npm http fetch GET 200 https://registry.npmjs.example/{name}/-/"
            f"{name.split('/')[-1]}-{version}.tgz {rng.randint(3, 400)}ms {cache}"
        )
        if index % 97 == 5:
            lines.append(
                f"npm warn deprecated {name}@{version}: This module is not supported, and leaks "
                "memory. Do not use it."
            )
    lines += [
        "npm warn deprecated rimraf@3.0.2: Rimraf versions prior to v4 are no longer supported",
        "npm warn deprecated glob@7.2.3: Glob versions prior to v9 are no longer supported",
        "",
        "added 1287 packages, and audited 1288 packages in 41s",
        "",
        "214 packages are looking for funding",
        "  run `npm fund` for details",
        "",
        "3 vulnerabilities (1 moderate, 2 high)",
        "",
        "To address all issues, run:",
        "  npm audit fix",
    ]
    return "\n".join(lines) + "\n"


def cargo_build() -> str:
    crates = [
        "proc-macro2 v1.0.85",
        "unicode-ident v1.0.12",
        "libc v0.2.155",
        "cfg-if v1.0.0",
        "autocfg v1.3.0",
        "once_cell v1.19.0",
        "memchr v2.7.4",
        "itoa v1.0.11",
        "quote v1.0.36",
        "syn v2.0.66",
        "serde v1.0.203",
        "serde_derive v1.0.203",
        "serde_json v1.0.117",
        "ryu v1.0.18",
        "bytes v1.6.0",
        "pin-project-lite v0.2.14",
        "tokio v1.38.0",
        "tokio-macros v2.3.0",
        "mio v0.8.11",
        "socket2 v0.5.7",
        "futures-core v0.3.30",
        "futures-util v0.3.30",
        "slab v0.4.9",
        "http v1.1.0",
        "httparse v1.9.3",
        "hyper v1.3.1",
        "tower v0.4.13",
        "tower-service v0.3.2",
        "axum v0.7.5",
        "axum-core v0.4.3",
        "tracing v0.1.40",
        "tracing-core v0.1.32",
        "regex v1.10.5",
        "regex-syntax v0.8.4",
        "aho-corasick v1.1.3",
        "sqlx v0.7.4",
        "sqlx-core v0.7.4",
        "sqlx-postgres v0.7.4",
        "chrono v0.4.38",
        "uuid v1.8.0",
    ]
    # CARGO_TERM_COLOR=always, as CI logs often have it: bold green verbs, bold yellow/red labels.
    green, yellow, red, bold, reset = (
        "\x1b[1m\x1b[32m",
        "\x1b[1m\x1b[33m",
        "\x1b[1m\x1b[31m",
        "\x1b[1m",
        "\x1b[0m",
    )
    lines = []
    for round_ in range(4):
        for crate in crates:
            verb = "   Compiling" if round_ == 0 else "    Checking"
            lines.append(f"{green}{verb}{reset} {crate}")
    lines += [
        "   Compiling billing-gateway v0.4.0 (/srv/billing-gateway)",
        f"{yellow}warning{reset}{bold}: unused variable: `cfg`{reset}",
        "  --> src/config.rs:42:9",
        "   |",
        "42 |     let cfg = load_defaults();",
        "   |         ^^^ help: if this is intentional, prefix it with an underscore: `_cfg`",
        "   |",
        "   = note: `#[warn(unused_variables)]` on by default",
        "",
        f"{red}error[E0308]{reset}{bold}: mismatched types{reset}",
        "   --> src/handlers/upload.rs:118:24",
        "    |",
        "118 |     let size: u32 = body.len();",
        "    |               ---   ^^^^^^^^^^ expected `u32`, found `usize`",
        "    |               |",
        "    |               expected due to this",
        "",
        "error[E0599]: no method named `total_cents` found for struct `Invoice` in the current "
        "scope",
        "  --> src/handlers/invoices.rs:64:31",
        "   |",
        "64 |     let amount = invoice.total_cents();",
        "   |                          ^^^^^^^^^^^ method not found in `Invoice`",
        "",
        "Some errors have detailed explanations: E0308, E0599.",
        "For more information about an error, try `rustc --explain E0308`.",
        'warning: `billing-gateway` (bin "billing-gateway") generated 1 warning',
        'error: could not compile `billing-gateway` (bin "billing-gateway") due to 2 previous '
        "errors; 1 warning emitted",
    ]
    return "\n".join(lines) + "\n"


def make_gcc() -> str:
    sources = [
        f"src/{name}.c"
        for name in (
            "main",
            "net",
            "http",
            "parser",
            "buffer",
            "hash",
            "list",
            "log",
            "config",
            "tls",
            "timer",
            "pool",
            "queue",
            "signal",
            "util",
            "json",
            "base64",
            "sha1",
            "crc32",
            "ring",
        )
    ]
    lines = ["make[1]: Entering directory '/srv/libbill/build'"]
    for step in range(6):
        for index, source in enumerate(sources):
            percent = int(100 * (step * len(sources) + index) / (6 * len(sources)))
            target = source.replace("src/", "").replace(".c", f"_{step}.o")
            lines.append(f"[{percent:3d}%] Building C object CMakeFiles/bill.dir/{target}")
            lines.append(
                f"/usr/bin/cc -DNDEBUG -I/srv/libbill/include -O2 -Wall -Wextra -std=c11 "
                f"-o CMakeFiles/bill.dir/{target} -c /srv/libbill/{source}"
            )
    lines += [
        "/srv/libbill/src/net.c: In function 'net_accept':",
        "/srv/libbill/src/net.c:212:17: warning: comparison of integer expressions of different "
        "signedness: 'int' and 'size_t' [-Wsign-compare]",
        "  212 |     if (received < expected) {",
        "      |                  ^",
        "/srv/libbill/src/json.c:88:5: error: implicit declaration of function 'json_free_tree' "
        "[-Wimplicit-function-declaration]",
        "   88 |     json_free_tree(root);",
        "      |     ^~~~~~~~~~~~~~",
        "make[2]: *** [CMakeFiles/bill.dir/build.make:216: CMakeFiles/bill.dir/json_5.o] Error 1",
        "make[1]: *** [CMakeFiles/Makefile2:83: CMakeFiles/bill.dir/all] Error 2",
        "make: *** [Makefile:136: all] Error 2",
    ]
    return "\n".join(lines) + "\n"


# Search and git ------------------------------------------------------------------------------


def ripgrep() -> str:
    snippets = [
        "def total(self) -> Decimal:",
        "    return sum(line.amount for line in self.lines)",
        "from billing.tax import vat_rate",
        "    rate = vat_rate(country)",
        'logger.info("invoice %s finalized", invoice.pk)',
        "    invoice.total = invoice.subtotal * (1 + rate)",
        "class InvoiceSerializer(serializers.ModelSerializer):",
        "    total = serializers.DecimalField(max_digits=12, decimal_places=2)",
    ]
    lines = []
    for module in MODULES * 4:
        for _ in range(rng.randint(6, 14)):
            lines.append(f"{module}:{rng.randint(1, 900)}:{rng.choice(snippets)}")
    lines.append('billing/payments.py:311:    raise PaymentError("total mismatch")')
    return "\n".join(lines) + "\n"


def git_log() -> str:
    subjects = [
        "Round VAT per line, not per invoice",
        "Retry webhook deliveries with jittered backoff",
        "Add CSV export of paid invoices",
        "Bump httpx to 0.27",
        "Fix flaky test_webhooks_case_26",
        "Paginate customer list with cursors",
        "Store card decline codes on the payment",
        "Drop unused settings",
    ]
    chunks = []
    for index in range(140):
        name, email = person()
        when = (START - timedelta(hours=index * 7)).strftime("%a %b %d %H:%M:%S %Y +0200")
        subject = rng.choice(subjects)
        chunks.append(
            f"commit {sha()}\nAuthor: {name} <{email}>\nDate:   {when}\n\n    {subject}\n\n"
            f"    Reviewed-by: {person()[0]}\n"
        )
    return "\n".join(chunks)


def git_diff() -> str:
    hunks = []
    for module in MODULES[:6]:
        hunks.append(
            f"diff --git a/{module} b/{module}\n"
            f"index {sha()[:7]}..{sha()[:7]} 100644\n--- a/{module}\n+++ b/{module}\n"
        )
        for start in (12, 80, 140):
            body = [f"@@ -{start},7 +{start},8 @@ def handler(request):"]
            body += [f"     context_line_{n} = compute({n})" for n in range(3)]
            body += [
                "-    total = subtotal * rate",
                "+    total = round_half_even(subtotal * rate)",
            ]
            body += ['+    logger.debug("total %s", total)']
            body += [f"     trailing_line_{n} = compute({n})" for n in range(3)]
            hunks.append("\n".join(body) + "\n")
    return "".join(hunks)


# Stack traces ----------------------------------------------------------------------------------


def java_trace() -> str:
    lines = [
        "2024-06-17 09:14:02.118 ERROR 1 --- [nio-8080-exec-7] o.a.c.c.C.[.[.[/]."
        "[dispatcherServlet]    : Servlet.service() for servlet [dispatcherServlet] threw "
        "exception",
        "org.springframework.dao.DataIntegrityViolationException: could not execute statement; "
        "SQL [n/a]; constraint [invoices_number_key]",
    ]
    frames = [
        "org.springframework.orm.jpa.vendor.HibernateJpaDialect.convertHibernateAccessException",
        "org.springframework.orm.jpa.JpaTransactionManager.doCommit",
        "org.springframework.transaction.support.AbstractPlatformTransactionManager.commit",
        "org.springframework.aop.framework.ReflectiveMethodInvocation.proceed",
        "org.springframework.transaction.interceptor.TransactionInterceptor.invoke",
        "com.acme.billing.invoices.InvoiceService.finalize",
        "com.acme.billing.invoices.InvoiceController.finalize",
        "jdk.internal.reflect.DirectMethodHandleAccessor.invoke",
        "org.springframework.web.servlet.DispatcherServlet.doDispatch",
        "org.apache.catalina.core.ApplicationFilterChain.doFilter",
        "org.apache.tomcat.util.threads.ThreadPoolExecutor.runWorker",
    ]
    for number in range(60):
        frame = frames[number % len(frames)]
        lines.append(f"\tat {frame}({frame.split('.')[-2]}.java:{100 + number * 7})")
    lines.append(
        "Caused by: org.postgresql.util.PSQLException: ERROR: duplicate key value violates "
        'unique constraint "invoices_number_key"'
    )
    lines.append("  Detail: Key (number)=(INV-2024-01077) already exists.")
    for number in range(30):
        frame = frames[number % 4]
        lines.append(f"\tat {frame}({frame.split('.')[-2]}.java:{40 + number})")
    lines.append("\t... 87 common frames omitted")
    access = [
        f"2024-06-17 09:14:{second:02d}.{rng.randint(0, 999):03d}  INFO 1 --- [nio-8080-exec-"
        f"{rng.randint(1, 9)}] c.a.b.web.AccessLog : GET /api/invoices?page={second} 200 "
        f"{rng.randint(3, 60)}ms"
        for second in range(3, 59)
    ]
    return "\n".join(access[:30] + lines + access[30:]) + "\n"


def app_log() -> str:
    lines = []
    for index in range(900):
        second = index * 0.8
        level = "INFO"
        message = (
            f"worker-{index % 4} processed batch {index} of invoice events in "
            f"{rng.randint(8, 60)} ms"
        )
        if index % 150 == 77:
            level, message = "WARNING", f"stripe rate limited, retrying in {rng.randint(1, 4)}s"
        if index == 612:
            level, message = "ERROR", "payment pi_3PSm2 failed: card_declined (insufficient_funds)"
        lines.append(f"{stamp(second)} {level:7} billing.events {message}")
        if index == 612:
            lines += [
                "Traceback (most recent call last):",
                '  File "/srv/app/billing/payments.py", line 141, in capture',
                "    intent = stripe.PaymentIntent.capture(intent_id)",
                '  File "/srv/app/.venv/lib/python3.11/site-packages/stripe/_payment_intent.py", '
                "line 1022, in capture",
                "    return cls._static_request(",
                "stripe._error.CardError: Request req_8f2: Your card has insufficient funds.",
            ]
        if index % 50 == 10:
            lines += ["GET /healthz 200"] * 6
    return "\n".join(lines) + "\n"


CORPUS: dict[str, Callable[[], str]] = {
    "json/api_customers.json": api_customers,
    "json/github_runs.json": github_runs,
    "json/k8s_pods.json": k8s_pods,
    "json/search_hits.json": search_hits,
    "logs/pytest_failures.txt": pytest_output,
    "logs/pip_install.txt": pip_install,
    "logs/npm_install.txt": npm_install,
    "logs/cargo_build.txt": cargo_build,
    "logs/make_gcc.txt": make_gcc,
    "logs/app_service.log": app_log,
    "search/ripgrep.txt": ripgrep,
    "git/git_log.txt": git_log,
    "git/git_diff.txt": git_diff,
    "traces/java_spring.txt": java_trace,
}


def main() -> None:
    for name, make in CORPUS.items():
        path = HERE / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(make(), encoding="utf-8")


if __name__ == "__main__":
    main()
